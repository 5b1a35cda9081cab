"""An acknowledge never silences a person for good, against the real binary: when its pause ends the session alarms
again (`escalation.resumed`), and with no ladder step left the alarm repeats every ack_timeout_s."""
import json, os, time
import pytest
import fault_harness as fh


def wait_state(v, sid, state, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        s = v.call("GET", f"/v1/sessions/{sid}")[1]
        if s["state"] == state:
            return s
        time.sleep(0.1)
    raise AssertionError(f"{sid} never reached {state}")


def resumes(v, sid):
    return [e for e in v.call("GET", f"/v1/sessions/{sid}")[1]["events"] if e["type"] == "escalation.resumed"]


def wait_resumes(v, sid, n, timeout):
    end = time.time() + timeout
    while time.time() < end:
        got = resumes(v, sid)
        if len(got) >= n:
            return got
        time.sleep(0.1)
    return resumes(v, sid)


@pytest.mark.parametrize("ladder", ["console-only", "used-up"])
def test_an_acknowledged_session_alarms_again_after_each_pause(vigils, receiver, ladder):
    if ladder == "console-only":
        targets, policy = "", "default: {ack_timeout_s: 2, steps: []}"
    else:
        targets = f"  sup: {{url: \"{receiver.url('/sup')}\", format: json, secret_env: FAULT_SECRET}}"
        policy = "default: {ack_timeout_s: 2, steps: [{after_s: 0, notify: [sup]}]}"
    v = vigils(fh.yaml_config(0, "data", targets, policy), name=f"ack-{ladder}")
    v.start()
    s = v.start_session(interval=1, grace=1)
    wait_state(v, s["id"], "escalating")
    if ladder == "used-up":
        assert receiver.wait_for("/sup", 1, timeout=5), "the only step fired"

    # First acknowledge: the pause ends 2 s later with escalation.resumed.
    status, _ = v.call("POST", f"/v1/sessions/{s['id']}/acknowledge", {})
    assert status == 200
    acked = time.time()
    assert resumes(v, s["id"]) == []
    got = wait_resumes(v, s["id"], 1, timeout=5)
    assert len(got) == 1, "the pause's end alarms again"
    assert 1.5 <= time.time() - acked <= 4.5

    # Not acknowledged again: the alarm repeats every ack_timeout_s.
    got = wait_resumes(v, s["id"], 2, timeout=5)
    assert len(got) == 2 and got[1]["data"].get("repeat") is True, got

    # A second acknowledge pauses again; its end alarms again, after a restart in between.
    v.call("POST", f"/v1/sessions/{s['id']}/acknowledge", {})
    before = len(resumes(v, s["id"]))
    v.kill9()
    v.start()
    got = wait_resumes(v, s["id"], before + 1, timeout=6)
    assert len(got) == before + 1, "the pause's end survives a restart"
    assert got[-1]["data"].get("repeat") is None
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "escalating"

    # A check-in ends it.
    v.call("POST", f"/v1/sessions/{s['id']}/check-ins", {})
    count = len(resumes(v, s["id"]))
    time.sleep(4.5)
    assert len(resumes(v, s["id"])) == count, "a check-in stops the alarm"
    timeline = [(e["at"][11:23], e["type"], {k: e["data"][k] for k in ("operator", "repeat", "steps_left")
                                               if k in e["data"]}) for e in v.call("GET", f"/v1/sessions/{s['id']}")[1]["events"]]
    os.makedirs(os.path.join(fh.ROOT, "artifacts"), exist_ok=True)
    with open(os.path.join(fh.ROOT, "artifacts", f"acknowledge-timeline-{ladder}.json"), "w") as f:
        json.dump(timeline, f, indent=1)
