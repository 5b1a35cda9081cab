"""Three instances on one PostgreSQL under check-in load, one of them killed with SIGKILL every few seconds while
sessions lapse: every dispatch arrives, once, within 2 s of its due time; no checked-in session is dispatched.
Prints the failover figures (VIGIL_SOAK=1: more sessions and kills)."""
import json, os, random, statistics, threading, time
import fault_harness as fh
import pg_harness
from test_postgres import start, pg, fresh_db  # noqa: F401  (fixtures)

SOAK = os.environ.get("VIGIL_SOAK") == "1"


def test_random_kills_under_load_lose_and_double_no_dispatch(vigils, receiver, fresh_db):
    pg, url = fresh_db
    policy = "default: {ack_timeout_s: 30, steps: [{after_s: 0, dispatch: [ems]}]}"
    nodes = [start(vigils, url, name, receiver, policy=policy) for name in ("a", "b", "c")]
    rng = random.Random(7)
    lapsing, staying = [], []
    count = 200 if SOAK else 80
    for i in range(count):
        v = nodes[i % 3]
        s = v.start_session(interval=rng.randint(5, 14 if SOAK else 10), grace=1)
        (lapsing if i % 2 == 0 else staying).append(s)
    due = {s["id"]: fh_time(s["next_check_in_due_at"]) + 1.0 for s in lapsing}

    stop = threading.Event()
    kills = []

    def killer():
        while not stop.is_set():
            time.sleep(2.5)
            if stop.is_set():
                break
            v = rng.choice(nodes)
            v.kill9()
            kills.append(time.time())
            time.sleep(1.0)
            v.start()

    def checker():
        while not stop.is_set():
            for s in staying:
                for v in rng.sample(nodes, 3):
                    try:
                        if v.call("POST", f"/v1/sessions/{s['id']}/check-ins", {}, timeout=2)[0] == 200:
                            break
                    except Exception:
                        continue
            time.sleep(1.0)

    threads = [threading.Thread(target=killer), threading.Thread(target=checker)]
    for t in threads:
        t.start()
    try:
        last = max(due.values())
        while time.time() < last + 4:
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    for v in nodes:
        if v.proc.poll() is not None:
            v.start()
    time.sleep(2)

    got = receiver.got("/ems")
    by_session = {}
    for r in got:
        body = json.loads(r["body"])
        by_session.setdefault(body["data"]["session"]["id"], []).append(r)
    staying_ids = {s["id"] for s in staying}
    assert not (staying_ids & set(by_session)), "a session that kept checking in was dispatched"
    lost = [sid for sid in due if sid not in by_session]
    ids_per_session = {sid: {r["headers"]["webhook-id"] for r in rs} for sid, rs in by_session.items()}
    doubled = [sid for sid, ids in ids_per_session.items() if len(ids) > 1]
    resent = sum(len(rs) - 1 for rs in by_session.values())
    lateness = sorted(min(r["at"] for r in by_session[sid]) - due[sid] for sid in due if sid in by_session)
    q = lambda p: lateness[min(len(lateness) - 1, int(p * (len(lateness) - 1)))]
    print(f"\nfailover: {len(nodes)} instances, {len(kills)} kills, {len(due)} dispatches due, lost {len(lost)}, "
          f"doubled {len(doubled)}, resent with the same id {resent}; due -> received p50 {q(0.5):.3f} s, "
          f"p99 {q(0.99):.3f} s, max {lateness[-1]:.3f} s")
    assert len(kills) >= 3
    assert lost == [], f"dispatches lost: {lost}"
    assert doubled == [], "a second dispatch (another webhook id) for one session"
    assert lateness[-1] <= 2.0, f"a dispatch {lateness[-1]:.2f} s after its due time"


def fh_time(rfc3339):
    from datetime import datetime
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
