/*-------------------------------------------------------------------------
 *
 * progress.c
 *		  Live progress of every backend's running scan, in shared memory,
 *		  shown by the gc_fdw.progress view.
 *
 * When gc_fdw is in shared_preload_libraries it reserves one slot per
 * backend (indexed by BackendId).  A backend writes only its own slot: the
 * foreign table and window being read, pages, rows and requests so far,
 * and what it is waiting on (an HTTP exchange, a Retry-After, a backoff, a
 * job poll) until when.  Readers copy a slot under a change counter, as
 * pg_stat_activity does, so neither side ever takes a lock.  Without the
 * preload every call here is a no-op and the view says how to enable it.
 *
 * A slot is cleared when its scan ends, when the (sub)transaction that ran
 * it ends, and when the backend exits, so an error never leaves a ghost.
 *
 * Must not: ereport or allocate while a slot is being written (the change
 * counter would stay odd), or store anything secret: table, server, window
 * and endpoint paths only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid_d.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "gc_fdw.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#define GC_PROGRESS_TABLE_LEN	(2 * NAMEDATALEN + 2)
#define GC_PROGRESS_WAIT_LEN	128
#define GC_PROGRESS_COLUMNS		14

typedef struct GcProgressSlot
{
	uint32		changecount;	/* odd while being written */
	int			pid;			/* 0: no scan running */
	Oid			userid;
	Oid			dbid;
	uint64		scan_id;		/* which of the backend's scans it shows */
	char		table[GC_PROGRESS_TABLE_LEN];	/* "schema.table" */
	char		server[NAMEDATALEN];
	TimestampTz scan_started;
	TimestampTz window_start;
	TimestampTz window_end;
	int64		windows;
	int64		pages;
	int64		rows;
	int64		requests;
	char		waiting_on[GC_PROGRESS_WAIT_LEN];	/* "" when not waiting */
	TimestampTz wait_until;		/* 0 = unknown */
} GcProgressSlot;

typedef struct GcProgressShared
{
	int			nslots;
	GcProgressSlot slots[FLEXIBLE_ARRAY_MEMBER];
} GcProgressShared;

static GcProgressShared *gc_progress = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool gc_exit_hook_set = false;
static uint64 gc_scan_seq = 0;
static uint64 gc_current_scan = 0;	/* scan the slot shows, 0 if none */

PG_FUNCTION_INFO_V1(gc_fdw_scan_progress);

static Size
progress_size(void)
{
	return add_size(offsetof(GcProgressShared, slots),
					mul_size(MaxBackends, sizeof(GcProgressSlot)));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(progress_size());
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	gc_progress = ShmemInitStruct("gc_fdw scan progress", progress_size(), &found);
	if (!found)
	{
		memset(gc_progress, 0, progress_size());
		gc_progress->nslots = MaxBackends;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* This backend's slot, or NULL without the preload */
static GcProgressSlot *
my_slot(void)
{
	if (gc_progress == NULL || MyBackendId == InvalidBackendId ||
		MyBackendId < 1 || MyBackendId > gc_progress->nslots)
		return NULL;
	return &gc_progress->slots[MyBackendId - 1];
}

static void
begin_write(GcProgressSlot *slot)
{
	slot->changecount++;
	pg_write_barrier();
}

static void
end_write(GcProgressSlot *slot)
{
	pg_write_barrier();
	slot->changecount++;
}

/* Empty this backend's slot */
static void
clear_slot(void)
{
	GcProgressSlot *slot = my_slot();

	gc_current_scan = 0;
	if (slot == NULL || slot->pid == 0)
		return;
	begin_write(slot);
	slot->pid = 0;
	slot->waiting_on[0] = '\0';
	end_write(slot);
}

static void
progress_exit(int code, Datum arg)
{
	clear_slot();
}

static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		clear_slot();
}

static void
progress_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	/* a scan that failed inside a savepoint or PL/pgSQL exception block */
	if (event == SUBXACT_EVENT_ABORT_SUB)
		clear_slot();
}

/*
 * gc_progress_init
 *		From _PG_init: reserve the slots when preloaded; always clean up at
 *		transaction end.
 */
void
gc_progress_init(void)
{
	RegisterXactCallback(progress_xact_callback, NULL);
	RegisterSubXactCallback(progress_subxact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

/*
 * gc_progress_scan_begin
 *		A scan of rel starts: it takes over this backend's slot.  Returns
 *		the id later calls pass, so that a nested scan ending does not clear
 *		the one still running.
 */
uint64
gc_progress_scan_begin(Relation rel, const char *server_name)
{
	GcProgressSlot *slot = my_slot();
	char	   *nsp;

	gc_scan_seq++;
	if (slot == NULL)
		return gc_scan_seq;
	if (!gc_exit_hook_set)
	{
		before_shmem_exit(progress_exit, (Datum) 0);
		gc_exit_hook_set = true;
	}
	nsp = get_namespace_name(RelationGetNamespace(rel));

	begin_write(slot);
	slot->pid = MyProcPid;
	slot->userid = GetUserId();
	slot->dbid = MyDatabaseId;
	slot->scan_id = gc_scan_seq;
	snprintf(slot->table, sizeof(slot->table), "%s.%s",
			 nsp ? nsp : "?", RelationGetRelationName(rel));
	strlcpy(slot->server, server_name, sizeof(slot->server));
	slot->scan_started = GetCurrentTimestamp();
	slot->window_start = slot->window_end = 0;
	slot->windows = slot->pages = slot->rows = slot->requests = 0;
	slot->waiting_on[0] = '\0';
	slot->wait_until = 0;
	end_write(slot);
	gc_current_scan = gc_scan_seq;
	return gc_scan_seq;
}

/* The scan moved to a window (start/end 0 for id lookups and users) */
void
gc_progress_window(uint64 scan, TimestampTz start, TimestampTz end, int64 windows)
{
	GcProgressSlot *slot = my_slot();

	if (slot == NULL || scan != gc_current_scan)
		return;
	begin_write(slot);
	slot->window_start = start;
	slot->window_end = end;
	slot->windows = windows;
	end_write(slot);
}

/* Totals after a page */
void
gc_progress_page(uint64 scan, int64 pages, int64 rows, int64 requests)
{
	GcProgressSlot *slot = my_slot();

	if (slot == NULL || scan != gc_current_scan)
		return;
	begin_write(slot);
	slot->pages = pages;
	slot->rows = rows;
	slot->requests = requests;
	end_write(slot);
}

/* The scan ended normally */
void
gc_progress_scan_end(uint64 scan)
{
	if (scan == gc_current_scan)
		clear_slot();
}

/*
 * gc_progress_waiting
 *		The running scan waits on what for up to secs seconds (secs <= 0:
 *		no known end).  A no-op when no scan is shown.
 */
void
gc_progress_waiting(const char *what, double secs)
{
	GcProgressSlot *slot = my_slot();

	if (slot == NULL || gc_current_scan == 0)
		return;
	begin_write(slot);
	strlcpy(slot->waiting_on, what, sizeof(slot->waiting_on));
	slot->wait_until = secs > 0 ?
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) (secs * 1000.0)) : 0;
	end_write(slot);
}

/* The wait is over */
void
gc_progress_waiting_done(void)
{
	GcProgressSlot *slot = my_slot();

	if (slot == NULL || gc_current_scan == 0 || slot->waiting_on[0] == '\0')
		return;
	begin_write(slot);
	slot->waiting_on[0] = '\0';
	slot->wait_until = 0;
	end_write(slot);
}

/* A consistent copy of slot i; false if it shows no live scan */
static bool
read_slot(int i, GcProgressSlot *copy)
{
	volatile GcProgressSlot *slot = &gc_progress->slots[i];

	for (;;)
	{
		uint32		before = slot->changecount;

		pg_read_barrier();
		memcpy(copy, (const void *) slot, sizeof(GcProgressSlot));
		pg_read_barrier();
		if (before == slot->changecount && (before & 1) == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	/* a backend that died without cleaning up shows nothing */
	return copy->pid != 0 && BackendPidGetProc(copy->pid) != NULL;
}

/*
 * gc_fdw_scan_progress
 *		SQL: the rows of the gc_fdw.progress view.  Other roles' scans show
 *		only their pid and role, unless the caller may read all statistics.
 */
Datum
gc_fdw_scan_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		read_all;
	int			i;

	if (gc_progress == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gc_fdw.progress needs gc_fdw in shared_preload_libraries"),
				 errdetail("Scan progress is kept in shared memory, which only a library loaded at server start can reserve."),
				 errhint("Add gc_fdw to shared_preload_libraries in postgresql.conf and restart the server; gc_fdw.stats() works without it.")));

	InitMaterializedSRF(fcinfo, 0);
	read_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	for (i = 0; i < gc_progress->nslots; i++)
	{
		GcProgressSlot s;
		Datum		values[GC_PROGRESS_COLUMNS];
		bool		nulls[GC_PROGRESS_COLUMNS];
		char	   *role;

		if (!read_slot(i, &s))
			continue;
		memset(nulls, true, sizeof(nulls));
		values[0] = Int32GetDatum(s.pid);
		nulls[0] = false;
		role = GetUserNameFromId(s.userid, true);
		if (role)
		{
			values[1] = CStringGetTextDatum(role);
			nulls[1] = false;
		}
		if (read_all || has_privs_of_role(GetUserId(), s.userid))
		{
			char	   *db = get_database_name(s.dbid);

			if (db)
			{
				values[2] = CStringGetTextDatum(db);
				nulls[2] = false;
			}
			values[3] = CStringGetTextDatum(s.table);
			values[4] = CStringGetTextDatum(s.server);
			values[5] = TimestampTzGetDatum(s.scan_started);
			values[6] = TimestampTzGetDatum(s.window_start);
			values[7] = TimestampTzGetDatum(s.window_end);
			values[8] = Int64GetDatum(s.windows);
			values[9] = Int64GetDatum(s.pages);
			values[10] = Int64GetDatum(s.rows);
			values[11] = Int64GetDatum(s.requests);
			values[12] = CStringGetTextDatum(s.waiting_on);
			values[13] = TimestampTzGetDatum(s.wait_until);
			memset(nulls + 3, false, sizeof(bool) * 9);
			nulls[6] = (s.window_start == 0);
			nulls[7] = (s.window_end == 0);
			nulls[12] = (s.waiting_on[0] == '\0');
			nulls[13] = (s.wait_until == 0);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
