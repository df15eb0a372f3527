/*-------------------------------------------------------------------------
 *
 * scan_explain.c
 *		  EXPLAIN of a foreign scan: the read plan (decided here under plain
 *		  EXPLAIN, as the scan would, without calling the API) and, under
 *		  ANALYZE, what the scan cost.
 *
 * Prints the record read_plan.c made (GcReadPlan), never works the read
 * mode out again; the drivers add their own counters through
 * GcDriver.explain.
 *
 * Must not: call the API, or print a value that depends on when or how the
 * query runs under plain EXPLAIN.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/explain.h"
#include "gc_fdw.h"
#include "utils/rel.h"

/*
 * explain_plan
 *		Under plain EXPLAIN, decide the read plan as the scan would when
 *		the conditions' values are constants (a value from now() or a
 *		parameter would make the output depend on when or how it runs),
 *		without calling the API.
 */
static void
explain_plan(ForeignScanState *node, GcScan *scan)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->scan_cxt);
	bool		constant = true;
	ListCell   *lc;

	foreach(lc, scan->conds)
	{
		Expr	   *expr = ((GcPushedCond *) lfirst(lc))->expr;

		if (expr && !IsA(expr, Const))
			constant = false;
	}
	if (constant)
	{
		/* EXPLAIN says nothing of impossible values; the scan would */
		bool		quiet = true;

		gc_evaluate_conds(scan->conds, scan->cond_states, node->ss.ps.ps_ExprContext,
						  RelationGetRelationName(scan->rel), &quiet, &scan->spec);
	}
	gc_read_plan_decide(scan, constant, false);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * explain_params_sent
 *		EXPLAIN ANALYZE: the value each query parameter with a default was
 *		sent with ("Genesys State Sent: any").
 */
static void
explain_params_sent(GcScan *scan, ExplainState *es)
{
	const GcPushableDef *p;
	ListCell   *lc;

	for (p = scan->api->pushables; p && p->field; p++)
	{
		const char *value = p->absent;
		char	   *label;

		if (p->kind != GC_PUSH_PARAM || p->absent == NULL)
			continue;
		foreach(lc, scan->spec.params)
			if (strcmp(((GcQueryParam *) lfirst(lc))->name, p->target) == 0)
				value = linitial(((GcQueryParam *) lfirst(lc))->values);
		label = psprintf("Genesys %s Sent", p->target);
		label[8] = pg_toupper((unsigned char) label[8]);
		ExplainPropertyText(label, value, es);
	}
}

/*
 * explain_costs
 *		EXPLAIN ANALYZE: what the scan cost, totals over every loop.
 */
static void
explain_costs(GcScan *scan, ExplainState *es)
{
	GcScanStats *s = &scan->stats;
	int64		ahead_sent;
	int64		ahead_unused;

	explain_params_sent(scan, es);
	ExplainPropertyInteger(scan->plan.by_interval ? "Windows Read" : "Request Series",
						   NULL, s->windows, es);
	if (scan->plan.by_interval)
		ExplainPropertyInteger("Windows Split", NULL, s->splits, es);
	if (scan->plan.first_driver && scan->plan.first_driver->explain)
		scan->plan.first_driver->explain(scan, es);
	if (scan->plan.driver->explain)
		scan->plan.driver->explain(scan, es);
	ExplainPropertyInteger("API Requests", NULL, s->requests, es);
	if (s->cached > 0)
		ExplainPropertyInteger("Pages From the Rescan Cache", NULL, s->cached, es);
	/* pages still in flight count too (EXPLAIN runs before the end) */
	gc_scan_ahead_counts(scan, &ahead_sent, &ahead_unused);
	if (ahead_sent > 0)
	{
		ExplainPropertyInteger("Pages Requested Ahead", NULL, ahead_sent, es);
		ExplainPropertyInteger("Pages Requested Ahead Unused", NULL, ahead_unused, es);
	}
	ExplainPropertyInteger("Pages", NULL, s->pages, es);
	ExplainPropertyInteger("Rows Received", NULL, s->rows_received, es);
	ExplainPropertyInteger("Duplicates Dropped", NULL, s->duplicates, es);
	ExplainPropertyInteger("Retries", NULL, s->retries, es);
	ExplainPropertyInteger("Rate Limit Waits", NULL, s->waits_429, es);
	ExplainPropertyFloat("Rate Limit Wait Time", "s", s->wait_429_secs, 1, es);
	/* shown only when it happened, so existing plans read the same */
	if (s->pacing_waits > 0)
	{
		ExplainPropertyInteger("Rate Limit Pacing Waits", NULL, s->pacing_waits, es);
		ExplainPropertyFloat("Rate Limit Pacing Time", "s", s->pacing_secs, 1, es);
	}
	ExplainPropertyFloat("Retry Backoff Time", "s", s->backoff_secs, 1, es);
	ExplainPropertyInteger("Token Requests", NULL, s->token_requests, es);
	ExplainPropertyInteger("Re-authentications", NULL, s->reauths, es);
}

/*
 * gc_scan_explain
 *		The read plan (decided here under plain EXPLAIN, without calling the
 *		API) and, under ANALYZE, what the scan cost.
 */
void
gc_scan_explain(ForeignScanState *node, ExplainState *es)
{
	GcScan	   *scan = node->fdw_state;
	GcReadPlan *plan = &scan->plan;
	struct
	{
		int			page_size;
		int			window_days;
	}			legs[2] = {{0, 0}, {0, 0}};

	if (!scan->started)
		explain_plan(node, scan);

	/* a two-leg read (mode 'auto'): each leg's page size and windows */
	if (plan->then_driver)
	{
		legs[0].page_size = plan->page_size;
		legs[0].window_days = plan->window_days;
		legs[1].page_size = plan->then_page_size;
		legs[1].window_days = plan->then_window_days;
	}
	else if (plan->first_driver)
	{
		legs[0].page_size = plan->first_page_size;
		legs[0].window_days = plan->first_window_days;
		legs[1].page_size = plan->page_size;
		legs[1].window_days = plan->window_days;
	}

	ExplainPropertyText("Genesys Request", plan->request, es);
	if (plan->mode)
		ExplainPropertyText("Genesys Mode", plan->mode, es);
	if (plan->then_driver || plan->first_driver)
		ExplainPropertyText("Page Size",
							psprintf("%d, then %d", legs[0].page_size, legs[1].page_size), es);
	else if (plan->page_size > 0)
		ExplainPropertyInteger("Page Size", NULL, plan->page_size, es);
	if (es->verbose && plan->ahead)
		ExplainPropertyInteger("Concurrency", NULL, scan->opts.concurrency, es);

	if (plan->evaluated && plan->empty)
		ExplainPropertyText("Genesys Request Sent",
							"none: the conditions exclude every row", es);
	else if (plan->evaluated && plan->by_interval)
	{
		ExplainPropertyText("Genesys Interval",
							psprintf("%s/%s", gc_format_timestamp(plan->from, false),
									 gc_format_timestamp(plan->to, true)), es);
		if (plan->then_driver || plan->first_driver)
			ExplainPropertyText("Interval Windows",
								psprintf("%d of up to %d days, then %d of up to %d days",
										 gc_windows_count(plan->from, plan->split,
														  legs[0].window_days, false),
										 legs[0].window_days,
										 gc_windows_count(plan->split, plan->to,
														  legs[1].window_days, false),
										 legs[1].window_days), es);
		else
			ExplainPropertyText("Interval Windows",
								psprintf("%d of up to %d days%s",
										 gc_windows_count(plan->from, plan->to,
														  plan->window_days,
														  plan->descending),
										 plan->window_days,
										 plan->descending ? ", newest first" : ""), es);
		if (plan->overlap)
			ExplainPropertyText("Records Read", "those overlapping the interval", es);
	}
	else if (plan->evaluated && plan->ids >= 0)
	{
		char	   *label = psprintf("%s Looked Up", scan->api->noun);

		label[0] = pg_toupper((unsigned char) label[0]);
		ExplainPropertyInteger(label, NULL, plan->ids, es);
	}

	if (es->analyze && scan->conn)
		explain_costs(scan, es);
}
