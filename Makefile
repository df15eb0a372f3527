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
	src/conds_eval.o \
	src/deparse.o \
	src/json_parse.o \
	src/json_write.o \
	src/json_page.o \
	src/json_tuple.o \
	src/scan.o \
	src/scan_explain.o \
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
# The install script of the current version (default_version in
# gc_fdw.control) is built from the SQL sources, one file per topic, in this
# order; earlier versions' scripts and every update script are written by
# hand (docs/install.md, "Changing the extension's SQL").
EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" gc_fdw.control)
SQL_SOURCES = \
	extension/fdw.sql \
	extension/observability.sql \
	extension/sync_common.sql \
	extension/sync_conversations.sql \
	extension/sync_users.sql \
	extension/sync_user_status.sql \
	extension/sync_directory.sql \
	extension/sync_upgrade.sql
SQL_BUILT = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(sort $(wildcard $(EXTENSION)--*.sql) $(SQL_BUILT))
PGFILEDESC = "gc_fdw - foreign data wrapper for Genesys Cloud CX"

# pg_regress suites (run by tests/run-tests.sh with the emulator up)
REGRESS = options users conversations model pushdown jobs errors faults concurrency json modify security sync sync_status_directory directory joins user_status upgrade
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

# every object depends on the shared headers (PGXS tracks no headers: a
# struct changed there must rebuild every file that uses it)
$(OBJS): src/gc_fdw.h src/gc_http.h src/gc_scan.h src/json_parse.h src/json_rows.h

# the current version's install script, from its sources (committed as
# well; `make sqlcheck` fails when the committed file differs from them)
all: $(SQL_BUILT)

define build_sql
{ printf '/* %s: built by make from extension/ (SQL_SOURCES in the Makefile); edit those, not this file */\n\n' '$(SQL_BUILT)'; \
  printf -- '-- complain if script is sourced in psql, rather than via CREATE EXTENSION\n'; \
  printf '\\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \\quit\n'; \
  for f in $(SQL_SOURCES); do printf '\n'; cat "$$f"; done; }
endef

$(SQL_BUILT): $(SQL_SOURCES) $(EXTENSION).control
	$(build_sql) >$@.tmp && mv $@.tmp $@

sqlcheck:
	@$(build_sql) | diff -u $(SQL_BUILT) - || \
	{ echo "$(SQL_BUILT) differs from its sources: run make and commit it" >&2; exit 1; }

.PHONY: sqlcheck
