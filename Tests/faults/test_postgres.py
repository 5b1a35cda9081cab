"""Several `vigil serve` instances on one real PostgreSQL 15 (started by this test itself): they serve the same
sessions, a death or a lost database is noticed, and no step fires twice."""
import base64, json, os, threading, time, urllib.request, urllib.error
import pytest
import fault_harness as fh
import pg_harness

KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture(scope="module")
def pg():
    p = pg_harness.Postgres()
    yield p
    p.destroy()


@pytest.fixture
def fresh_db(pg):
    name = f"v{int(time.time() * 1000) % 10**9}"
    pg.psql("postgres", f"CREATE DATABASE {name}")
    return pg, f"postgres://{pg.user}@127.0.0.1:{pg.port}/{name}"


def instance_config(url, name, receiver, policy=None):
    port = fh.free_port()
    targets = f"""  sup: {{url: "{receiver.url('/sup')}", format: json, secret_env: FAULT_SECRET, timeout_s: 2}}
  ems: {{url: "{receiver.url('/ems')}", format: json, secret_env: FAULT_SECRET, timeout_s: 2}}
  alarm: {{url: "{receiver.url('/alarm')}", format: json, secret_env: FAULT_SECRET, timeout_s: 2}}"""
    policy = policy or "default: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [sup]}, {after_s: 1, dispatch: [ems]}]}"
    text = fh.yaml_config(port, "data", targets, policy,
                          extra="encryption: {key_env: VIGIL_KEY}\nalarm_targets: [alarm]")
    return text.replace(
        'storage: {sqlite: "data/vigil.sqlite"}',
        f'storage: {{postgres: "{url}", password_env: PGPASS, instance_id: {name}}}')


def start(vigils, url, name, receiver, key=KEY, policy=None, wait=True):
    v = vigils(instance_config(url, name, receiver, policy), name=f"pg-{name}",
               env={"PGPASS": pg_harness.Postgres.password, "VIGIL_KEY": key})
    v.start(wait=wait)
    return v


def read_events(v, stop_after, timeout):
    """Opens v's event stream and returns the event types seen until `stop_after` is seen or the time runs out."""
    status, t = v.call("POST", "/v1/events/ticket", {})
    stream = urllib.request.urlopen(v.base + "/v1/events?ticket=" + urllib.parse.quote(t["ticket"]), timeout=timeout)
    seen, end = [], time.time() + timeout
    while time.time() < end:
        line = stream.readline().decode().rstrip("\n")
        if line.startswith("data: "):
            e = json.loads(line[6:])
            seen.append((e["type"], e.get("session_id"), time.time()))
            if e["type"] == stop_after:
                break
    stream.close()
    return seen


def whole(v, sid):
    """A session with all it holds (a read of an active or ended one leaves the personal data out): the recorded
    reveal's answer, the timeline as it was before these recorded reads, and the link while it works."""
    events = v.call("GET", f"/v1/sessions/{sid}")[1]["events"]
    status, revealed = v.call("POST", f"/v1/sessions/{sid}/location/reveal", {})
    assert status == 200, revealed
    status, link = v.call("POST", f"/v1/sessions/{sid}/check-in-link", {})
    recorded = ("location.viewed", "link.viewed")
    return dict(revealed, events=[e for e in events if e["type"] not in recorded],
                check_in_url=link["check_in_url"] if status == 200 else None)


def test_two_instances_serve_the_same_sessions_and_a_console_on_one_sees_the_other_within_a_second(
        vigils, receiver, fresh_db):
    pg, url = fresh_db
    a = start(vigils, url, "a", receiver)
    b = start(vigils, url, "b", receiver)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("events", read_events(b, "session.started", 10)))
    t.start()
    time.sleep(0.5)
    s = a.start_session(interval=600)
    created = time.time()
    t.join()
    started = [e for e in got["events"] if e[0] == "session.started" and e[1] == s["id"]]
    assert started, got
    assert started[0][2] - created <= 1.0, started[0][2] - created
    status, on_b = b.call("POST", f"/v1/sessions/{s['id']}/location/reveal", {})
    assert status == 200 and on_b["location"]["address"] == "123 Main St"
    assert any(x["id"] == s["id"] for x in b.call("GET", "/v1/sessions?state=open")[1]["sessions"])
    # A check-in through B is seen by A.
    assert b.call("POST", f"/v1/sessions/{s['id']}/check-ins", {})[0] == 200
    end = time.time() + 3
    while time.time() < end and a.call("GET", f"/v1/sessions/{s['id']}")[1]["version"] == s["version"]:
        time.sleep(0.05)
    assert a.call("GET", f"/v1/sessions/{s['id']}")[1]["version"] > s["version"]


def test_kill_9_of_one_instance_and_the_survivor_fires_its_deadlines_within_two_seconds_once(
        vigils, receiver, fresh_db):
    pg, url = fresh_db
    a = start(vigils, url, "a", receiver)
    b = start(vigils, url, "b", receiver)
    sessions = [a.start_session(interval=3, grace=1) for _ in range(5)]
    t0 = time.time()
    time.sleep(1.5)
    a.kill9()
    # Notify at due + grace = 4 s, dispatch at 5 s: the survivor fires both, each once.
    sup = receiver.wait_for("/sup", 5, timeout=12)
    ems = receiver.wait_for("/ems", 5, timeout=12)
    time.sleep(2)
    assert len(receiver.got("/sup")) == 5, "one notify per session, no step twice"
    assert len(receiver.got("/ems")) == 5, "one dispatch per session, no step twice"
    for r in sup:
        assert r["at"] - t0 <= 4.0 + 2.0, r["at"] - t0
    for r in ems:
        assert r["at"] - t0 <= 5.0 + 2.0, r["at"] - t0
    ids = [r["headers"]["webhook-id"] for r in receiver.got()]
    assert len(ids) == len(set(ids)), "one webhook id per notification per target"
    for s in sessions:
        assert b.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "dispatched"
    # The dead instance comes back and changes nothing that was done.
    a.start()
    time.sleep(2)
    assert len(receiver.got()) == 10


def test_postgres_away_makes_every_instance_not_ready_and_deadlines_catch_up_when_it_returns(
        vigils, receiver, fresh_db):
    pg, url = fresh_db
    a = start(vigils, url, "a", receiver)
    b = start(vigils, url, "b", receiver)
    s = a.start_session(interval=3, grace=1)
    pg.stop("fast")
    try:
        end = time.time() + 15
        while time.time() < end:
            states = [v.call("GET", "/readyz", timeout=5)[0] for v in (a, b)]
            if states == [503, 503]:
                break
            time.sleep(0.25)
        assert states == [503, 503], states
        assert a.proc.poll() is None and b.proc.poll() is None, "the instances stay up while PostgreSQL is away"
        alarms = receiver.wait_for("/alarm", 2, timeout=10)
        assert len(alarms) >= 2, "each instance raised a system alarm without the database"
        assert all(json.loads(r["body"])["type"] == "system.alarm" for r in alarms)
        # The person's page says so rather than pretend.
        page = urllib.request.Request(a.base + s["check_in_url"], data=b"", method="POST")
        try:
            urllib.request.urlopen(page, timeout=10)
            raise AssertionError("a check-in was accepted while nothing could record it")
        except urllib.error.HTTPError as e:
            assert e.code == 503 and b"Try again" in e.read()
        # The session's notify step falls due while the database is away (30 s away with VIGIL_SOAK=1).
        time.sleep(30 if os.environ.get("VIGIL_SOAK") == "1" else 3)
    finally:
        pg.start()
    assert receiver.wait_for("/sup", 1, timeout=15), "the step that fell due during the outage fires after it"
    assert receiver.wait_for("/ems", 1, timeout=10)
    time.sleep(1.5)
    assert len(receiver.got("/sup")) == 1 and len(receiver.got("/ems")) == 1
    late = [e for e in b.call("GET", f"/v1/sessions/{s['id']}")[1]["events"] if e["type"] == "escalation.started"]
    assert late and late[0]["data"]["late_ms"] >= 1000, "the events record how late the steps fired"
    end = time.time() + 10
    while time.time() < end and [v.call("GET", "/readyz")[0] for v in (a, b)] != [200, 200]:
        time.sleep(0.25)
    assert [v.call("GET", "/readyz")[0] for v in (a, b)] == [200, 200]
    assert b.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "dispatched"


def test_an_instance_given_another_key_refuses_to_start(vigils, receiver, fresh_db):
    pg, url = fresh_db
    start(vigils, url, "a", receiver)
    other = base64.b64encode(b"o" * 32).decode()
    v = start(vigils, url, "b", receiver, key=other, wait=False)
    v.proc.wait(timeout=30)
    assert v.proc.returncode != 0
    assert "key" in open(v.log_path).read().lower()


def test_config_check_refuses_a_password_in_the_url_and_cleartext_off_loopback(tmp_path):
    import subprocess
    env = dict(os.environ, FAULT_TOKEN=fh.TOKEN, FAULT_SECRET=fh.SECRET, VIGIL_KEY=KEY)
    for url, message in [("postgres://u:secret@127.0.0.1:5432/v", "password is never written in the URL"),
                         ("postgres://u@db.example.org:5432/v", "needs tls")]:
        text = fh.yaml_config(0, "data", extra="encryption: {key_env: VIGIL_KEY}").replace(
            'storage: {sqlite: "data/vigil.sqlite"}', f'storage: {{postgres: "{url}"}}')
        p = tmp_path / "v.yaml"
        p.write_text(text)
        r = fh.run([fh.BIN, "config", "check", str(p)], capture_output=True, text=True, env=env)
        assert r.returncode != 0 and message in r.stdout, r.stdout


def test_migrate_copies_a_sqlite_installation_and_the_api_answers_the_same(vigils, receiver, fresh_db):
    import subprocess
    pg, url = fresh_db
    policy = "default: {ack_timeout_s: 600, steps: [{after_s: 0, notify: [sup]}, {after_s: 600, dispatch: [ems]}]}"
    targets = f"""  sup: {{url: "{receiver.url('/sup')}", format: json, secret_env: FAULT_SECRET, timeout_s: 2}}
  ems: {{url: "{receiver.url('/ems')}", format: json, secret_env: FAULT_SECRET, timeout_s: 2}}"""
    old = vigils(fh.yaml_config(0, "data", targets, policy), name="migrate-sqlite").start()
    open_s = old.start_session(interval=3600, substance="fentanyl")
    escalating = old.start_session(interval=1, grace=1)
    ended = old.start_session(interval=3600)
    old.call("POST", f"/v1/sessions/{ended['id']}/end", {"outcome": "safe"})
    assert old.call("PUT", "/v1/plans/J", {"responders": [{"name": "Sam", "phone": "+15557654321"}]})[0] == 200
    end = time.time() + 10
    while time.time() < end and old.call("GET", f"/v1/sessions/{escalating['id']}")[1]["state"] != "escalating":
        time.sleep(0.1)
    assert receiver.wait_for("/sup", 1, timeout=5)
    ids = [open_s["id"], escalating["id"], ended["id"]]
    before = {sid: whole(old, sid) for sid in ids}
    old.stop()
    chained = fh.run([fh.BIN, "audit", "verify", "--config", old.config_path], cwd=old.dir, env=old.env,
                     capture_output=True, text=True, timeout=60)
    assert chained.returncode == 0 and chained.stdout.startswith("ok: "), chained.stdout + chained.stderr
    head_seq, head_hash = chained.stdout.split("head seq ")[1].split()[0], chained.stdout.split(" hash ")[1].split()[0]
    key = os.path.join(old.dir, "data", "vigil.key")
    env = dict(os.environ, PGPASS=pg_harness.Postgres.password)
    r = fh.run([fh.BIN, "migrate", "--from", os.path.join(old.dir, "data", "vigil.sqlite"), "--to", url,
                        "--password-env", "PGPASS"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "migrated 3 sessions" in r.stdout and "1 response plans" in r.stdout, r.stdout
    # Into a database that is no longer empty: refused.
    again = fh.run([fh.BIN, "migrate", "--from", os.path.join(old.dir, "data", "vigil.sqlite"), "--to", url,
                            "--password-env", "PGPASS"], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode != 0 and "not empty" in again.stderr
    new = start(vigils, url, "after-migrate", receiver, key=open(key).read().strip(), policy=policy)
    for sid in ids:
        after = whole(new, sid)
        for k in ["state", "caller", "location", "substance", "next_check_in_due_at", "escalation", "version",
                  "check_in_url", "outcome"]:
            assert after.get(k) == before[sid].get(k), (sid, k, before[sid].get(k), after.get(k))
        assert [e["type"] for e in after["events"]] == [e["type"] for e in before[sid]["events"]]
        assert [e["at"] for e in after["events"]] == [e["at"] for e in before[sid]["events"]]
    # The log is chained again on PostgreSQL as it is copied: the same seq numbers, the same hashes (nothing was
    # purged), and verify over the PostgreSQL store follows.
    r = fh.run([fh.BIN, "audit", "verify", "--config", new.config_path], cwd=new.dir, env=new.env,
               capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("ok: "), r.stdout + r.stderr
    r = fh.run([fh.BIN, "audit", "export", "--config", new.config_path, "--from", head_seq, "--to", head_seq],
               cwd=new.dir, env=new.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hash"] == head_hash
    status, plan = new.call("GET", "/v1/plans/J")
    assert status == 200 and plan["responders"][0]["name"] == "Sam", (status, plan)
    time.sleep(1.5)
    assert len(receiver.got("/sup")) == 1, "a step already sent is not sent again after the move"
