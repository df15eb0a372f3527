# gc_fdw: PostgreSQL foreign data wrapper for the Genesys Cloud CX API.
# Built with PGXS: `make && make install`, tests with `tests/run-tests.sh`.

MODULE_big = gc_fdw
OBJS = \
	src/gc_fdw.o \
	src/option.o \
	src/catalog.o \
	src/deparse.o \
	src/json_parse.o \
	src/json_tuple.o \
	src/scan.o \
	src/jobs.o \
	src/http.o \
	src/auth.o \
	src/stats.o \
	src/progress.o \
	src/sync.o \
	src/modify.o

EXTENSION = gc_fdw
DATA = gc_fdw--1.0.sql gc_fdw--1.0--1.1.sql
PGFILEDESC = "gc_fdw - foreign data wrapper for Genesys Cloud CX"

# pg_regress suites (run by tests/run-tests.sh with the emulator up)
REGRESS = options users conversations model pushdown jobs errors faults concurrency json modify security sync
REGRESS_OPTS = --inputdir=. --outputdir=tests/results

# libcurl and json-c, found with pkg-config (curl-config as a fallback)
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null || curl-config --cflags)
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || curl-config --libs)
JSONC_CFLAGS := $(shell pkg-config --cflags json-c)
JSONC_LIBS := $(shell pkg-config --libs json-c)

PG_CPPFLAGS = -I$(srcdir)/src $(CURL_CFLAGS) $(JSONC_CFLAGS)
PG_CFLAGS = -std=gnu11 -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK = $(CURL_LIBS) $(JSONC_LIBS)

EXTRA_CLEAN = tests/results

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on the shared headers (PGXS tracks no headers: a
# struct changed there must rebuild every file that uses it)
$(OBJS): src/gc_fdw.h src/json_parse.h
