"""Async analytics jobs, whatever their family: the lifecycle and the results.

Owns: a job from submission to deletion (QUEUED on the first status poll,
PENDING on later ones, FULFILLED or FAILED after job_polls polls as the
settings say, CANCELLED by DELETE), the status answer, the results cursor
and paging (pageSize 1..1000, the per-job paging cap job_results_cap),
and GET .../jobs/availability.  A job belongs to one family: its id is
unknown (404) under another family's path.

Must not: decide which rows a job holds or how a row is written; the
family gives both (JobFamily).
"""

import base64
import binascii
import time
import uuid

from .exchange import Reply
from .pages import serve_page
from .wire import DAY_MS, QueryError, int_param, iso_ms, parse_json

RESULTS_PAGE_MAX = 1000             # results pageSize: 1..1000, 1000 by default


class JobFamily:
    """What a family of jobs supplies: its name, select(st, body) -> the
    ids of the rows the job holds (validating the body; QueryError as the
    API answers), and render(ds, ids, cursor, availability) -> the bytes
    of a results page."""

    def __init__(self, name, select, render):
        self.name = name
        self.select = select
        self.render = render


def encode_cursor(jid, offset):
    """The opaque results cursor: where the next page of job jid starts."""
    return base64.urlsafe_b64encode(("%s:%d" % (jid, offset)).encode()).decode()


def decode_cursor(cursor, jid):
    """The offset a cursor of job jid stands for; ValueError if it is not one."""
    try:
        owner, _, off = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        offset = int(off)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor")
    if owner != jid or offset < 0:
        raise ValueError("not a cursor of this job")
    return offset


def results_page_number(jid, query):
    """The page a results request asks for (1 for the first; by its cursor
    and pageSize), or None when the request is not a valid one."""
    try:
        size = int((query.get("pageSize") or [RESULTS_PAGE_MAX])[-1] or RESULTS_PAGE_MAX)
        cursor = (query.get("cursor") or [""])[-1]
        offset = decode_cursor(cursor, jid) if cursor else 0
    except ValueError:
        return None
    return offset // size + 1 if size > 0 else None


def route(call, rest, family):
    """The jobs endpoints of one family, rest being the path after .../jobs:
    submit, availability, status, delete and results.  None means 404."""
    st = call.state
    m = call.method
    if rest == [] and m == "POST":
        return submit(st, family, parse_json(call.raw))
    if rest == ["availability"] and m == "GET":
        return Reply(200, {"dataAvailabilityDate": st.settings["availability_date"]})
    if not rest:
        return None
    with st.lock:
        job = st.jobs.get(rest[0])
    if job is None or job["family"] != family.name:
        return None
    if len(rest) == 1 and m == "GET":
        return Reply(200, poll(st, job))
    if len(rest) == 1 and m == "DELETE":
        with st.lock:
            job["state"] = "CANCELLED"
        return Reply(204)
    if rest[1:] == ["results"] and m == "GET":
        return results(call, family, rest[0], job)
    return None


def submit(st, family, body):
    """POST .../jobs -> 202 {jobId}; the job's rows are chosen now."""
    ids = family.select(st, body)
    jid = str(uuid.uuid4())
    with st.lock:
        st.jobs[jid] = {"family": family.name, "state": "QUEUED", "polls": 0, "ids": ids,
                        "submission": int(time.time() * 1000), "completion": None}
    return Reply(202, {"jobId": jid})


def poll(st, job):
    """GET .../jobs/{id}: count the poll, move the state on, and answer it."""
    with st.lock:
        if job["state"] in ("QUEUED", "PENDING"):
            job["polls"] += 1
            n = int(st.settings["job_polls"])
            if job["polls"] > n and st.settings.get("job_fail"):
                job["state"] = "FAILED"
                job["error"] = st.settings["job_fail"]
            elif job["polls"] > n:
                job["state"] = "FULFILLED"
                job["completion"] = int(time.time() * 1000)
            elif job["polls"] > 1:
                job["state"] = "PENDING"
        out = {"state": job["state"]}
        if job["state"] == "FAILED":
            out["errorMessage"] = job.get("error", "")
        out["expirationDate"] = iso_ms(job["submission"] + DAY_MS)
        out["submissionDate"] = iso_ms(job["submission"])
        if job.get("completion"):
            out["completionDate"] = iso_ms(job["completion"])
        return out


def results(call, family, jid, job):
    """GET .../jobs/{id}/results?cursor=&pageSize=: one page and the cursor
    of the next (absent on the last page)."""
    st = call.state
    query = call.query
    if job["state"] != "FULFILLED":
        raise QueryError("Results are not available: job %s is %s" % (jid, job["state"]))
    page_size = int_param(query, "pageSize", RESULTS_PAGE_MAX)
    if not 1 <= page_size <= RESULTS_PAGE_MAX:
        raise QueryError("pageSize must be between 1 and %d" % RESULTS_PAGE_MAX, "invalid.value")
    offset = 0
    cur = (query.get("cursor") or [""])[-1]
    if cur:
        try:
            offset = decode_cursor(cur, jid)
        except ValueError:
            raise QueryError("Invalid cursor", "invalid.value")
    ids = job["ids"]
    cap = int(st.settings.get("job_results_cap") or 0)
    if cap > 0 and min(offset + page_size, len(ids)) > cap:
        # the real API refuses to page a job's results past its cap
        raise QueryError("Pagination may not exceed %d results" % cap)
    page = ids[offset: offset + page_size]
    ds = st.dataset
    cursor = None
    if offset + page_size < len(ids):
        cursor = encode_cursor(jid, offset + page_size)
    avail = st.settings["availability_date"]
    # job ids are unique uuids, and the job's ids never change
    key = ("job", jid, offset, page_size, avail)
    return serve_page(call, ds, key, lambda: family.render(ds, page, cursor, avail))
