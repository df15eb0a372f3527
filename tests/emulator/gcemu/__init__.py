"""gcemu: the Genesys Cloud CX API emulator of the gc_fdw test suite.

Standard library only; listens on 127.0.0.1 only.  Started with
tests/emulator/genesys_emulator.py (see tests/emulator/README.md).  One
module per responsibility:

    wire               instants, the JSON encoding, query parameters, QueryError
    dataset            the deterministic users and conversations (seeded)
    directory_data     the directory's data, each table from its own stream
    agent_status_data  every user's presence and routing-status timeline
    mutations          POST /__emu/mutate: the org changing under a sync
    queries            the analytics query rules: filters, interval, paging, order
    pages              rendered-page caches, page bodies, /__emu/prerender
    exchange           Call and Reply as endpoints see them; platform error bodies
    endpoints          endpoint classes (fault selectors; emuctl imports them)
    listings           the platform's entity listing: paging and its body
    users              GET /api/v2/users, GET and PATCH /api/v2/users/{id}
    conversations      the conversation details query, lookups, job rows
    directory          the directory listings
    user_details       the user details query (agent status history), job rows
    jobs               async jobs of any family: lifecycle and results
    faults             fault rules: validation, selection, firing
    effects            what each fault kind does
    state              settings, tokens, dataset versions, log, rate windows, jobs
    handler            the HTTP handler: order of checks, auth, gzip, headers
    control            the /__emu/ control API
    server             options, the listening socket, start and stop

Secrets and access tokens are never printed, logged or returned by the
control API.  This file imports nothing, so that emuctl can import
gcemu.endpoints alone.
"""
