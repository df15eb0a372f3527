# Plots of the loader benchmark (bench/perf.py writes the .dat files and
# calls this with -e "datadir='...'; imgdir='...'; latency='100'; sweeprows='N';
# parallel='8'").
# Debian's gnuplot-nox: pngcairo.
if (!exists("datadir")) datadir = "bench/results"
if (!exists("imgdir")) imgdir = "docs/img"
if (!exists("latency")) latency = "100"
if (!exists("sweeprows")) sweeprows = ""
if (!exists("parallel")) parallel = "4"

set terminal pngcairo size 900,560 font "sans,11"
set datafile missing "NaN"
set termoption noenhanced
set autoscale xfix
set offsets graph 0.08, graph 0.08, 0, 0
set key top left box opaque
set grid
set logscale x
set format x "%.0s%c"

set output imgdir."/bench-rows-per-second.png"
set title "Loading conversations: rows/s against result size (medians)"
set xlabel "conversations loaded"
set ylabel "rows/s"
set logscale y
set format y "%.0s%c"
plot datadir."/throughput.dat" using 1:5 with linespoints lw 2 pt 1 dt 2 title "curl floor, 1 connection (no database)", \
     ""                        using 1:6 with linespoints lw 2 pt 2 dt 2 title sprintf("curl floor, %s connections (no database)", parallel), \
     ""                        using 1:2 with linespoints lw 3 pt 7 title "gc_fdw INSERT ... SELECT", \
     ""                        using 1:3 with linespoints lw 2 pt 5 title "Python requests + psycopg2", \
     ""                        using 1:4 with linespoints lw 2 pt 9 title "JS SDK + node pg"

set output imgdir."/bench-peak-rss.png"
set title "Peak memory against result size (medians)"
set ylabel "peak resident set, MiB"
unset logscale y
set format y "%g"
set yrange [0:*]
set key at graph 0.98, graph 0.62 right top box opaque
plot datadir."/memory.dat" using 1:2 with linespoints lw 3 pt 7 title "gc_fdw backend, private (RssAnon)", \
     ""                    using 1:3 with linespoints lw 2 pt 6 dt 2 title "gc_fdw backend, VmHWM (incl. shared buffers)", \
     ""                    using 1:4 with linespoints lw 2 pt 5 title "Python loader process", \
     ""                    using 1:5 with linespoints lw 2 pt 9 title "JS loader process"

if (sweeprows ne "") {
    set output imgdir."/bench-concurrency.png"
    set title sprintf("Wall time against concurrency, %s conversations (medians)", sweeprows)
    set xlabel "concurrency (gc_fdw option) / --parallel-max (curl)"
    set ylabel "wall s"
    set logscale x 2
    set format x "%g"
    set key top right box opaque
    plot datadir."/concurrency.dat" using 1:2 with linespoints lw 3 pt 7 title sprintf("gc_fdw, %s ms latency", latency), \
         ""                         using 1:3 with linespoints lw 2 pt 1 dt 2 title sprintf("curl, %s ms latency", latency), \
         ""                         using 1:4 with linespoints lw 3 pt 5 title "gc_fdw, no latency", \
         ""                         using 1:5 with linespoints lw 2 pt 2 dt 2 title "curl, no latency"
}
