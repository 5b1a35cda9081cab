"""Idempotency keys, text replays and fresh links on two `vigil serve` instances sharing one real PostgreSQL 15
(docs/contract.md: an `Idempotency-Key` is kept per token for 24 h in the store, so every instance sees it; a
`MessageSid` seen before gets the first answer and changes nothing; the person's link works on every instance)."""
import json, threading, time, urllib.parse, urllib.request
import pytest
import fault_harness as fh
import pg_harness
from test_postgres import pg, fresh_db, instance_config, KEY  # noqa: F401 (fixtures)
from test_inbound_sms import sign, TWILIO_TOKEN

GATEWAY_URL = "https://vigil.example.org"
MANUAL = "default: {ack_timeout_s: 600, steps: [{after_s: 600, notify: [sup]}, {after_s: 600, dispatch: [ems]}]}"


def two(vigils, receiver, url, sms=False):
    out = []
    for name in ("a", "b"):
        text = instance_config(url, name, receiver, MANUAL)
        if sms:
            text += f'public_url: "{GATEWAY_URL}/"\nsms: {{provider: twilio, auth_token_env: TWILIO_TOKEN}}\n'
        v = vigils(text, name=f"idem-{name}", env={"PGPASS": pg_harness.Postgres.password, "VIGIL_KEY": KEY,
                                                  "TWILIO_TOKEN": TWILIO_TOKEN})
        v.start()
        out.append(v)
    return out


def start_body(address="123 Main St"):
    return {"location": {"address": address}, "caller": {"alias": "J", "callback_number": "+15551234567"},
            "check_in_interval_s": 600, "grace_s": 60, "policy": "default"}


def post(v, path, body, key):
    return v.call("POST", path, body, headers={"Idempotency-Key": key})


def open_ids(v):
    return sorted(s["id"] for s in v.call("GET", "/v1/sessions?state=all")[1]["sessions"])


def test_the_same_start_retried_against_the_other_instance_makes_one_session(vigils, receiver, fresh_db):
    pg, url = fresh_db
    a, b = two(vigils, receiver, url)
    s1, first = post(a, "/v1/sessions", start_body(), "start-1")
    s2, again = post(b, "/v1/sessions", start_body(), "start-1")
    assert (s1, s2) == (201, 201), (first, again)
    assert again == first, "the first answer, the person's link included"
    assert open_ids(a) == open_ids(b) == [first["id"]]


def test_a_reused_key_with_another_body_is_a_422_and_starts_nothing(vigils, receiver, fresh_db):
    pg, url = fresh_db
    a, b = two(vigils, receiver, url)
    assert post(a, "/v1/sessions", start_body(), "start-2")[0] == 201
    status, err = post(b, "/v1/sessions", start_body("9 Other Rd"), "start-2")
    assert status == 422, err
    assert err["error"]["code"] == "idempotency_key_reused"
    assert len(open_ids(a)) == 1


def test_a_dispatch_repeated_with_its_own_key_gives_the_first_answer_and_one_dispatch(vigils, receiver, fresh_db):
    pg, url = fresh_db
    a, b = two(vigils, receiver, url)
    s = a.start_session(interval=600, grace=60)
    body = {"note": "caller asked"}
    s1, first = post(a, f"/v1/sessions/{s['id']}/dispatch", body, "dispatch-1")
    s2, again = post(b, f"/v1/sessions/{s['id']}/dispatch", body, "dispatch-1")
    assert (s1, s2) == (202, 202), (first, again)
    assert again == first
    receiver.wait_for("/ems", 1, timeout=10)
    time.sleep(2)
    assert len(receiver.got("/ems")) == 1, "one dispatch"


def test_a_key_used_for_an_acknowledge_reused_on_a_dispatch_is_a_422_never_a_silent_202(vigils, receiver, fresh_db):
    pg, url = fresh_db
    a, b = two(vigils, receiver, url)
    s = a.start_session(interval=600, grace=60)
    ack_status, _ = post(a, f"/v1/sessions/{s['id']}/acknowledge", {}, "k-ack")
    status, err = post(b, f"/v1/sessions/{s['id']}/dispatch", {}, "k-ack")
    assert status == 422, (ack_status, status, err)
    time.sleep(1.5)
    assert receiver.got("/ems") == [], "nothing dispatched"


def test_a_replayed_message_sid_on_the_other_instance_changes_nothing(vigils, receiver, fresh_db):
    pg, url = fresh_db
    a, b = two(vigils, receiver, url, sms=True)
    s = a.start_session(interval=600, grace=60)
    params = {"From": "+15551234567", "To": "+18005550100", "Body": "ok", "MessageSid": "SM" + "7" * 32,
              "AccountSid": "AC" + "0" * 32}
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": sign(GATEWAY_URL + "/v1/inbound/sms", params)}
    raw = urllib.parse.urlencode(params).encode()
    s1, first = a.call("POST", "/v1/inbound/sms", raw=raw, headers=headers, token=None)
    assert s1 == 200 and b"received" in first, first
    after = a.call("GET", f"/v1/sessions/{s['id']}")[1]
    s2, again = b.call("POST", "/v1/inbound/sms", raw=raw, headers=headers, token=None)
    assert (s2, again) == (200, first)
    time.sleep(1)
    final = b.call("GET", f"/v1/sessions/{s['id']}")[1]
    assert final["version"] == after["version"]
    assert [e["type"] for e in final["events"]].count("check_in.received") == 1


def test_the_first_tap_on_the_other_instance_within_100_ms_of_the_start_checks_in(vigils, receiver, fresh_db):
    pg, url = fresh_db
    a, b = two(vigils, receiver, url)
    for _ in range(5):
        s = a.start_session(interval=600, grace=60)
        answered = time.monotonic()
        path = urllib.parse.urlparse(s["check_in_url"]).path
        req = urllib.request.Request(b.base + path, data=b"", method="POST")
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        # The tap leaves within 100 ms of the 201 (a few ms on loopback), whatever B has read of the log by then.
        assert sent - answered < 0.1, sent - answered
        assert status == 200, "the link works on the other instance at once"
        events = a.call("GET", f"/v1/sessions/{s['id']}")[1]["events"]
        assert [e["type"] for e in events].count("check_in.received") == 1


def test_two_concurrent_requests_with_one_key_make_one_session(vigils, receiver, fresh_db):
    pg, url = fresh_db
    a, b = two(vigils, receiver, url)
    for n in range(5):
        results, barrier = [], threading.Barrier(2)

        def go(v):
            barrier.wait()
            results.append(post(v, "/v1/sessions", start_body(), f"race-{n}"))

        threads = [threading.Thread(target=go, args=(v,)) for v in (a, b)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        statuses = sorted(r[0] for r in results)
        assert statuses in ([201, 201], [201, 409]), results
        if statuses == [201, 201]:
            assert results[0][1] == results[1][1]
        else:
            conflict = next(r[1] for r in results if r[0] == 409)
            assert conflict["error"]["code"] == "in_progress"
    assert len(open_ids(a)) == 5, "one session per key"
