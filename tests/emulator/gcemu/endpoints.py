"""Endpoint classes: which family a request path belongs to.

Owns: the classification of a path (token, users, details, jobs,
directory, userdetails, userjobs, api, other) that fault rules select on and that emuctl's
log-count filters by, and the rule selectors' meaning.  emuctl imports
this module, so it stays standard library only and free of the rest of
the package.

Must not: route requests (handler.py does) or import other emulator modules.
"""

# the classes of /api/v2 requests ("api" is any other /api/v2 path)
API_CLASSES = ("users", "details", "jobs", "directory", "userdetails", "userjobs", "api")
# what a fault rule's "endpoint" may name
FAULT_ENDPOINTS = ("token",) + API_CLASSES + ("any",)
# the directory listings' paths (and what lies below them: queue members)
DIRECTORY_PREFIXES = ("/api/v2/routing/", "/api/v2/authorization/divisions",
                      "/api/v2/groups", "/api/v2/locations", "/api/v2/presencedefinitions")


def endpoint_class(path):
    """Classify a request path: token, users, details, jobs, directory,
    userdetails, userjobs, api or other."""
    if path == "/oauth/token":
        return "token"
    if path.startswith("/api/v2/users"):
        return "users"
    if path.startswith("/api/v2/analytics/conversations/details/jobs"):
        return "jobs"
    if path.startswith("/api/v2/analytics/conversations"):
        return "details"
    if path.startswith("/api/v2/analytics/users/details/jobs"):
        return "userjobs"
    if path.startswith("/api/v2/analytics/users/details"):
        return "userdetails"
    if path.startswith(DIRECTORY_PREFIXES):
        return "directory"
    if path.startswith("/api/v2/"):
        return "api"
    return "other"


def endpoint_matches(rule_ep, cls):
    """Does a fault rule's endpoint selector cover this request class?"""
    if rule_ep in ("any", None):
        return True
    if rule_ep == "api":
        return cls in API_CLASSES
    return rule_ep == cls
