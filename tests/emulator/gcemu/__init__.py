"""gcemu: the Genesys Cloud CX API emulator of the gc_fdw test suite.

Standard library only; listens on 127.0.0.1 only.  Started with
tests/emulator/genesys_emulator.py (see tests/emulator/README.md).  One
module per responsibility:

    wire           instants, the JSON encoding, query parameters, QueryError
    dataset        the deterministic users and conversations (seeded)
    mutations      POST /__emu/mutate: the org changing under a sync
    queries        conversation query rules: filters, interval, paging, order
    pages          rendered-page caches, page bodies, /__emu/prerender
    exchange       Call and Reply as endpoints see them; platform error bodies
    endpoints      endpoint classes (fault selectors; emuctl imports them)
    users          GET /api/v2/users, GET and PATCH /api/v2/users/{id}
    conversations  the conversation details query, lookups and jobs
    faults         fault rules: validation, firing, what each kind does
    state          settings, tokens, dataset versions, log, rate windows, jobs
    handler        the HTTP handler: order of checks, auth, gzip, headers
    control        the /__emu/ control API
    server         options, the listening socket, start and stop

Secrets and access tokens are never printed, logged or returned by the
control API.  This file imports nothing, so that emuctl can import
gcemu.endpoints alone.
"""
