"""Lapse storms and an instance's death on PostgreSQL: many sessions falling due in the same instant, and the
survivor of a kill -9 taking over the dead instance's lapses. Each dispatch arrives exactly once, and every
`vigil serve` is still alive at the end. CI runs these against the release build too, VIGIL_STORM_RUNS times
(scripts/test.sh: 3, or 20 with --soak): a fault of the optimized build once stopped Vigil here and nowhere
else."""
import json, os, time
import pytest
import fault_harness as fh
from test_postgres import start, pg, fresh_db  # noqa: F401  (fixtures)

RUNS = max(1, int(os.environ.get("VIGIL_STORM_RUNS", "1")))
DISPATCH_AT_ONCE = "default: {ack_timeout_s: 30, steps: [{after_s: 0, dispatch: [ems]}]}"


def due_of(s):
    from datetime import datetime
    return datetime.fromisoformat(s["next_check_in_due_at"].replace("Z", "+00:00")).timestamp() + 1.0


def dispatches_by_session(receiver):
    out = {}
    for r in receiver.got("/ems"):
        body = json.loads(r["body"])
        if body.get("type") == "dispatch.requested":
            out.setdefault(body["data"]["session"]["id"], []).append(r)
    return out


def wait_all_dispatched(receiver, ids, until):
    while time.time() < until:
        if set(ids) <= set(dispatches_by_session(receiver)):
            return
        time.sleep(0.05)


def assert_once_each(receiver, sessions, nodes):
    got = dispatches_by_session(receiver)
    lost = [s["id"] for s in sessions if s["id"] not in got]
    ids = {sid: {r["headers"]["webhook-id"] for r in rs} for sid, rs in got.items()}
    doubled = [sid for sid, w in ids.items() if len(w) > 1]
    dead = [v.log_path for v in nodes if v.proc.poll() is not None]
    lateness = sorted(min(r["at"] for r in got[s["id"]]) - due_of(s) for s in sessions if s["id"] in got)
    return lost, doubled, dead, lateness


@pytest.mark.parametrize("run", range(RUNS))
def test_thirty_sessions_lapsing_together_on_one_instance_are_each_dispatched_once(vigils, receiver, fresh_db, run):
    pg, url = fresh_db
    v = start(vigils, url, "storm", receiver, policy=DISPATCH_AT_ONCE)
    sessions = [v.start_session(interval=4, grace=1) for _ in range(30)]
    spread = due_of(sessions[-1]) - due_of(sessions[0])
    # Due within about one second of each other: the timer reports them due together, in batches.
    assert spread < 2.0, f"the sessions were started {spread:.2f} s apart: not a storm"
    wait_all_dispatched(receiver, [s["id"] for s in sessions], due_of(sessions[-1]) + 15)
    time.sleep(1.0)  # a second dispatch, if one were coming, would come within the ladder's first retry
    lost, doubled, dead, lateness = assert_once_each(receiver, sessions, [v])
    print(f"\nstorm run {run}: 30 lapses, {30 - len(lost)} dispatched, lost {len(lost)}, doubled {len(doubled)}, "
          f"due -> received max {lateness[-1] if lateness else float('nan'):.3f} s")
    assert dead == [], f"vigil died: {[open(p).read()[-1500:] for p in dead]}"
    assert lost == [] and doubled == [], (lost, doubled)
    # Due to received within 5 s: a dispatch past its due time by the whole storm would mean batches were
    # written one round trip at a time; the ladder's own pace is well under a second.
    assert 0.0 <= lateness[0] and lateness[-1] <= 5.0, lateness


@pytest.mark.parametrize("run", range(RUNS))
def test_the_survivor_of_a_kill_dispatches_every_lapse_once_and_lives(vigils, receiver, fresh_db, run):
    pg, url = fresh_db
    a = start(vigils, url, "a", receiver, policy=DISPATCH_AT_ONCE)
    b = start(vigils, url, "b", receiver, policy=DISPATCH_AT_ONCE)
    sessions = [a.start_session(interval=4, grace=1) for _ in range(5)]
    sessions += [b.start_session(interval=4, grace=1) for _ in range(5)]
    a.kill9()
    wait_all_dispatched(receiver, [s["id"] for s in sessions], due_of(sessions[-1]) + 20)
    time.sleep(1.0)
    lost, doubled, dead, lateness = assert_once_each(receiver, sessions, [b])
    print(f"\nfailover run {run}: 10 lapses (5 on the killed instance), lost {len(lost)}, doubled {len(doubled)}, "
          f"due -> received max {lateness[-1] if lateness else float('nan'):.3f} s")
    assert dead == [], f"the survivor died: {open(b.log_path).read()[-1500:]}"
    assert lost == [] and doubled == [], (lost, doubled)
    # The dead instance's sessions wait for its claims to lapse (the default lease) before the survivor takes
    # them: within 15 s of their due time, and never before it.
    assert 0.0 <= lateness[0] and lateness[-1] <= 15.0, lateness
