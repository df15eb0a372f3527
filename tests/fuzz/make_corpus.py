#!/usr/bin/env python3
"""Regenerate the seed corpus of tests/fuzz from the bundled emulator.

Real-shaped answers come from tests/emulator/genesys_emulator.py (started
here on a free loopback port and stopped afterwards): a token answer, users
and details query pages, an async job's answers and results page, and error
bodies.  Hand-made edge cases (deep nesting, huge numbers, NUL bytes,
invalid UTF-8, truncation, wrong shapes) are added next to them.

    python3 tests/fuzz/make_corpus.py

Writes tests/fuzz/corpus/{page,response,options}/.  page/ seeds the
libFuzzer targets (tests/fuzz/run.sh); all three are fed to a real backend
by tests/integration (test_hostile_pages.py, test_hostile_answers.py,
test_option_inputs.py).  Files are named by what they hold; existing files
of the same name are replaced, others (regression seeds added by hand) are
kept.  Access tokens are replaced by a placeholder before they are written.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EMULATOR = os.path.join(ROOT, "tests", "emulator", "genesys_emulator.py")
CORPUS = os.path.join(HERE, "corpus")
CLIENT = "fuzz-seed-client"
SECRET = "fuzz-seed-secret"
INTERVAL = "2024-03-05T00:00:00.000Z/2024-03-06T00:00:00.000Z"


def write(kind, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    os.makedirs(os.path.join(CORPUS, kind), exist_ok=True)
    with open(os.path.join(CORPUS, kind, name), "wb") as f:
        f.write(data)


class Emulator:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="gc-fuzz-corpus-")
        port_file = os.path.join(self.tmp, "port")
        self.proc = subprocess.Popen(
            [sys.executable, EMULATOR, "--port", "0", "--port-file", port_file,
             "--client", "%s:%s" % (CLIENT, SECRET)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        else:
            self.stop()
            sys.exit("emulator did not start")
        self.base = "http://127.0.0.1:%s" % open(port_file).read().strip()
        self.token = None

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def call(self, method, path, body=None, headers=None, auth=True):
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.base + path, data=data, method=method)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if auth and self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_token(self, client=CLIENT, secret=SECRET):
        basic = base64.b64encode(("%s:%s" % (client, secret)).encode()).decode()
        return self.call("POST", "/oauth/token", "grant_type=client_credentials",
                         {"Authorization": "Basic " + basic,
                          "Content-Type": "application/x-www-form-urlencoded"},
                         auth=False)


def redact_token(body):
    doc = json.loads(body)
    if "access_token" in doc:
        doc["access_token"] = "emulator-token-redacted-" + "x" * 16
    return json.dumps(doc).encode()


def from_emulator():
    emu = Emulator()
    try:
        status, body = emu.get_token()
        assert status == 200, body
        emu.token = json.loads(body)["access_token"]
        write("response", "token-200.json", redact_token(body))
        _, body = emu.get_token(secret="wrong")
        write("response", "token-401.json", body)

        _, body = emu.call("GET", "/api/v2/users?pageSize=5")
        write("page", "users-page1.json", body)
        _, body = emu.call("GET", "/api/v2/users?pageSize=5&pageNumber=2&expand=dateLastLogin")
        write("page", "users-page2-expand.json", body)

        query = {"interval": INTERVAL, "paging": {"pageSize": 3, "pageNumber": 1}}
        status, body = emu.call("POST", "/api/v2/analytics/conversations/details/query",
                                json.dumps(query), {"Content-Type": "application/json"})
        assert status == 200, body
        write("page", "details-query-page1.json", body)
        query["paging"]["pageNumber"] = 2
        _, body = emu.call("POST", "/api/v2/analytics/conversations/details/query",
                           json.dumps(query), {"Content-Type": "application/json"})
        write("page", "details-query-page2.json", body)

        bad = {"interval": "2024-03-06T00:00:00.000Z/2024-03-05T00:00:00.000Z"}
        _, body = emu.call("POST", "/api/v2/analytics/conversations/details/query",
                           json.dumps(bad), {"Content-Type": "application/json"})
        write("response", "error-400-interval.json", body)
        _, body = emu.call("GET", "/api/v2/no/such/thing")
        write("response", "error-404.json", body)
        saved, emu.token = emu.token, "not-a-token"
        _, body = emu.call("GET", "/api/v2/users")
        write("response", "error-401.json", body)
        emu.token = saved

        _, body = emu.call("GET", "/api/v2/analytics/conversations/details/jobs/availability")
        write("response", "jobs-availability.json", body)
        status, body = emu.call("POST", "/api/v2/analytics/conversations/details/jobs",
                                json.dumps({"interval": INTERVAL}),
                                {"Content-Type": "application/json"})
        assert status == 202, body
        write("response", "jobs-submit-202.json", body)
        job_id = json.loads(body)["jobId"]
        for n in range(1, 6):
            _, body = emu.call("GET", "/api/v2/analytics/conversations/details/jobs/" + job_id)
            state = json.loads(body)["state"]
            write("response", "jobs-status-%s.json" % state.lower(), body)
            if state == "FULFILLED":
                break
        _, body = emu.call("GET", "/api/v2/analytics/conversations/details/jobs/%s/results?pageSize=2"
                           % job_id)
        write("page", "jobs-results-page1.json", body)
        cursor = json.loads(body).get("cursor")
        if cursor:
            _, body = emu.call("GET", "/api/v2/analytics/conversations/details/jobs/%s/results"
                               "?pageSize=2&cursor=%s" % (job_id, cursor))
            write("page", "jobs-results-page2.json", body)
    finally:
        emu.stop()


def hand_made():
    # -- pages --------------------------------------------------------------
    conv = {
        "conversationId": "0b5e7f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
        "conversationStart": "2024-03-05T10:00:00.000Z",
        "n": 7, "b": True, "t": "2024-03-05T10:00:00Z", "list": [1, 0, None],
        "a": {"b": {"c": {"d": {"e": "deep"}}}},
        "divisionIds": ["3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c", None],
        "participants": [{
            "participantId": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "purpose": "agent",
            "n": "12", "list": ["true", "false"],
            "attributes": {"x": "1", "y": {"z": [1, 2]}, "nul": None, "n": 5},
            "sessions": [{
                "sessionId": "6b5c4d3e-2f1a-4b0c-9d8e-7f6a5b4c3d2e", "mediaType": "voice",
                "requestedRoutings": ["Standard", None], "list": [],
                "segments": [{"segmentStart": "2024-03-05T10:00:00.000Z", "segmentType": "ivr",
                              "sipResponseCodes": [200, 486], "list": [{"k": 1}, [2]]}],
                "metrics": [{"name": "tIvr", "value": 12000, "emitDate": "2024-03-05T10:00:12.000Z",
                             "n": 1.5}]}]}]}
    write("page", "levels-all-keys.json", json.dumps({"conversations": [conv], "totalHits": 1}))
    write("page", "users-generic-keys.json", json.dumps({"entities": [{
        "id": "8d7e6f5a-4b3c-4d2e-9f0a-1b2c3d4e5f6a", "version": 4, "n": "-2147483648",
        "b": "yes", "t": "2024-03-01 08:00:00+02:00", "list": ["1", "0"],
        "manager": {"id": "not-a-uuid"}, "division": {"id": None, "name": ["x"]}}],
        "pageCount": 1, "nextUri": "/api/v2/users?pageNumber=2"}))
    write("page", "huge-numbers.json",
          '{"conversations":[{"conversationId":"x","n":123456789012345678901234567890,'
          '"list":[1e400,-1e400,1.7976931348623157e308,4.9e-324,-0,9223372036854775808,'
          '-9223372036854775809,18446744073709551616],"participants":[{"sessions":[{"metrics":'
          '[{"name":"m","value":99999999999999999999},{"name":"f","value":1.0e+2}]}]}]}],'
          '"totalHits":1e999}')
    write("page", "nul-bytes.json",
          b'{"conversations":[{"conversationId":"a\\u0000b","participants":[{"purpose":"x\x00y",'
          b'"attributes":{"k\\u0000":"v\\u0000w"}}]}]}')
    write("page", "nul-raw.json", b'{"entities":[{"id":"a"}]}\x00{"x":1}')
    write("page", "invalid-utf8.json",
          b'{"entities":[{"id":"\xff\xfe","name":"caf\xc3","email":"\xed\xa0\x80@x","division":'
          b'{"name":"\xc0\xaf"},"n":"\xe2\x82"}],"nextUri":"\x80"}')
    write("page", "surrogates.json",
          '{"conversations":[{"conversationId":"\\ud800","participants":[{"attributes":'
          '{"\\udc00":"\\ud83d\\ude00","v":"\\ud83d"}}],"list":["\\u0000","\\ud800\\ud800"]}]}')
    depth = 3000
    write("page", "deep-nesting.json",
          '{"conversations":[{"participants":[{"attributes":{"deep":' + "[" * depth + "]" * depth +
          '},"sessions":[{"list":' + "[" * 200 + "1" + "]" * 200 + "}]}]}]}")
    write("page", "deep-objects.json",
          '{"entities":[{"a":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}]}")
    details = open(os.path.join(CORPUS, "page", "details-query-page1.json"), "rb").read()
    write("page", "truncated-details.bin", details[: len(details) // 2])
    write("page", "truncated-in-string.bin", b'{"conversations":[{"conversationId":"abc')
    write("page", "wrong-shapes.json", json.dumps({
        "conversations": [None, 1, "s", [], {"participants": {"not": "an array"}},
                          {"participants": [None, {"sessions": "x", "attributes": []}]},
                          {"participants": [{"sessions": [{"segments": [1, None],
                                                            "metrics": {}}]}]}],
        "entities": {"not": "an array"}}))
    write("page", "not-an-object.json", b'[{"conversations":[]}]')
    write("page", "trailing-garbage.json", b'{"entities":[]} x')
    write("page", "trailing-space.json", b'{"entities":[]} \r\n\t')
    write("page", "bom.json", b'\xef\xbb\xbf{"entities":[]}')
    write("page", "duplicate-keys.json",
          b'{"entities":[{"id":"1","id":"2","version":1,"version":"x"}],"entities":[{}]}')
    write("page", "nan-infinity.json",
          b'{"conversations":[{"n":NaN,"list":[Infinity,-Infinity],"conversationStart":NaN}]}')
    write("page", "empty.bin", b"")

    # -- responses ----------------------------------------------------------
    write("response", "platform-error-long.json", json.dumps({
        "message": "x" * 1500 + "\u00e9" * 10, "code": "c" * 200, "status": 400,
        "contextId": "ctx" * 100, "details": [], "errors": []}))
    write("response", "platform-error-control.json",
          b'{"message":"line1\\nline2\\t\\u0007\\u001b[31m red","code":"bad\\r\\ncode",'
          b'"contextId":"a\\u0000b"}')
    write("response", "platform-error-utf8.json",
          '{"message":"Requ\u00eate refus\u00e9e \u2014 \U0001F600","code":"not.authorized"}')
    write("response", "platform-error-bad-utf8.json",
          b'{"message":"caf\xc3 \xff","code":"\xed\xa0\x80","contextId":"\xc0\xaf"}')
    write("response", "oauth-error.json",
          b'{"error":"invalid_client","description":"client not found","error_description":"bad"}')
    write("response", "html-502.html",
          b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\xe9\xff"
          b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
    write("response", "token-odd.json",
          b'{"access_token":"abc def","token_type":"Bearer","expires_in":-5}')
    write("response", "token-nul.json",
          b'{"access_token":"abc\\u0000def","token_type":"bearer","expires_in":1e30}')
    write("response", "token-types.json",
          b'{"access_token":["x"],"token_type":null,"expires_in":"3600"}')
    # regression seed: expires_in overflowed lifetime * USECS_PER_SEC in auth.c
    write("response", "regress-token-expires-in-int64-max.json",
          b'{"access_token":"tok","token_type":"bearer","expires_in":9223372036854775807}')
    write("response", "jobs-failed.json",
          b'{"state":"FAILED","errorMessage":"Too many results \xe9\\n"}')
    write("response", "jobs-odd-id.json", b'{"jobId":"","state":"QUEUED"}')
    write("response", "jobs-availability-odd.json",
          b'{"dataAvailabilityDate":"2024-13-45T99:99:99.999+25:00"}')
    write("response", "body-with-nul.bin", b'{"code":"x"}\x00{"message":"hidden"}')
    write("response", "empty.bin", b"")

    # -- options: byte 0 = catalog (0 wrapper, 1 server, 2 user mapping,
    #    3 table, 4 column) + 5 * column type + 30 * superuser; then
    #    name=value lines -------------------------------------------------------
    def opts(catalog, lines, coltype=0, superuser=False):
        return bytes([catalog + 5 * coltype + 30 * superuser]) + "\n".join(lines).encode()

    write("options", "server.opts", opts(1, [
        "environment=mypurecloud.ie", "request_timeout=30", "connect_timeout=5",
        "max_retries=3", "max_retry_after=600", "pushdown=off", "mode=jobs",
        "jobs_min_days=7", "jobs_poll_interval=2", "unavailable_data=error",
        "on_conflict=retry"]))
    write("options", "server-urls.opts", opts(1, [
        "api_url=https://api.example.com///", "login_url=http://127.0.0.1:8080/"], superuser=True))
    write("options", "server-loopback-v6.opts", opts(1, [
        "api_url=http://[::1]:9/", "login_url=http://localhost", "ca_file=/etc/ssl/ca.pem"],
        superuser=True))
    write("options", "server-genesys-urls.opts", opts(1, [
        "api_url=https://api.euw2.pure.cloud/", "login_url=https://LOGIN.MYPURECLOUD.DE"]))
    write("options", "server-outside-genesys.opts", opts(1, [
        "api_url=https://api.mypurecloud.com.evil.example", "ca_file=relative.pem"]))
    write("options", "server-userinfo.opts", opts(1, ["api_url=https://user:pw@evil.example/"]))
    write("options", "server-bad-int.opts", opts(1, ["request_timeout= 12 ", "max_retries=-1"]))
    write("options", "user-mapping.opts", opts(2, ["client_id=abc", "client_secret=s3cr3t"]))
    write("options", "secret-on-server.opts", opts(1, ["client_secret=s3cr3t"]))
    write("options", "table.opts", opts(3, [
        "resource=conversations", "page_size=100", "rows_per_day=5000", "mode=query",
        "pushdown=true", "jobs_min_days=31", "on_conflict=error"]))
    write("options", "table-users.opts", opts(3, ["resource=users", "page_size=500"]))
    write("options", "table-no-resource.opts", opts(3, ["page_size=10"]))
    write("options", "wrapper-empty.opts", opts(0, []))
    for i, (key, coltype) in enumerate([
            ("conversation:conversationId", 0), ("participant:.", 1), ("a.b.c", 2),
            (".", 1), ("session:sessionId", 4), ("sipResponseCodes", 3),
            ("attributes", 5), ("user:division.id", 0), ("value", 3), ("name", 4)]):
        write("options", "column-key-%d.opts" % i, opts(4, ["key=" + key], coltype))


def main():
    from_emulator()
    hand_made()
    total = 0
    for kind in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, kind))
        size = sum(os.path.getsize(os.path.join(CORPUS, kind, f)) for f in files)
        total += size
        print("%-9s %3d files %8d bytes" % (kind, len(files), size))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
