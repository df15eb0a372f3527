#!/usr/bin/env node
'use strict';
/*
 * The loader a user following Genesys's developer docs writes in node: the
 * official JavaScript SDK (purecloud-platform-client-v2) for the API and
 * node-postgres (pg) for the database.  A benchmark baseline for gc_fdw
 * (bench/), the node twin of bench/alternatives/python_loader.py; it is not
 * part of gc_fdw.
 *
 * Pages POST /api/v2/analytics/conversations/details/query over 7-day
 * windows (pageSize 100 until a page has no conversations), keeps the
 * conversations whose start is in [FROM, TO) (the API answers whole UTC
 * days), logs in again on 401, sleeps on 429 as Retry-After says, and
 * inserts each page's rows into TABLE, which has the columns of gc_fdw's
 * conversations foreign table.
 *
 * Usage: node loader.js API_URL CLIENT_ID FROM TO TABLE   (secret in
 * GC_LOADER_SECRET; PostgreSQL connection from the PG* environment, which
 * pg reads natively)
 * Prints one line: rows requests cpu_seconds peak_rss_kib
 * (requests = token requests + query requests, failed ones included)
 */
const platformClient = require('purecloud-platform-client-v2');
const { Client } = require('pg');

// Column <- conversation key; raw is the whole conversation.  Absent keys
// insert NULL.  pg sends divisionIds (a JS array) as an array literal, which
// PostgreSQL reads as uuid[].
const COLUMNS = [
  ['conversation_id', 'conversationId'],
  ['conversation_start', 'conversationStart'],
  ['conversation_end', 'conversationEnd'],
  ['originating_direction', 'originatingDirection'],
  ['division_ids', 'divisionIds'],
  ['media_stats_min_conversation_mos', 'mediaStatsMinConversationMos'],
  ['media_stats_min_conversation_r_factor', 'mediaStatsMinConversationRFactor'],
  ['conversation_initiator', 'conversationInitiator'],
  ['customer_participation', 'customerParticipation'],
  ['external_tag', 'externalTag'],
  ['self_served', 'selfServed'],
];
const DAY_MS = 86400 * 1000;

// FROM and TO are UTC dates (or date-times without a zone), like the
// Python loader's.
function parseUtc(s) {
  if (/(Z|[+-]\d\d:?\d\d)$/.test(s)) return new Date(s);
  return new Date(s.length === 10 ? s + 'T00:00:00Z' : s + 'Z');
}

// [lo, hi) cut at 7 days from lo's midnight: the API refuses longer
// intervals without filters.
function* windows(lo, hi) {
  while (lo < hi) {
    const midnight = Date.UTC(lo.getUTCFullYear(), lo.getUTCMonth(), lo.getUTCDate());
    const end = new Date(Math.min(hi.getTime(), midnight + 7 * DAY_MS));
    yield [lo, end];
    lo = end;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const [apiUrl, clientId, from, to, table] = process.argv.slice(2);
  if (!table) {
    console.error('usage: node loader.js API_URL CLIENT_ID FROM TO TABLE  (secret in GC_LOADER_SECRET)');
    process.exit(2);
  }
  const secret = process.env.GC_LOADER_SECRET;
  const lo = parseUtc(from);
  const hi = parseUtc(to);
  let requests = 0;

  // A real org would call client.setEnvironment(platformClient.PureCloudRegionHosts.us_east_1).
  // The emulator is reached through the SDK's gateway setting, which takes
  // the protocol (default https), host, port and optional path prefixes for
  // login and API requests (path_params_login / path_params_api), and
  // replaces both https://login.<env> and https://api.<env>.
  const url = new URL(apiUrl);
  const client = platformClient.ApiClient.instance;
  client.setGateway({
    host: url.hostname,
    port: url.port ? Number(url.port) : -1,
    protocol: url.protocol.replace(/:$/, ''),
    path_params_login: url.pathname,
    path_params_api: url.pathname,
  });
  // Without extended responses a failed call rejects with the error body
  // only; the status and the Retry-After header need them.  Successful calls
  // then resolve to { status, headers, body }.
  client.setReturnExtendedResponses(true);

  async function login() {
    requests++;
    await client.loginClientCredentialsGrant(clientId, secret);
  }

  const db = new Client(); // PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
  await db.connect();
  await login();
  const analytics = new platformClient.AnalyticsApi();

  // Insert style: one parameterised INSERT ... ON CONFLICT DO NOTHING per
  // row, each awaited, inside one transaction per page (what pg's docs show
  // and most hand-written node loaders do; no multi-row VALUES, no COPY).
  const insert = `INSERT INTO ${table} (${COLUMNS.map((c) => c[0]).join(', ')}, raw) ` +
    `VALUES (${COLUMNS.map((_, i) => '$' + (i + 1)).join(', ')}, $${COLUMNS.length + 1}) ` +
    'ON CONFLICT DO NOTHING';

  for (const [wLo, wHi] of windows(lo, hi)) {
    let page = 1;
    for (;;) {
      const body = {
        interval: `${wLo.toISOString()}/${wHi.toISOString()}`,
        order: 'asc',
        orderBy: 'conversationStart',
        paging: { pageSize: 100, pageNumber: page },
      };
      let res;
      try {
        requests++;
        res = await analytics.postAnalyticsConversationsDetailsQuery(body);
      } catch (err) {
        // The SDK retries nothing for client credentials: a 401 (token
        // revoked or expired) and a 429 come back here.
        if (err && err.status === 401) {
          await login();
          continue;
        }
        if (err && err.status === 429) {
          const ra = parseFloat((err.headers && err.headers['retry-after']) || '3');
          await sleep((Number.isFinite(ra) ? ra : 3) * 1000);
          continue;
        }
        throw err;
      }
      const convs = (res.body && res.body.conversations) || [];
      if (convs.length === 0) break;
      await db.query('BEGIN');
      for (const c of convs) {
        const start = Date.parse(c.conversationStart);
        if (!(start >= wLo.getTime() && start < wHi.getTime())) continue;
        await db.query(insert, [...COLUMNS.map(([, key]) => c[key] ?? null), JSON.stringify(c)]);
      }
      await db.query('COMMIT');
      page++;
    }
  }

  const { rows } = await db.query(`SELECT count(*) AS n FROM ${table}`);
  await db.end();
  const cpu = process.cpuUsage();
  const cpuSeconds = Math.round((cpu.user + cpu.system) / 1000) / 1000;
  // maxRSS is ru_maxrss, already in KiB on Linux
  console.log(`${rows[0].n} ${requests} ${cpuSeconds} ${process.resourceUsage().maxRSS}`);
}

main().catch((err) => {
  // extended error responses carry status and body; others are Errors
  if (err && err.status !== undefined && err.body !== undefined) {
    console.error(`loader.js: HTTP ${err.status}: ${JSON.stringify(err.body)}`);
  } else {
    console.error('loader.js:', err && err.stack ? err.stack : err);
  }
  process.exit(1);
});
