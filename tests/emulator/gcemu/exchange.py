"""One exchange as the endpoint modules see it: the call and its reply.

Owns: Call (what an authenticated /api/v2 request asks, and whether its
page may come from the cache), Reply (the answer under construction:
status, body, headers and the transport mode a fault gives it) and the
platform's error bodies (platform and OAuth shapes).

Must not: write to a socket (handler.py sends replies) or know a route.
"""

from .wire import dumps_bytes

ERROR_CODES = {400: "bad.request", 401: "authentication.required", 403: "missing.permissions",
               404: "not.found", 408: "request.timeout", 409: "general.conflict",
               429: "too.many.requests.retry.after", 500: "internal.server.error",
               502: "bad.gateway", 503: "service.unavailable", 504: "request.timeout"}


class Call:
    """An /api/v2 request past auth and rate limit, as an endpoint sees it.

    parts are the path segments after /api/v2; query the parsed query
    string (lists of values); raw the body bytes; page_cache_ok is false
    when a fault fired on the request (its page must be rendered afresh)."""

    def __init__(self, state, method, parts, query, raw, wants_gzip, page_cache_ok):
        self.state = state
        self.method = method
        self.parts = parts
        self.query = query
        self.raw = raw
        self.wants_gzip = wants_gzip
        self.page_cache_ok = page_cache_ok


class Reply:
    """A response under construction."""

    def __init__(self, status, obj=None, raw=None, ctype="application/json", headers=None):
        self.status = status
        if raw is None and obj is not None:
            raw = dumps_bytes(obj)
        self.body = raw or b""
        self.gzip = None            # body already gzip-compressed (a cached page)
        self.ctype = ctype
        self.headers = dict(headers or {})
        self.mode = "normal"        # normal | delay | stream | truncate | reset | stall
                                    # | gzip_bomb
        self.seconds = 0.0
        self.fault = None
        self.ctype_exact = False    # send ctype as is (no "; charset=UTF-8")
        self.bomb = None            # mode gzip_bomb: the effects.GzipBomb to send


def platform_error(corr, status, code, message, headers=None):
    """A Genesys platform error body (contextId == correlation id)."""
    return Reply(status, {"message": message, "code": code, "status": status,
                          "contextId": corr, "messageWithParams": message,
                          "messageParams": {}, "details": [], "errors": []},
                 headers=headers)


def oauth_error(status, error, description):
    """An OAuth-style error body."""
    return Reply(status, {"error": error, "description": description,
                          "error_description": description})
