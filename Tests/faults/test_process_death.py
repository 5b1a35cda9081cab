"""kill -9 of the real `vigil serve`: nothing is lost, nothing is doubled."""
import collections, json, os, random, threading, time
import fault_harness as fh

SOAK = os.environ.get("VIGIL_SOAK") == "1"


def ladder_config(receiver, port, ack=3):
    targets = f"""  sup: {{url: "{receiver.url('/sup')}", format: json, secret_env: FAULT_SECRET, timeout_s: 5}}
  ems: {{url: "{receiver.url('/ems')}", format: json, secret_env: FAULT_SECRET, timeout_s: 5}}"""
    policy = f"default: {{ack_timeout_s: {ack}, steps: [{{after_s: 0, notify: [sup]}}, {{after_s: 1, dispatch: [ems]}}]}}"
    return fh.yaml_config(port, "data", targets, policy)


def test_a_deadline_that_passed_while_the_service_was_dead_fires_once_within_1s_of_readiness(vigils, receiver):
    v = vigils(ladder_config(receiver, fh.free_port())).start()
    s = v.start_session(interval=2, grace=1)
    time.sleep(1.0)
    v.kill9()
    time.sleep(4.5)  # the notify step (3 s) and the dispatch step (4 s) both pass while dead
    v.start()
    got = receiver.wait_for("/ems", 1, timeout=5)
    assert len(got) == 1
    assert got[0]["at"] - v.ready_at <= 1.0, f"dispatch {got[0]['at'] - v.ready_at:.3f} s after readiness"
    time.sleep(2)
    assert len(receiver.got("/ems")) == 1, "dispatched once"
    assert len(receiver.got("/sup")) == 1
    events = v.call("GET", f"/v1/sessions/{s['id']}")[1]["events"]
    overdue = [e for e in events if e["type"] == "check_in.overdue"][0]
    assert overdue["data"]["late_ms"] >= 2500, "the event records how late it fired"


def test_a_delivery_in_flight_during_kill_9_is_redelivered_with_the_same_webhook_id(vigils, receiver):
    receiver.set("/ems", {"status": 200, "delay": 3}, 200)
    v = vigils(ladder_config(receiver, fh.free_port())).start()
    s = v.start_session(interval=3600)
    assert v.call("POST", f"/v1/sessions/{s['id']}/dispatch", {})[0] == 202
    assert receiver.wait_for("/ems", 1, timeout=5)
    v.kill9()
    v.start()
    ready = time.time()
    got = receiver.wait_for("/ems", 2, timeout=15)
    assert len(got) == 2
    # An orphan of the dead process is resent at once, not after its attempt's lease (timeout + 1 s) runs out.
    assert got[1]["at"] - ready <= 2.0, got[1]["at"] - ready
    assert got[0]["headers"]["webhook-id"] == got[1]["headers"]["webhook-id"]
    assert got[0]["body"] == got[1]["body"], "the body is serialized once"
    end = time.time() + 10
    while time.time() < end and v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] != "dispatched":
        time.sleep(0.05)
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "dispatched"
    time.sleep(1.5)
    assert len(receiver.got("/ems")) == 2


def test_random_kill_9_during_many_sessions_loses_nothing_and_doubles_nothing(vigils, receiver):
    rng = random.Random(int(os.environ.get("VIGIL_SEED", "7")))
    kills = 40 if SOAK else 6
    n_sessions = 40 if SOAK else 12
    v = vigils(ladder_config(receiver, fh.free_port())).start()
    ids = [v.start_session(interval=rng.choice([2, 3, 4]), grace=1)["id"] for _ in range(n_sessions)]
    stop = threading.Event()
    checkins = collections.Counter()

    def keep_some_alive():
        while not stop.is_set():
            sid = rng.choice(ids)
            try:
                if v.call("POST", f"/v1/sessions/{sid}/check-ins", {"source": "device"}, timeout=2)[0] == 200:
                    checkins[sid] += 1
            except Exception:
                pass
            time.sleep(rng.uniform(0.05, 0.4))

    t = threading.Thread(target=keep_some_alive, daemon=True)
    t.start()
    survived = 0
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 2.5))
        v.kill9()
        survived += 1
        time.sleep(rng.uniform(0, 1.5))
        v.start()
    stop.set()
    t.join()
    # Let every ladder run to its end: every session must end up dispatched.
    end = time.time() + 30
    states = {}
    while time.time() < end:
        states = {sid: v.call("GET", f"/v1/sessions/{sid}")[1] for sid in ids}
        if all(s["state"] == "dispatched" for s in states.values()):
            break
        time.sleep(0.2)
    assert all(s["state"] == "dispatched" for s in states.values()), {k: s["state"] for k, s in states.items()}

    bodies = collections.defaultdict(set)
    for r in receiver.got():
        assert fh.verify(r["headers"], r["body"]), "every delivery is signed"
        bodies[r["headers"]["webhook-id"]].add(r["body"])
    assert all(len(b) == 1 for b in bodies.values()), "no webhook id carries two different notifications"

    for sid, s in states.items():
        events = s["events"]
        step_seen, dispatches = set(), 0
        for e in events:
            if e["type"] == "check_in.received" and e["data"].get("previous_state") != "dispatched":
                step_seen, dispatches = set(), 0
            if e["type"] == "escalation.step":
                assert e["data"]["step"] not in step_seen, f"{sid}: step {e['data']['step']} fired twice"
                step_seen.add(e["data"]["step"])
                for wid in e["data"].get("webhook_ids", []):
                    assert wid in bodies, f"{sid}: notification {wid} never arrived"
            if e["type"] == "dispatch.requested":
                dispatches += 1
                assert dispatches == 1, f"{sid}: two dispatches in one escalation"
            if e["type"] == "dispatch.accepted":
                assert e["data"]["webhook_id"] in bodies
        assert [e["type"] for e in events].count("session.started") == 1
        # Every check-in answered 200 was durable before the answer: it is in the log, whatever was killed after.
        recorded = [e["type"] for e in events].count("check_in.received")
        assert recorded >= checkins[sid], f"{sid}: {checkins[sid]} check-ins answered 200, {recorded} in the log"
        # One webhook id per dispatch the timeline records, counted at the receiver: a crash never makes a second.
        sent = {r["headers"]["webhook-id"] for r in receiver.got("/ems")
                if json.loads(r["body"])["type"] == "dispatch.requested"
                and json.loads(r["body"])["data"]["session"]["id"] == sid}
        in_log = [e["type"] for e in events].count("dispatch.requested")
        assert len(sent) == in_log, f"{sid}: {in_log} dispatches in the log, {len(sent)} webhook ids received"
    print(f"kill -9 survived: {survived}; sessions: {n_sessions}; check-ins: {sum(checkins.values())}; "
          f"webhooks received: {len(receiver.got())} ({len(bodies)} distinct ids)")
