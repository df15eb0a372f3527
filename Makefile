# gc_fdw: PostgreSQL foreign data wrapper for the Genesys Cloud CX API.
# Built with PGXS: `make && make install`, tests with `tests/run-tests.sh`.

MODULE_big = gc_fdw
OBJS = \
	src/gc_fdw.o \
	src/option.o \
	src/catalog.o \
	src/catalog_directory.o \
	src/catalog_analytics.o \
	src/conds.o \
	src/deparse.o \
	src/json_parse.o \
	src/json_tuple.o \
	src/scan.o \
	src/read_plan.o \
	src/windows.o \
	src/driver_listing.o \
	src/driver_details.o \
	src/driver_jobs.o \
	src/driver_lookup.o \
	src/join.o \
	src/http.o \
	src/bodies.o \
	src/retry.o \
	src/redact.o \
	src/api.o \
	src/auth.o \
	src/stats.o \
	src/progress.o \
	src/sync.o \
	src/modify.o

EXTENSION = gc_fdw
DATA = gc_fdw--1.0.sql gc_fdw--1.0--1.1.sql
PGFILEDESC = "gc_fdw - foreign data wrapper for Genesys Cloud CX"

# pg_regress suites (run by tests/run-tests.sh with the emulator up)
REGRESS = options users conversations model pushdown jobs errors faults concurrency json modify security sync directory joins user_status
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

# clang: PostgreSQL's CFLAGS are the ones Debian built it with, gcc's; give
# clang the ones that matter for correctness instead.  Its headers mark
# printf-like functions with gcc's "gnu_printf" format, a name clang ignores
# (and says so once per header include): -Wno-ignored-attributes.
# (Set before PGXS is included: its own additions, -fPIC and PG_CFLAGS, are
# overrides that still apply.)
ifneq (,$(findstring clang,$(CC)))
override CFLAGS := -O2 -g -fno-strict-aliasing -fwrapv -fno-omit-frame-pointer \
	-Wno-ignored-attributes $(COPT)
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on the shared header (PGXS tracks no headers: a
# struct changed there must rebuild every file that uses it)
$(OBJS): src/gc_fdw.h
