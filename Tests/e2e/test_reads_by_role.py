"""Reads by role against the real binary over HTTP: a viewer's token (a wallboard's) can never obtain the person's
check-in link, which would let it silence anyone's ladder, and reads no personal data; staff get the link only
through the recorded `check-in-link`."""
import json, socket, time, urllib.error, urllib.request
import fault_harness as fh

VIEWER = "wallboard-viewer-token-0123456789"
# Every personal value the session below holds, and a note someone types on it.
PERSONAL = ["123 Main St", "4B", "+15551234567", "side door code 1234", "naloxone on the table", "fentanyl",
            "39.7817", "-89.6501", "62701", "at her sister's"]


def config():
    return fh.yaml_config(0, "data", tokens=["{name: wall, role: viewer, token_env: WALL_TOKEN}"])


def read_stream(v, token, seconds=2.0):
    """What the event stream sends `token` from the first event on, for `seconds`."""
    req = urllib.request.Request(v.base + "/v1/events",
                                 headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "0"})
    got = b""
    with urllib.request.urlopen(req, timeout=seconds) as r:
        assert r.status == 200
        end = time.time() + seconds
        while time.time() < end:
            try:
                chunk = r.read1(65536)
            except (socket.timeout, TimeoutError):
                break
            if not chunk:
                break
            got += chunk
    return got.decode()


def test_a_viewer_token_never_obtains_the_check_in_link_nor_personal_data(vigils):
    v = vigils(config(), name="reads-viewer", env={"WALL_TOKEN": VIEWER}).start()
    s = v.start_session(interval=600, grace=30, substance="fentanyl",
                        location={"address": "123 Main St", "unit": "4B", "city": "Springfield", "region": "IL",
                                  "postal_code": "62701", "country": "US", "access_notes": "side door code 1234",
                                  "latitude": 39.7817, "longitude": -89.6501})
    link = s["check_in_url"]
    token = link.rsplit("/", 1)[-1]
    assert link.endswith("/c/" + token) and len(token) >= 22, "the answer that starts the session gives the link"
    sid = s["id"]
    status, _ = v.call("POST", f"/v1/sessions/{sid}/check-ins", {"note": "at her sister's"})
    assert status == 200

    reads = {}
    for path in ["/v1/sessions", "/v1/sessions?state=all", "/v1/sessions?state=active", f"/v1/sessions/{sid}",
                 f"/v1/sessions/{sid}/timeline", f"/v1/sessions/{sid}/timeline?format=csv", "/v1/history",
                 "/v1/follow-ups", "/v1/stats"]:
        status, body = v.call("GET", path, token=VIEWER)
        assert status == 200, (path, status, body)
        reads[path] = body if isinstance(body, str) else (body.decode() if isinstance(body, bytes) else json.dumps(body))
    reads["stream"] = read_stream(v, VIEWER)
    assert sid in reads["stream"], "the stream was read"
    assert "check_in.received" in reads["stream"]
    for where, text in reads.items():
        assert token not in text and "check_in_url" not in text, f"a viewer read the link in {where}"
        for p in PERSONAL:
            assert p not in text, f"a viewer read {p!r} in {where}"

    one = v.call("GET", f"/v1/sessions/{sid}", token=VIEWER)[1]
    assert one["caller"] == {"alias": "J"}
    assert one["location"] == {"city": "Springfield", "region": "IL", "country": "US", "redacted": True}
    assert "notes" not in one and "substance" not in one

    # Nor through the routes that give it or the location out: both are staff-only, and nothing is recorded.
    for path in [f"/v1/sessions/{sid}/check-in-link", f"/v1/sessions/{sid}/location/reveal"]:
        status, body = v.call("POST", path, {}, token=VIEWER)
        assert status == 403 and body["error"]["code"] == "forbidden", (path, status, body)
        assert token not in json.dumps(body)
    events = v.call("GET", f"/v1/sessions/{sid}")[1]["events"]
    assert not [e for e in events if e["type"] in ("link.viewed", "location.viewed")]


def test_staff_reads_carry_no_link_and_the_check_in_link_route_records_who_asked(vigils):
    v = vigils(config(), name="reads-link", env={"WALL_TOKEN": VIEWER}).start()
    s = v.start_session(interval=600, grace=30)
    sid, token = s["id"], s["check_in_url"].rsplit("/", 1)[-1]
    for path in ["/v1/sessions", f"/v1/sessions/{sid}", f"/v1/sessions/{sid}/timeline"]:
        status, body = v.call("GET", path)
        assert status == 200 and token not in json.dumps(body), path
    assert token not in read_stream(v, fh.TOKEN)

    # Asked twice with the same Idempotency-Key: answered and recorded both times, never replayed.
    for _ in range(2):
        status, body = v.call("POST", f"/v1/sessions/{sid}/check-in-link", {}, headers={"Idempotency-Key": "k1"})
        assert status == 200, body
        assert body["check_in_url"] == s["check_in_url"] and body["id"] == sid
    events = v.call("GET", f"/v1/sessions/{sid}")[1]["events"]
    viewed = [e for e in events if e["type"] == "link.viewed"]
    assert len(viewed) == 2, events
    assert all(e["data"]["by"] == "console" and e["data"]["role"] == "operator" for e in viewed)
    assert token not in json.dumps(events), "the timeline records who asked, never the link"

    # The link it gave works: the person's page checks in.
    req = urllib.request.Request(v.base + body["check_in_url"], data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def test_the_command_line_gives_the_link_on_request_and_confirms_a_dispatch_with_the_revealed_address(vigils):
    import os, subprocess
    v = vigils(config(), name="reads-cli", env={"WALL_TOKEN": VIEWER}).start()
    s = v.start_session(interval=600, grace=30)
    env = dict(os.environ, VIGIL_TOKEN=fh.TOKEN)
    run = lambda *args, **kw: subprocess.run([fh.BIN, *args, "--server", v.base], capture_output=True, text=True,
                                             env=env, timeout=30, **kw)
    r = run("session", "link", s["id"])
    assert r.returncode == 0 and r.stdout.strip() == s["check_in_url"], (r.stdout, r.stderr)
    # An active session's read has no address: the confirmation reads it through the recorded reveal.
    r = run("dispatch", s["id"], input="no\n")
    assert r.returncode == 1 and "Dispatch emergency services to 123 Main St?" in r.stdout, (r.stdout, r.stderr)
    assert "Not dispatched." in r.stdout
    types = [e["type"] for e in v.call("GET", f"/v1/sessions/{s['id']}")[1]["events"]]
    assert types.count("link.viewed") == 1 and types.count("location.viewed") == 1, types
    assert "dispatch.requested" not in types
    # A viewer's token is refused the link, and the command says so.
    r = subprocess.run([fh.BIN, "session", "link", s["id"], "--server", v.base], capture_output=True, text=True,
                       env=dict(os.environ, VIGIL_TOKEN=VIEWER), timeout=30)
    assert r.returncode == 1 and "HTTP 403" in r.stderr and s["check_in_url"] not in r.stdout + r.stderr
