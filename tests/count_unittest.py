#!/usr/bin/env python3
"""Run a unittest file or directory and record its counts for the summary.

Usage: count_unittest.py SUITE_NAME PATH
Appends "SUITE_NAME passed failed" to $GC_TEST_WORK/counts and exits non-zero
when anything failed or errored, or when no test ran at all.  Prints the
time each module took and the slowest tests, so that the suite's length
(CI must stay under 20 minutes) is watched where it grows.
"""
import collections
import os
import sys
import time
import unittest


class TimedResult(unittest.TextTestResult):
    """A text result that also records how long each test took."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.durations = []
        self.started = None

    def startTest(self, test):
        self.started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.durations.append((time.monotonic() - self.started, test.id()))


def report_durations(name, durations):
    """The modules by time, and the ten slowest tests."""
    modules = collections.Counter()
    for seconds, test_id in durations:
        modules[test_id.split(".")[0]] += seconds
    print("\n== %s: time per module" % name)
    for module, seconds in modules.most_common():
        print("  %7.1f s  %s" % (seconds, module))
    print("== %s: slowest tests" % name)
    for seconds, test_id in sorted(durations, reverse=True)[:10]:
        print("  %7.1f s  %s" % (seconds, test_id))


def main():
    name, path = sys.argv[1], sys.argv[2]
    loader = unittest.TestLoader()
    if os.path.isdir(path):
        suite = loader.discover(path, pattern="test_*.py", top_level_dir=path)
    else:
        directory, filename = os.path.split(os.path.abspath(path))
        suite = loader.discover(directory, pattern=filename, top_level_dir=directory)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout,
                                     resultclass=TimedResult).run(suite)
    report_durations(name, result.durations)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    with open(os.path.join(os.environ["GC_TEST_WORK"], "counts"), "a") as counts:
        counts.write("%s %d %d\n" % (name, passed, failed if result.testsRun else failed + 1))
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
