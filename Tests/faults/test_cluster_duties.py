"""What a cluster decides once, on two `vigil serve` instances sharing a real PostgreSQL 15: the mass-lapse count
is the cluster's (and survives a restart), a console on one instance keeps the other from raising
`system.unattended`, and the retention purge runs on one instance (docs/contract.md, "Mass lapse")."""
import json, time, urllib.request
import fault_harness as fh
from test_postgres import start, pg, fresh_db, instance_config, KEY  # noqa: F401  (fixtures)
import pg_harness

NOTIFY = "default: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [sup]}]}"


def start_with(vigils, url, name, receiver, extra, policy=NOTIFY):
    text = instance_config(url, name, receiver, policy) + extra + "\n"
    v = vigils(text, name=f"pg-{name}", env={"PGPASS": pg_harness.Postgres.password, "VIGIL_KEY": KEY})
    v.start()
    return v


def mass_lapses(receiver):
    return [json.loads(r["body"]) for r in receiver.got("/alarm", "system.mass_lapse")]


def test_twelve_lapses_split_between_two_instances_raise_exactly_one_mass_lapse(vigils, receiver, fresh_db):
    pg, url = fresh_db
    extra = "mass_lapse: {sessions: 10, within_s: 30}"
    a = start_with(vigils, url, "a", receiver, extra)
    b = start_with(vigils, url, "b", receiver, extra)
    for _ in range(6):
        a.start_session(interval=3, grace=1)
        b.start_session(interval=3, grace=1)
    receiver.wait_for("/sup", 12, timeout=20)
    alarms = receiver.wait_for("/alarm", 1, timeout=10, type_="system.mass_lapse")
    time.sleep(3)
    alarms = mass_lapses(receiver)
    assert len(alarms) == 1, alarms
    assert alarms[0]["data"]["count"] > 10, alarms[0]


def test_a_restart_of_both_instances_does_not_forget_the_count(vigils, receiver, fresh_db):
    pg, url = fresh_db
    extra = "mass_lapse: {sessions: 10, within_s: 60}"
    a = start_with(vigils, url, "a", receiver, extra)
    b = start_with(vigils, url, "b", receiver, extra)
    for _ in range(3):
        a.start_session(interval=2, grace=1)
        b.start_session(interval=2, grace=1)
    receiver.wait_for("/sup", 6, timeout=15)
    time.sleep(2.5)  # the holder's round (every second) has counted them
    for v in (a, b):
        v.kill9()
    for v in (a, b):
        v.start()
    assert mass_lapses(receiver) == []
    for _ in range(3):
        a.start_session(interval=2, grace=1)
        b.start_session(interval=2, grace=1)
    receiver.wait_for("/sup", 12, timeout=15)
    receiver.wait_for("/alarm", 1, timeout=10, type_="system.mass_lapse")
    time.sleep(3)
    alarms = mass_lapses(receiver)
    assert len(alarms) == 1, alarms
    assert alarms[0]["data"]["count"] > 10, alarms[0]


def unattended(receiver):
    return [b for b in (json.loads(r["body"]) for r in receiver.got("/alarm", "system.alarm"))
            if b["data"].get("alarm") == "system.unattended"]


def test_a_console_on_instance_b_keeps_instance_a_from_raising_unattended(vigils, receiver, fresh_db):
    pg, url = fresh_db
    extra = "unattended_after_s: 2"
    a = start_with(vigils, url, "a", receiver, extra)
    b = start_with(vigils, url, "b", receiver, extra)
    console = urllib.request.urlopen(urllib.request.Request(
        b.base + "/v1/events", headers={"Authorization": f"Bearer {fh.TOKEN}"}), timeout=30)
    a.start_session(interval=600)
    time.sleep(7)
    assert unattended(receiver) == [], "a console was connected (to the other instance)"
    console.close()
    closed = time.time()
    while not unattended(receiver) and time.time() < closed + 15:
        time.sleep(0.05)
    raised = time.time() - closed
    time.sleep(3)
    alarms = unattended(receiver)
    assert len(alarms) == 1, f"raised once for the cluster, not once per instance: {alarms}"
    # 2 s unattended, after the console's close is noticed (a keep-alive write fails within a second or two) and
    # its instance's next heartbeat (every second); 12 s leaves room for a loaded machine.
    assert raised <= 12, raised


def test_the_retention_purge_runs_on_one_instance(vigils, receiver, fresh_db):
    pg, url = fresh_db
    nodes = [start_with(vigils, url, n, receiver, "") for n in ("a", "b", "c")]
    time.sleep(3)
    ran = [v for v in nodes if "retention purge ran" in open(v.log_path).read()]
    assert len(ran) == 1, [v.log_path for v in ran]
