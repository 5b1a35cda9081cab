"""After an outage, against the real binary: `kill -9`, twelve sessions lapsing while no process runs, and the
restart counts them together by their due times before deciding any (docs/contract.md, "After an outage"): one
system.mass_lapse, the hold of the policy that has one, the others dispatched as usual, and system.recovered."""
import datetime, json, time, urllib.request
import fault_harness as fh

SUP_TOKEN = "outage-supervisor-token-0123456"


def config(port, receiver):
    return fh.yaml_config(
        port, "data",
        targets=(f'  ems: {{url: "{receiver.url("/ems")}", format: json, secret_env: FAULT_SECRET}}\n'
                 f'  alarm: {{url: "{receiver.url("/alarm")}", format: json, secret_env: FAULT_SECRET}}'),
        policy=("default: {ack_timeout_s: 60, hold_dispatch_on_mass_lapse_s: 30, steps: [{after_s: 0, dispatch: [ems]}]}\n"
                "  prompt: {ack_timeout_s: 60, steps: [{after_s: 0, dispatch: [ems]}]}"),
        tokens=["{name: lead, role: supervisor, token_env: SUP_TOKEN}"],
        extra="alarm_targets: [alarm]\nmass_lapse: {sessions: 10, within_s: 60}")


def events_until(v, wanted, timeout=10):
    """Every event from the start of the log (Last-Event-ID 0) until each type in `wanted` has been seen."""
    r = urllib.request.urlopen(urllib.request.Request(
        v.base + "/v1/events", headers={"Authorization": f"Bearer {fh.TOKEN}", "Last-Event-ID": "0"}), timeout=timeout)
    seen, end = [], time.time() + timeout
    try:
        while time.time() < end:
            line = r.readline().decode()
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: "):]))
                if set(wanted) <= {e["type"] for e in seen}:
                    return seen
    finally:
        r.close()
    raise AssertionError(f"not all of {wanted}; saw {[e['type'] for e in seen]}")


def all_events(v, seconds):
    """Every event the stream replays from the start of the log and sends within `seconds`."""
    import socket
    r = urllib.request.urlopen(urllib.request.Request(
        v.base + "/v1/events", headers={"Authorization": f"Bearer {fh.TOKEN}", "Last-Event-ID": "0"}), timeout=seconds)
    seen, end = [], time.time() + seconds
    try:
        while time.time() < end:
            try:
                line = r.readline().decode()
            except (socket.timeout, TimeoutError):
                break
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: "):]))
    finally:
        r.close()
    return seen


def test_twelve_lapses_while_killed_are_counted_together_at_restart(vigils, receiver):
    v = vigils(config(fh.free_port(), receiver), name="outage", env={"SUP_TOKEN": SUP_TOKEN}).start()
    held = [v.start_session(interval=4, grace=1, policy="default", caller={"alias": f"H{k}"}) for k in range(8)]
    prompt = [v.start_session(interval=4, grace=1, policy="prompt", caller={"alias": f"P{k}"}) for k in range(4)]
    time.sleep(1.0)
    v.kill9()
    killed = time.time()
    time.sleep(6)  # every session lapses (5 s after its start) while no process runs
    v.start()
    ready = v.ready_at
    alarms = receiver.wait_for("/alarm", 1, timeout=10, type_="system.mass_lapse")
    assert json.loads(alarms[0]["body"])["data"]["count"] == 12, alarms[0]["body"]
    # The four without a hold proceed as usual: dispatched at once.
    ems = receiver.wait_for("/ems", 4, timeout=5)
    time.sleep(3)
    ems = receiver.got("/ems")
    sent_for = {json.loads(r["body"])["data"]["session"]["id"] for r in ems}
    assert sent_for == {s["id"] for s in prompt}, "only the sessions whose policy has no hold are dispatched"
    # (The watchdog may also report the deadlines it found past at start: a system.alarm, not counted here.)
    assert len(receiver.got("/alarm", type_="system.mass_lapse")) == 1, "one mass-lapse alarm"
    for s in held:
        got = v.call("GET", f"/v1/sessions/{s['id']}")[1]
        assert got["state"] == "escalating", got["state"]
        assert got["mass_lapse_hold_until"] is not None, "held from the moment of recovery"
        until = datetime.datetime.fromisoformat(got["mass_lapse_hold_until"].replace("Z", "+00:00")).timestamp()
        # The hold runs 30 s from recovery, not from each lapse (which would have ended it 2-3 s ago): recovery
        # comes before readiness, by at most the start-up's 2 s here.
        assert ready - 2 + 30 <= until <= ready + 30 + 0.5, (until - ready)
    events = events_until(v, ["system.recovered", "system.mass_lapse"])
    time.sleep(0.5)
    recovered = [e for e in events if e["type"] == "system.recovered"][0]
    assert recovered["session_id"] is None
    down = recovered["data"]["down_s"]
    # Away from the last mark (at most 1 s before the kill) to the restart (after the 6 s sleep and the start).
    assert 6 <= down <= (ready - killed) + 2, (down, ready - killed)
    assert recovered["data"]["lapsed_while_down"] == 12
    assert {x["alias"] for x in recovered["data"]["sessions"]} == {f"H{k}" for k in range(8)} | {f"P{k}" for k in range(4)}
    assert [e["type"] for e in events].count("system.mass_lapse") == 1
    again = all_events(v, seconds=2)
    assert [e["type"] for e in again].count("system.mass_lapse") == 1, "raised once"
    assert [e["type"] for e in again].count("system.recovered") == 1
