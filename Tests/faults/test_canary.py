"""Canaries against the real binary, receivers on loopback (docs/contract.md, "Canaries"): each round's test.ping
goes through the real timer, decision, outbox and delivery; a healthy target passes on schedule, one answering 500
raises system.alarm within timeout_s, and a canary is never on the board or in history."""
import json, time, urllib.request
import fault_harness as fh

METRICS_TOKEN = "canary-metrics-token-0123456789ab"


def config(port, receiver, every=10, timeout=3):
    return fh.yaml_config(
        port, "data",
        targets=(f'  good: {{url: "{receiver.url("/good")}", format: json, secret_env: FAULT_SECRET}}\n'
                 f'  cap: {{url: "{receiver.url("/cap")}", format: cap, secret_env: FAULT_SECRET}}\n'
                 f'  bad: {{url: "{receiver.url("/bad")}", format: json, secret_env: FAULT_SECRET}}\n'
                 f'  alarm: {{url: "{receiver.url("/alarm")}", format: json, secret_env: FAULT_SECRET}}'),
        tokens=["{name: scrape, role: metrics, token_env: METRICS_TOKEN}"],
        extra=f"alarm_targets: [alarm]\ncanary: {{every_s: {every}, targets: [good, cap, bad], timeout_s: {timeout}}}")


def stream_until(v, event_type, count, timeout):
    r = urllib.request.urlopen(urllib.request.Request(
        v.base + "/v1/events", headers={"Authorization": f"Bearer {fh.TOKEN}", "Last-Event-ID": "0"}),
        timeout=timeout)
    seen, end = [], time.time() + timeout
    try:
        while time.time() < end:
            line = r.readline().decode()
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: "):]))
                if sum(e["type"] == event_type for e in seen) >= count:
                    return seen
    finally:
        r.close()
    raise AssertionError(f"{count} {event_type} not seen; saw {[e['type'] for e in seen]}")


def test_a_healthy_target_passes_on_schedule_and_a_failing_one_raises_the_alarm_within_timeout(vigils, receiver):
    receiver.set("/bad", 500)
    v = vigils(config(fh.free_port(), receiver), name="canary", env={"METRICS_TOKEN": METRICS_TOKEN}).start()
    started = time.time()
    good = receiver.wait_for("/good", 2, timeout=25)
    # The first round a second after start, its deadline a second later; the next one every_s (10 s) later.
    assert good[0]["at"] - started <= 4.0, good[0]["at"] - started
    gap = good[1]["at"] - good[0]["at"]
    assert 9.0 <= gap <= 11.5, f"rounds {gap:.2f} s apart, every_s is 10"
    body = json.loads(good[0]["body"])
    assert body["type"] == "test.ping" and body["data"]["test"] is True, body
    assert fh.verify(good[0]["headers"], good[0]["body"]), "signed like every notification"
    assert "location" not in body["data"] and "caller" not in body["data"]
    cap = receiver.got("/cap")[0]["body"].decode()
    assert "<status>Test</status>" in cap, cap[:400]
    # The failing target: no 2xx within timeout_s (3 s) of the deadline -> system.alarm naming it. The deadline
    # is at most the good target's delivery; the alarm may take one watch tick (1 s) and its own delivery.
    alarms = receiver.wait_for("/alarm", 1, timeout=10)
    alarm = json.loads(alarms[0]["body"])
    assert alarm["type"] == "system.alarm" and "bad" in alarm["data"]["reason"], alarm
    assert alarms[0]["at"] - good[0]["at"] <= 3 + 1.5, alarms[0]["at"] - good[0]["at"]
    assert alarms[0]["at"] - good[0]["at"] >= 2.0, "not before the time ran out (the 500s are retried meanwhile)"
    assert not any(json.loads(r["body"]).get("data", {}).get("target") in ("good", "cap") for r in receiver.got("/alarm"))
    events = stream_until(v, "canary.passed", 4, timeout=10)
    passed = [e for e in events if e["type"] == "canary.passed"]
    assert {e["data"]["target"] for e in passed} == {"good", "cap"}
    assert all(e["session_id"] is None and 0 <= e["data"]["latency_ms"] < 2000 for e in passed), passed
    failed = [e for e in events if e["type"] == "canary.failed"]
    assert failed and failed[0]["data"]["target"] == "bad"
    # Never on the board, in history, or on the stream as a session.
    assert all(e["session_id"] is None for e in events if e["type"].startswith("canary."))
    assert not any((e.get("session_id") or "").startswith("cny_") for e in events)
    assert v.call("GET", "/v1/sessions")[1]["sessions"] == []
    assert v.call("GET", "/v1/history")[1]["sessions"] == []
    status, text = v.call("GET", "/metrics", token=METRICS_TOKEN)
    text = text.decode() if isinstance(text, bytes) else text
    assert status == 200
    assert 'vigil_canary_last_success_timestamp_seconds{target="good"}' in text
    assert "vigil_canary_deadline_to_delivery_seconds_count" in text
    status, board = v.call("GET", "/v1/canary")
    assert status == 200 and {t["target"] for t in board["targets"]} == {"good", "cap", "bad"}
    good_row = [t for t in board["targets"] if t["target"] == "good"][0]
    assert good_row["last_success"] is not None and len(good_row["latencies_ms"]) >= 2
