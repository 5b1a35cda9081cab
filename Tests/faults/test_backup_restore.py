"""`vigil backup` while the service runs (the key written apart from the data, to a directory of its own),
`vigil restore` into a fresh directory, and a second instance there that serves the same sessions and timelines;
the refusals that keep a restore from damaging live data or a backup from holding its own key."""
import base64, json, os, stat, subprocess, tempfile
import pytest
import fault_harness as fh


def vigil(*args, cwd, env=None):
    """A `vigil` command run where the instance runs: the configuration's paths are relative to it."""
    return fh.run([fh.BIN, *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env=dict(os.environ, FAULT_TOKEN=fh.TOKEN, FAULT_SECRET=fh.SECRET, **(env or {})))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def view(v):
    """Every session and its whole timeline, as the API serves them."""
    status, listing = v.call("GET", "/v1/sessions?state=all")
    assert status == 200, listing
    sessions = sorted(listing["sessions"], key=lambda s: s["id"])
    details = {}
    for s in sessions:
        status, d = v.call("GET", f"/v1/sessions/{s['id']}")
        assert status == 200, d
        details[s["id"]] = d
    return sessions, details


@pytest.fixture
def shift(vigils):
    """A running instance with three sessions that have histories: checked in and moved, ended, just started."""
    a = vigils(fh.yaml_config(0, "data"), name="backup-a").start()
    s0 = a.start_session(interval=3600, grace=60)
    s1 = a.start_session(interval=3600, grace=60, address="9 Elm Court")
    s2 = a.start_session(interval=1800, grace=30, address="1 Harbour Road")
    assert a.call("POST", f"/v1/sessions/{s0['id']}/check-ins", {"note": "fine"})[0] == 200
    assert a.call("PATCH", f"/v1/sessions/{s0['id']}", {"location": {"address": "12 New Street", "unit": "2"}})[0] == 200
    assert a.call("POST", f"/v1/sessions/{s0['id']}/check-ins", {})[0] == 200
    assert a.call("POST", f"/v1/sessions/{s1['id']}/end", {"outcome": "safe"})[0] == 200
    return a, [s0, s1, s2]


def test_a_backup_taken_while_serving_restores_into_a_fresh_directory_with_the_same_sessions_and_timelines(
        shift, vigils):
    a, sessions = shift
    before = view(a)
    assert len(before[0]) == 3 and sum(len(d["events"]) for d in before[1].values()) >= 7
    backup = os.path.join(tempfile.mkdtemp(prefix="vigil-backup-"), "nightly")
    keys = os.path.join(tempfile.mkdtemp(prefix="vigil-safe-"), "key")

    # Without a place for the key apart, or with one inside the backup, nothing is written.
    r = vigil("backup", "--config", a.config_path, "--to", backup, cwd=a.dir)
    assert r.returncode == 1 and "--key-to" in r.stderr, r.stderr
    r = vigil("backup", "--config", a.config_path, "--to", backup, "--key-to", os.path.join(backup, "k"), cwd=a.dir)
    assert r.returncode == 1 and "outside" in r.stderr, r.stderr
    assert not os.path.exists(backup)

    r = vigil("backup", "--config", a.config_path, "--to", backup, "--key-to", keys, cwd=a.dir)
    assert r.returncode == 0, r.stderr
    assert "backed up 3 sessions" in r.stdout
    assert a.proc.poll() is None, "the instance kept serving during the backup"
    # After the backup, the instance goes on: the backup is the moment it was taken.
    assert a.call("POST", f"/v1/sessions/{sessions[2]['id']}/check-ins", {})[0] == 200

    assert mode(backup) == 0o700
    assert sorted(os.listdir(backup)) == ["backup.json", "vigil.sqlite"]
    for name in os.listdir(backup):
        assert mode(os.path.join(backup, name)) == 0o600, name
    assert mode(keys) == 0o700 and os.listdir(keys) == ["vigil.key"]
    key_a = open(os.path.join(a.dir, "data", "vigil.key")).read()
    assert open(os.path.join(keys, "vigil.key")).read() == key_a
    assert mode(os.path.join(keys, "vigil.key")) == 0o600
    manifest = json.load(open(os.path.join(backup, "backup.json")))
    assert manifest["sessions"] == 3 and manifest["key_files"] == ["vigil.key"] and manifest["key_apart"] is True
    # Personal data stays sealed in the copy, as in the database it came from.
    raw = open(os.path.join(backup, "vigil.sqlite"), "rb").read()
    for secret in (b"9 Elm Court", b"12 New Street", b"+15551234567", b"side door code"):
        assert secret not in raw

    fresh = tempfile.mkdtemp(prefix="vigil-restored-")
    b = vigils(fh.yaml_config(0, "data"), name="backup-b", workdir=fresh)
    r = vigil("restore", "--config", b.config_path, "--from", backup, cwd=b.dir)
    assert r.returncode == 1 and "--key-from" in r.stderr, r.stderr
    r = vigil("restore", "--config", b.config_path, "--from", backup, "--key-from", keys, cwd=b.dir)
    assert r.returncode == 0, r.stderr
    assert "restored 3 sessions" in r.stdout
    assert mode(os.path.join(fresh, "data", "vigil.key")) == 0o600
    assert mode(os.path.join(fresh, "data", "vigil.sqlite")) == 0o600
    assert open(os.path.join(fresh, "data", "vigil.key")).read() == key_a

    b.start()
    after = view(b)
    assert after == before
    # The restored instance works on them: a check-in on a restored session is recorded.
    sid = sessions[0]["id"]
    status, s = b.call("POST", f"/v1/sessions/{sid}/check-ins", {})
    assert status == 200 and s["state"] == "active"


def test_restore_refuses_a_running_instance_existing_data_and_a_backup_directory_that_is_not_empty(shift, vigils):
    a, _ = shift
    backup = os.path.join(tempfile.mkdtemp(prefix="vigil-backup-"), "b")
    keys = os.path.join(tempfile.mkdtemp(prefix="vigil-safe-"), "key")
    assert vigil("backup", "--config", a.config_path, "--to", backup, "--key-to", keys, cwd=a.dir).returncode == 0

    r = vigil("backup", "--config", a.config_path, "--to", backup, "--key-to", keys + "2", cwd=a.dir)
    assert r.returncode == 1
    assert "not empty" in r.stderr

    # Into the running instance's own data, even with --force: its lock names it.
    for extra in ([], ["--force"]):
        r = vigil("restore", "--config", a.config_path, "--from", backup, "--key-from", keys, *extra, cwd=a.dir)
        assert r.returncode == 1, r.stdout
        assert "running" in r.stderr and f"pid {a.proc.pid}" in r.stderr, r.stderr
    assert a.proc.poll() is None
    assert len(view(a)[0]) == 3

    fresh = tempfile.mkdtemp(prefix="vigil-restored-")
    b = vigils(fh.yaml_config(0, "data"), name="restore-b", workdir=fresh)
    assert vigil("restore", "--config", b.config_path, "--from", backup, "--key-from", keys, cwd=b.dir).returncode == 0
    r = vigil("restore", "--config", b.config_path, "--from", backup, "--key-from", keys, cwd=b.dir)
    assert r.returncode == 1
    assert "already exists" in r.stderr and "--force" in r.stderr

    b.start()
    r = vigil("restore", "--config", b.config_path, "--from", backup, "--key-from", keys, "--force", cwd=b.dir)
    assert r.returncode == 1 and "running" in r.stderr, r.stderr
    b.stop()
    r = vigil("restore", "--config", b.config_path, "--from", backup, "--key-from", keys, "--force", cwd=b.dir)
    assert r.returncode == 0, r.stderr
    b.start()
    assert len(view(b)[0]) == 3


def test_restore_refuses_a_key_that_did_not_seal_the_backup_and_a_directory_that_is_not_a_backup(shift, vigils):
    a, _ = shift
    backup = os.path.join(tempfile.mkdtemp(prefix="vigil-backup-"), "b")
    keys = os.path.join(tempfile.mkdtemp(prefix="vigil-safe-"), "key")
    assert vigil("backup", "--config", a.config_path, "--to", backup, "--key-to", keys, cwd=a.dir).returncode == 0
    other_key = base64.b64encode(os.urandom(32)).decode()
    fresh = tempfile.mkdtemp(prefix="vigil-restored-")
    config = fh.yaml_config(0, "data", extra="encryption: {key_env: OTHER_KEY}")
    path = os.path.join(fresh, "vigil.yaml")
    open(path, "w").write(config)
    r = vigil("restore", "--config", path, "--from", backup, cwd=fresh, env={"OTHER_KEY": other_key})
    assert r.returncode == 1
    assert "not the key" in r.stderr
    assert not os.path.exists(os.path.join(fresh, "data", "vigil.sqlite"))

    r = vigil("restore", "--config", path, "--from", fresh, cwd=fresh, env={"OTHER_KEY": other_key})
    assert r.returncode == 1
    assert "not a Vigil backup" in r.stderr
