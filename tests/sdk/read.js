#!/usr/bin/env node
'use strict';
/*
 * Reads the Genesys emulator (tests/emulator) through the official Genesys
 * Cloud JavaScript SDK, purecloud-platform-client-v2, with the SDK's own
 * methods, and prints what the SDK returned as one JSON document, for
 * tests/sdk/test_sdk.py to compare with the emulator's truth.  The wire
 * format is then the SDK's: its paths, its parameters, its paging fields.
 *
 * Usage: node read.js API_URL CLIENT_ID MODE SPEC_JSON   (secret in GC_SDK_SECRET)
 *   pages SPECS       SPECS is a list of {api, method, args, opts, pageSize}:
 *                     each listing paged (pageNumber 1, 2, ... until a page has
 *                     no nextUri) -> [{rows, pages}, ...]
 *   call SPEC         one call, SPEC {api, method, args, opts} -> its body
 *   query SPEC        SPEC {api, method, body, rowsKey}: a details query
 *                     paged (paging.pageNumber 1, 2, ... until a page has no
 *                     rows) -> {rows, pages, totalHits}
 *   job SPEC          SPEC {api, submit, status, results, body, pageSize,
 *                     rowsKey}: submit, poll until FULFILLED, page the results
 *                     by cursor -> {rows, pages, polls, states, dataAvailabilityDate}
 * A call the SDK rejects ends the script with status 1 and the HTTP status
 * and body on stderr.  Neither the secret nor a token is ever printed.
 */
const platformClient = require('purecloud-platform-client-v2');

async function main() {
  const [apiUrl, clientId, mode, specJson] = process.argv.slice(2);
  if (!specJson) {
    console.error('usage: node read.js API_URL CLIENT_ID MODE SPEC_JSON  (secret in GC_SDK_SECRET)');
    process.exit(2);
  }
  const spec = JSON.parse(specJson);
  const client = platformClient.ApiClient.instance;
  // the emulator is both the login and the API host, over plain http
  const { hostname, port, protocol, pathname } = new URL(apiUrl);
  client.setGateway({ host: hostname, port: port ? Number(port) : -1,
                      protocol: protocol.slice(0, -1),
                      path_params_login: pathname, path_params_api: pathname });
  // the SDK's trace log would show request headers (the bearer token)
  client.config.logger.log_level = client.config.logger.logLevelEnum.level.LNone;
  await client.loginClientCredentialsGrant(clientId, process.env.GC_SDK_SECRET);

  const apis = {};
  const method = (name, fn) => {
    apis[name] = apis[name] || new platformClient[name]();
    return (...args) => apis[name][fn](...args);
  };

  async function pageListing(s) {
    const call = method(s.api, s.method);
    const rows = [];
    let pages = 0;
    for (let n = 1; ; n++) {
      const page = await call(...(s.args || []),
                              Object.assign({}, s.opts, { pageSize: s.pageSize, pageNumber: n }));
      pages++;
      rows.push(...(page.entities || []));
      if (!page.nextUri) break;
    }
    return { rows, pages };
  }

  async function pageQuery(s) {
    const call = method(s.api, s.method);
    const rows = [];
    let pages = 0;
    let totalHits = null;
    for (let n = 1; ; n++) {
      const body = Object.assign({}, s.body, { paging: Object.assign({}, s.body.paging, { pageNumber: n }) });
      const page = await call(body);
      pages++;
      totalHits = page.totalHits;
      const got = page[s.rowsKey] || [];
      if (got.length === 0) break;
      rows.push(...got);
    }
    return { rows, pages, totalHits };
  }

  async function runJob(s) {
    const { jobId } = await method(s.api, s.submit)(s.body);
    const states = [];
    for (;;) {
      const status = await method(s.api, s.status)(jobId);
      states.push(status.state);
      if (status.state === 'FULFILLED') break;
      if (status.state !== 'QUEUED' && status.state !== 'PENDING') {
        throw new Error(`job ended ${status.state}: ${status.errorMessage}`);
      }
    }
    const rows = [];
    let pages = 0;
    let cursor;
    let availability;
    do {
      const opts = { pageSize: s.pageSize };
      if (cursor) opts.cursor = cursor;
      const page = await method(s.api, s.results)(jobId, opts);
      pages++;
      rows.push(...(page[s.rowsKey] || []));
      availability = page.dataAvailabilityDate;
      cursor = page.cursor;
    } while (cursor);
    return { rows, pages, polls: states.length, states, dataAvailabilityDate: availability };
  }

  let out;
  if (mode === 'pages') {
    out = [];
    for (const s of spec) out.push(await pageListing(s));
  } else if (mode === 'call') {
    out = await method(spec.api, spec.method)(...(spec.args || []), spec.opts || {});
  } else if (mode === 'query') {
    out = await pageQuery(spec);
  } else if (mode === 'job') {
    out = await runJob(spec);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  // a rejected SDK call carries the HTTP status and the error body
  if (err && err.status !== undefined) {
    console.error(`read.js: HTTP ${err.status}: ${JSON.stringify(err.body)}`);
  } else {
    console.error('read.js:', err && err.stack ? err.stack : err);
  }
  process.exit(1);
});
