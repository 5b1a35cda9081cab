"""One unreadable row stops nothing else: on a real SQLite file on disk, one sealed outbox row and one session's
snapshot are damaged (a byte flipped with SQL, as a flipped bit on disk, a key rotated under a live instance or a
rollback to an older binary would leave them). The service still starts, every other session's webhooks go out,
each unreadable row is quarantined (never retried blindly), alarmed naming its session, and listed by /readyz;
a restart does not crash; the alarm stands until an operator ends the session."""
import json, os, sqlite3, time
import fault_harness as fh


def config(receiver, port):
    targets = (f"  sup: {{url: \"{receiver.url('/sup')}\", format: json, secret_env: FAULT_SECRET, timeout_s: 2,\n"
               f"        retry: {{max_attempts: 100, initial_backoff_s: 1, max_backoff_s: 1}}}}\n"
               f"  alarm: {{url: \"{receiver.url('/alarm')}\", format: json, secret_env: FAULT_SECRET, timeout_s: 2}}")
    policy = "default: {ack_timeout_s: 600, steps: [{after_s: 0, notify: [sup]}]}"
    return fh.yaml_config(port, "data", targets, policy, extra="alarm_targets: [alarm]")


def flip(db, sql, *args):
    """Flips one byte in the middle of the blob `sql` selects (rowid, blob), with SQL."""
    con = sqlite3.connect(db)
    try:
        rowid, blob = con.execute(sql, args).fetchone()
        b = bytearray(blob)
        b[len(b) // 2] ^= 0x40
        table = "outbox" if "outbox" in sql else "sessions"
        column = "body" if table == "outbox" else "snapshot"
        con.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (bytes(b), rowid))
        con.commit()
    finally:
        con.close()


def session_of(request):
    return json.loads(request["body"])["data"]["session"]["id"]


def readyz(v):
    status, body = v.call("GET", "/readyz", token=None)
    return status, body


def test_an_unreadable_outbox_row_and_snapshot_are_quarantined_and_everything_else_carries_on(vigils, receiver):
    v = vigils(config(receiver, fh.free_port()), name="unreadable")
    receiver.set("/sup", 503)
    v.start()
    a = v.start_session(interval=1, grace=1)  # its notification's row will be damaged
    b = v.start_session(interval=1, grace=1)  # its snapshot will be damaged
    c = v.start_session(interval=1, grace=1)  # untouched
    end = time.time() + 20
    while time.time() < end and {session_of(r) for r in receiver.got("/sup")} != {a["id"], b["id"], c["id"]}:
        time.sleep(0.1)
    assert {session_of(r) for r in receiver.got("/sup")} == {a["id"], b["id"], c["id"]}
    v.stop()

    db = os.path.join(v.dir, "data", "vigil.sqlite")
    flip(db, "SELECT rowid, body FROM outbox WHERE session_id = ? AND status = 'pending'", a["id"])
    flip(db, "SELECT rowid, snapshot FROM sessions WHERE id = ?", b["id"])
    receiver.set("/sup", 200)
    restarted = time.time()
    v.start()  # before: recovery threw on the snapshot and the process exited

    # Every other session's notification goes out (c's; b's own row is readable, so it goes too).
    end = time.time() + 15
    while time.time() < end and c["id"] not in {session_of(r) for r in receiver.got("/sup") if r["at"] > restarted}:
        time.sleep(0.1)
    after = [session_of(r) for r in receiver.got("/sup") if r["at"] > restarted]
    assert c["id"] in after, after
    # A session started now lapses and is notified as usual.
    d = v.start_session(interval=1, grace=1)
    end = time.time() + 15
    while time.time() < end and d["id"] not in {session_of(r) for r in receiver.got("/sup") if r["at"] > restarted}:
        time.sleep(0.1)
    after = [session_of(r) for r in receiver.got("/sup") if r["at"] > restarted]
    assert d["id"] in after, after
    assert a["id"] not in after, "the damaged row is quarantined, never sent"

    # Each unreadable row raises a system alarm naming its session.
    end = time.time() + 15
    def alarmed():
        return " ".join(r["body"].decode() for r in receiver.got("/alarm") if r["at"] > restarted)
    while time.time() < end and not (a["id"] in alarmed() and b["id"] in alarmed()):
        time.sleep(0.1)
    assert a["id"] in alarmed() and b["id"] in alarmed(), alarmed()
    assert all(json.loads(r["body"])["type"] == "system.alarm" for r in receiver.got("/alarm"))
    # /readyz lists them and stays ready: everything else works.
    status, body = readyz(v)
    assert status == 200, body
    assert a["id"] in body["checks"]["unreadable"] and b["id"] in body["checks"]["unreadable"], body
    # The alarm is on the session's timeline and the stream, where the console's banner takes it from; a read of
    # the session whose record cannot be read says so.
    status, got = v.call("GET", f"/v1/sessions/{a['id']}")
    assert status == 200, got
    raised = [e for e in got["events"] if e["type"] == "system.alarm" and e["data"].get("raised")]
    assert raised and a["id"] in raised[0]["data"]["reason"], got["events"]
    status, got = v.call("GET", f"/v1/sessions/{b['id']}")
    assert status == 409 and "cannot be read" in json.dumps(got), (status, got)

    # A restart does not crash, and the alarm is raised again.
    v.stop()
    again = time.time()
    v.start()
    end = time.time() + 15
    while time.time() < end and b["id"] not in " ".join(
            r["body"].decode() for r in receiver.got("/alarm") if r["at"] > again):
        time.sleep(0.1)
    assert b["id"] in " ".join(r["body"].decode() for r in receiver.got("/alarm") if r["at"] > again)

    # The operator ends each session: its alarm stops standing, /readyz no longer lists it.
    status, ended = v.call("POST", f"/v1/sessions/{b['id']}/end", {"outcome": "other"})
    assert status == 200 and ended["state"] == "ended", (status, ended)
    assert v.call("POST", f"/v1/sessions/{a['id']}/end", {"outcome": "other"})[0] == 200
    end = time.time() + 5
    while time.time() < end and readyz(v)[1]["checks"].get("unreadable") != "ok":
        time.sleep(0.1)
    assert readyz(v)[1]["checks"]["unreadable"] == "ok", readyz(v)
    status, got = v.call("GET", f"/v1/sessions/{b['id']}")
    assert status == 200 and got["state"] == "ended", got
    v.stop()
    v.start()
    assert readyz(v)[1]["checks"]["unreadable"] == "ok"
