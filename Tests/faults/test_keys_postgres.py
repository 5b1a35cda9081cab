"""`vigil keys rotate` on PostgreSQL: never a SQLite file or a swapped key file, but one rotation shared by every
instance, under which no row is unreadable at any moment."""
import base64, hashlib, os, subprocess, threading, time
import pytest
import fault_harness as fh
import pg_harness


def test_keys_rotate_on_a_postgres_configuration_leaves_the_key_file_and_creates_no_sqlite_database(tmp_path):
    key = tmp_path / "vigil.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    key.chmod(0o600)
    text = fh.yaml_config(fh.free_port(), "data", extra=f'encryption: {{key_file: "{key}"}}')
    text = text.replace('storage: {sqlite: "data/vigil.sqlite"}',
                        'storage: {postgres: "postgres://vigil@127.0.0.1:1/none", password_env: PGPASS}')
    config = tmp_path / "vigil.yaml"
    config.write_text(text)
    # The default SQLite directory exists, as it does where an installation moved up from SQLite.
    (tmp_path / "var").mkdir()
    before = key.read_text()
    r = subprocess.run([fh.BIN, "keys", "rotate", "--config", str(config)], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path, env=dict(os.environ, PGPASS="x", FAULT_TOKEN=fh.TOKEN))
    assert r.returncode == 1 and "nothing was changed" in r.stderr, (r.stdout, r.stderr)
    assert key.read_text() == before
    assert not os.path.exists(str(key) + ".previous") and not os.path.exists(str(key) + ".next")
    assert os.listdir(tmp_path / "var") == [] and not (tmp_path / "data").exists(), os.listdir(tmp_path / "var")


# ---- A rotation shared by two live instances on a real PostgreSQL ----


def key_pair():
    """Two keys whose id bytes (the first byte of their SHA-256, which every sealed blob names) differ."""
    while True:
        old, new = os.urandom(32), os.urandom(32)
        if hashlib.sha256(old).digest()[0] != hashlib.sha256(new).digest()[0]:
            return (base64.b64encode(old).decode(), hashlib.sha256(old).digest()[0],
                    base64.b64encode(new).decode(), hashlib.sha256(new).digest()[0])


@pytest.fixture(scope="module")
def pg():
    p = pg_harness.Postgres()
    yield p
    p.destroy()


def config(url, name, receiver, rotating):
    keys = "{key_env: VIGIL_KEY, previous_key_env: VIGIL_PREV_KEY}" if rotating else "{key_env: VIGIL_KEY}"
    targets = f'  sup: {{url: "{receiver.url("/sup")}", format: json, secret_env: FAULT_SECRET, timeout_s: 2}}'
    text = fh.yaml_config(fh.free_port(), "data", targets, "default: {ack_timeout_s: 600, steps: []}",
                          extra=f"encryption: {keys}")
    return text.replace('storage: {sqlite: "data/vigil.sqlite"}',
                        f'storage: {{postgres: "{url}", password_env: PGPASS, instance_id: {name}}}')


def reconfigure(v, url, name, receiver, key, previous=None):
    """Stops `v`, gives it `key` (and `previous`, the key being retired) and starts it again on the same port."""
    v.stop()
    text = config(url, name, receiver, rotating=previous is not None)
    text = "\n".join(f'listen: "127.0.0.1:{v.port}"' if l.startswith("listen:") else l for l in text.splitlines())
    open(v.config_path, "w").write(text + "\n")
    v.env["VIGIL_KEY"] = key
    if previous:
        v.env["VIGIL_PREV_KEY"] = previous
    else:
        v.env.pop("VIGIL_PREV_KEY", None)
    v.start()


def rotate(v):
    return subprocess.run([fh.BIN, "keys", "rotate", "--config", v.config_path], capture_output=True, text=True,
                          timeout=180, cwd=v.dir, env=v.env)


def sealed_with(pg, db, key_id):
    """How many blobs of the four sealed columns name key `key_id`."""
    total = 0
    for table, column in (("sessions", "snapshot"), ("events", "data"), ("outbox", "body"), ("plans", "body")):
        total += int(pg.psql(db, f"SELECT count(*) FROM {table} WHERE length({column}) > 2 "
                                 f"AND get_byte({column}, 1) = {key_id}").strip())
    return total


def test_a_rotation_under_two_live_instances_leaves_no_row_unreadable_at_any_moment(vigils, receiver, pg):
    db = f"rot{int(time.time() * 1000) % 10**9}"
    pg.psql("postgres", f"CREATE DATABASE {db}")
    url = f"postgres://{pg.user}@127.0.0.1:{pg.port}/{db}"
    old, old_id, new, new_id = key_pair()
    env = {"PGPASS": pg_harness.Postgres.password, "VIGIL_KEY": old}
    a = vigils(config(url, "a", receiver, False), name="rot-a", env=env).start()
    b = vigils(config(url, "b", receiver, False), name="rot-b", env=env).start()
    sessions = [(a if i % 2 else b).start_session(interval=600, grace=60, address=f"{i} Elm St")["id"]
                for i in range(20)]
    assert a.call("PUT", "/v1/plans/J", {"responders": [{"name": "Sam", "phone": "+15557654321"}]})[0] == 200

    # Half the rolling restart: b does not hold the new key yet, so the rotation refuses and changes nothing.
    reconfigure(a, url, "a", receiver, new, previous=old)
    r = rotate(a)
    assert r.returncode == 1 and "instance(s) b " in r.stderr and "nothing was changed" in r.stderr, r.stderr
    assert sealed_with(pg, db, new_id) == 0
    reconfigure(b, url, "b", receiver, new, previous=old)

    failures, reads, stop = [], [0], threading.Event()

    def reader():
        # Reads from the store through both instances (timelines, the plan) and writes on both, all the time.
        i = 0
        while not stop.is_set():
            v = (a, b)[i % 2]
            sid = sessions[i % len(sessions)]
            try:
                for path in (f"/v1/sessions/{sid}", f"/v1/sessions/{sid}/timeline", "/v1/plans/J"):
                    status, body = v.call("GET", path)
                    reads[0] += 1
                    if status != 200:
                        failures.append((v.port, path, status, body))
                if i % 5 == 0:
                    sessions.append(v.start_session(interval=600, grace=60, address=f"{i} Oak St")["id"])
                    status, body = v.call("POST", f"/v1/sessions/{sid}/check-ins", {})
                    if status != 200:
                        failures.append((v.port, "check-in", sid, status, body))
            except Exception as e:  # noqa: BLE001 - any error here is a failure of the rotation
                failures.append((v.port, repr(e)))
            i += 1

    t = threading.Thread(target=reader)
    t.start()
    try:
        time.sleep(1)
        r = rotate(a)
        time.sleep(1)
    finally:
        stop.set()
        t.join()
    assert r.returncode == 0, r.stderr
    assert failures == [], failures[:5]
    assert reads[0] > 20, reads
    assert "retired" in r.stdout, r.stdout
    assert sealed_with(pg, db, old_id) == 0
    assert sealed_with(pg, db, new_id) > len(sessions)
    assert "0" == pg.psql(db, "SELECT count(*) FROM quarantine").strip()
    assert pg.psql(db, "SELECT previous_key_id IS NULL FROM encryption_key").strip() == "t"

    # The old key is gone from both: everything opens with the new key alone.
    reconfigure(a, url, "a", receiver, new)
    reconfigure(b, url, "b", receiver, new)
    for i, sid in enumerate(sessions[:20]):
        status, s = (a, b)[i % 2].call("POST", f"/v1/sessions/{sid}/location/reveal", {})
        assert status == 200 and s["location"]["address"] == f"{i} Elm St", (status, s)
    for sid in sessions[20:]:
        assert b.call("GET", f"/v1/sessions/{sid}/timeline")[0] == 200
    status, plan = b.call("GET", "/v1/plans/J")
    assert status == 200 and plan["responders"][0]["name"] == "Sam", plan
    assert "0" == pg.psql(db, "SELECT count(*) FROM quarantine").strip()


def pg_tool(pg, tool, *args):
    return subprocess.run([os.path.join(pg_harness.BIN, tool), "-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.user,
                           *args], env=dict(os.environ, PGPASSWORD=pg.password), capture_output=True, timeout=120)


def test_pg_dump_and_pg_restore_as_the_operations_notes_say_keep_the_key_apart_and_need_it(vigils, receiver, pg, tmp_path):
    db = f"dump{int(time.time() * 1000) % 10**9}"
    pg.psql("postgres", f"CREATE DATABASE {db}")
    url = f"postgres://{pg.user}@127.0.0.1:{pg.port}/{db}"
    key, _, other, _ = key_pair()
    env = {"PGPASS": pg_harness.Postgres.password, "VIGIL_KEY": key}
    a = vigils(config(url, "a", receiver, False), name="dump-a", env=env).start()
    sid = a.start_session(interval=600, grace=60, address="77 Quiet Lane")["id"]
    assert a.call("PUT", "/v1/plans/J", {"responders": [{"name": "Sam", "phone": "+15557654321"}]})[0] == 200

    # ops/UPGRADING.md: `pg_dump -Fc` while serving; the dump holds the key's id and check value, never the key.
    dump = tmp_path / "vigil.dump"
    r = pg_tool(pg, "pg_dump", "-Fc", "-d", db, "-f", str(dump))
    assert r.returncode == 0, r.stderr
    raw = dump.read_bytes()
    assert base64.b64decode(key) not in raw and key.encode() not in raw
    for secret in (b"77 Quiet Lane", b"+15551234567", b"Sam", b"side door code"):
        assert secret not in raw
    a.stop()

    restored = db + "r"
    pg.psql("postgres", f"CREATE DATABASE {restored}")
    r = pg_tool(pg, "pg_restore", "--no-owner", "-d", restored, str(dump))
    assert r.returncode == 0, r.stderr
    url2 = f"postgres://{pg.user}@127.0.0.1:{pg.port}/{restored}"

    # Another key is refused before anything is served.
    wrong = vigils(config(url2, "w", receiver, False), name="dump-wrong", env=dict(env, VIGIL_KEY=other))
    wrong.start(wait=False)
    assert wrong.proc.wait(timeout=30) != 0
    assert "does not match" in open(wrong.log_path).read()

    b = vigils(config(url2, "b", receiver, False), name="dump-b", env=env).start()
    status, s = b.call("POST", f"/v1/sessions/{sid}/location/reveal", {})
    assert status == 200 and s["location"]["address"] == "77 Quiet Lane", (status, s)
    status, plan = b.call("GET", "/v1/plans/J")
    assert status == 200 and plan["responders"][0]["name"] == "Sam"
