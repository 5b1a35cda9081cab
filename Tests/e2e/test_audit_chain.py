"""The tamper-evident log against the real binary: a busy run (sessions started from several threads, check-ins,
lapses that notify a receiver on loopback, ends), then `GET /v1/audit/head`, `vigil audit head`, `verify` over the
store, `export`, `verify` of the export, and the exact seq named once a line of the export is changed, removed or
moved."""
import json, os, subprocess, threading, time
import fault_harness as fh

SUPERVISOR = "audit-supervisor-token-0123456789"


def config(receiver):
    targets = f'  sup: {{url: "{receiver.url("/sup")}", format: json, secret_env: FAULT_SECRET}}'
    policy = "default: {ack_timeout_s: 3, steps: [{after_s: 0, notify: [sup]}]}"
    return fh.yaml_config(fh.free_port(), "data", targets, policy,
                          tokens=["{name: shift-lead, role: supervisor, token_env: SUP_TOKEN}"])


def vigil(v, *args, token=None):
    env = dict(v.env)
    if token:
        env["VIGIL_TOKEN"] = token
    return subprocess.run([fh.BIN, *args], cwd=v.dir, env=env, capture_output=True, text=True, timeout=120)


def busy(v, receiver):
    """Sessions from four threads; some checked in, some left to lapse (notifying `sup`), then all ended."""
    ids, lock = [], threading.Lock()

    def worker(k):
        for i in range(5):
            s = v.start_session(interval=1 if i == 0 else 600, grace=0)
            with lock:
                ids.append(s["id"])
            assert v.call("POST", f"/v1/sessions/{s['id']}/check-ins", {"source": "caller"})[0] == 200

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert receiver.wait_for("/sup", 4, timeout=20)
    for sid in ids:
        assert v.call("POST", f"/v1/sessions/{sid}/end", {"outcome": "safe"})[0] == 200
    return ids


def test_a_busy_run_verifies_and_a_changed_removed_or_moved_line_is_named(vigils, receiver):
    v = vigils(config(receiver), name="audit", env={"SUP_TOKEN": SUPERVISOR}).start()
    busy(v, receiver)
    status, head = v.call("GET", "/v1/audit/head", token=SUPERVISOR)
    assert status == 200, head
    assert set(head) == {"seq", "hash", "at"} and head["seq"] > 60 and len(head["hash"]) == 64
    assert v.call("GET", "/v1/audit/head")[0] == 403  # the operator's token
    r = vigil(v, "audit", "head", "--server", v.base, token=SUPERVISOR)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hash"] == head["hash"]
    v.stop()

    r = vigil(v, "audit", "verify", "--config", v.config_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"ok: {head['seq']} events, 0 purged; head seq {head['seq']} hash {head['hash']}")

    r = vigil(v, "audit", "export", "--config", v.config_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == head["seq"]
    events = [json.loads(line) for line in lines]
    assert all(set(e) == {"seq", "type", "at", "session_id", "data", "data_sha256", "hash"} for e in events)
    assert [e["seq"] for e in events] == list(range(1, head["seq"] + 1))
    assert events[-1]["hash"] == head["hash"]
    assert any(e["type"] == "escalation.step" for e in events)
    export = os.path.join(v.dir, "audit.jsonl")

    def verify(lines):
        with open(export, "w") as f:
            f.write("\n".join(lines) + "\n")
        return vigil(v, "audit", "verify", export)

    r = verify(lines)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"head seq {head['seq']} hash {head['hash']}" in r.stdout

    k = next(i for i, e in enumerate(events) if e["type"] == "check_in.received" and i > 10)
    changed = dict(events[k], data=dict(events[k]["data"], tampered=True))
    r = verify(lines[:k] + [json.dumps(changed)] + lines[k + 1:])
    assert r.returncode == 1 and r.stdout.startswith(f"seq {k + 1} does not follow"), r.stdout
    r = verify(lines[:k] + lines[k + 1:])
    assert r.returncode == 1 and r.stdout.startswith(f"seq {k + 1} does not follow"), r.stdout
    r = verify(lines[:k] + [lines[k + 1], lines[k]] + lines[k + 2:])
    assert r.returncode == 1 and r.stdout.startswith(f"seq {k + 1} does not follow"), r.stdout

    # The same change made directly in the database (an owner may rewrite `data`: the trigger allows it): another
    # check-in's data of the same session, sealed for that session, copied over this one's.
    other = next(e for e in events[k + 1:] if e["session_id"] == events[k]["session_id"]
                 and e["type"] == "session.ended")
    database = os.path.join(v.dir, "data", "vigil.sqlite")
    subprocess.run(["sqlite3", database, f"UPDATE events SET data = (SELECT data FROM events WHERE seq = "
                    f"{other['seq']}) WHERE seq = {k + 1}"], check=True)
    r = vigil(v, "audit", "verify", "--config", v.config_path)
    assert r.returncode == 1 and r.stdout.startswith(f"seq {k + 1} does not follow"), r.stdout

    # A part of the log from a later seq verifies only when said to be partial.
    assert verify(lines[k:]).returncode == 1
    r = vigil(v, "audit", "verify", "--partial", export)
    assert r.returncode == 0 and f"from seq {k + 1}" in r.stdout, r.stdout
