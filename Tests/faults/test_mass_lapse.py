"""A mass lapse against the real binary: many sessions lapsing together raise one system.mass_lapse alarm, and a
policy's hold keeps their dispatches back until it ends or a supervisor releases it (docs/contract.md, "Mass lapse")."""
import json, time, urllib.request
import fault_harness as fh

SUP_TOKEN = "mass-lapse-supervisor-token-0123"


def config(port, receiver, hold, sessions, within, after_s=4):
    return fh.yaml_config(
        port, "data",
        targets=(f'  ems: {{url: "{receiver.url("/ems")}", format: json, secret_env: FAULT_SECRET}}\n'
                 f'  alarm: {{url: "{receiver.url("/alarm")}", format: json, secret_env: FAULT_SECRET}}'),
        policy=(f"default: {{ack_timeout_s: 60, hold_dispatch_on_mass_lapse_s: {hold}, "
                f"steps: [{{after_s: {after_s}, dispatch: [ems]}}]}}"),
        tokens=["{name: lead, role: supervisor, token_env: SUP_TOKEN}"],
        extra=f"alarm_targets: [alarm]\nmass_lapse: {{sessions: {sessions}, within_s: {within}}}")


def start_many(v, n):
    return [v.start_session(interval=3, grace=1) for _ in range(n)]


def test_thirty_sessions_lapsing_within_ten_seconds_raise_one_alarm_and_hold_every_dispatch(vigils, receiver):
    v = vigils(config(fh.free_port(), receiver, hold=8, sessions=20, within=10), name="mass-lapse",
               env={"SUP_TOKEN": SUP_TOKEN})
    v.start()
    t0 = time.time()
    sessions = start_many(v, 30)
    assert time.time() - t0 < 8, "30 sessions started within the window"
    alarms = receiver.wait_for("/alarm", 1, timeout=20)
    assert len(alarms) == 1
    assert fh.verify(alarms[0]["headers"], alarms[0]["body"])
    body = json.loads(alarms[0]["body"])
    assert body["type"] == "system.mass_lapse"
    assert body["data"]["count"] > 20, body
    caught_at = alarms[0]["at"]
    # Every session lapses, and the hold (8 s) outlasts the dispatch step (4 s after each lapse).
    ems = receiver.wait_for("/ems", 30, timeout=30)
    assert len(ems) == 30, len(ems)
    first = min(r["at"] for r in ems)
    assert first >= caught_at + 7.5, f"a dispatch went {first - caught_at:.1f} s after the alarm, inside the hold"
    time.sleep(1)
    assert len(receiver.got("/alarm")) == 1, "one alarm per episode"
    held = [e for e in v.call("GET", f"/v1/sessions/{sessions[0]['id']}")[1]["events"]
            if e["type"] == "mass_lapse.held"]
    assert len(held) == 1 and held[0]["data"]["count"] > 20


def test_a_supervisor_releases_the_hold_and_an_operator_may_dispatch_one_by_hand(vigils, receiver):
    v = vigils(config(fh.free_port(), receiver, hold=300, sessions=3, within=10), name="mass-lapse-release",
               env={"SUP_TOKEN": SUP_TOKEN})
    v.start()
    console = urllib.request.urlopen(urllib.request.Request(
        v.base + "/v1/events", headers={"Authorization": f"Bearer {fh.TOKEN}"}), timeout=20)
    sessions = start_many(v, 5)
    assert receiver.wait_for("/alarm", 1, timeout=15)
    # The console sees it on its live stream, as a system event (no session).
    while True:
        line = console.readline().decode()
        if line.startswith("data: ") and '"system.mass_lapse"' in line:
            event = json.loads(line[len("data: "):])
            assert event["type"] == "system.mass_lapse" and event["session_id"] is None
            assert event["data"]["count"] > 3, event
            break
    console.close()
    time.sleep(6)
    assert receiver.got("/ems") == [], "held"
    s = v.call("GET", f"/v1/sessions/{sessions[0]['id']}")[1]
    assert s["mass_lapse_hold_until"] is not None
    # An operator dispatches one by hand: never held.
    assert v.call("POST", f"/v1/sessions/{sessions[0]['id']}/dispatch", {})[0] == 202
    assert len(receiver.wait_for("/ems", 1, timeout=5)) == 1
    assert v.call("POST", "/v1/system/mass-lapse/release", {})[0] == 403, "operators may not release"
    status, body = v.call("POST", "/v1/system/mass-lapse/release", {}, token=SUP_TOKEN)
    assert status == 200 and body["released"] == 4, body
    assert len(receiver.wait_for("/ems", 5, timeout=5)) == 5
