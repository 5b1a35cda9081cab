"""Storage faults: a full disk answers 503 and recovers by itself; a bad data directory stops start-up clearly."""
import os, subprocess, tempfile, time
import pytest
import fault_harness as fh


@pytest.fixture
def small_fs():
    d = tempfile.mkdtemp(prefix="vigil-smallfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", d], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs for the disk-full test (needs root): {r.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", d])


def fill(path):
    """Fills the file system holding `path`; returns the filler file."""
    filler = os.path.join(path, "filler")
    # Unbuffered: the write that finds the disk full raises here, and nothing is left to fail again at close.
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_a_full_disk_answers_503_writes_nothing_half_and_recovers_by_itself(vigils, small_fs):
    v = vigils(fh.yaml_config(0, os.path.join(small_fs, "data")), workdir=tempfile.mkdtemp())
    v.start()
    ok = [v.start_session(interval=3600)["id"] for _ in range(3)]
    filler = fill(small_fs)
    statuses = []
    for _ in range(40):
        status, body = v.call("POST", "/v1/sessions", {"location": {"address": "9 Full St"}, "check_in_interval_s": 60})
        statuses.append(status)
        if status == 201:
            ok.append(body["id"])
        else:
            assert status == 503, (status, body)
            assert body["error"]["code"] in ("storage_full", "unavailable"), body
    assert 503 in statuses, "a full disk must be reported"
    status, listing = v.call("GET", "/v1/sessions?state=all")
    listed = {s["id"] for s in listing["sessions"]}
    assert listed == set(ok), "every answered 201 is stored, nothing else"
    for sid in ok:
        s = v.call("GET", f"/v1/sessions/{sid}")[1]
        assert s["events"][0]["type"] == "session.started"
    os.remove(filler)
    end = time.time() + 10
    while time.time() < end:
        status, body = v.call("POST", "/v1/sessions", {"location": {"address": "10 Space St"}, "check_in_interval_s": 60})
        if status == 201:
            break
        time.sleep(0.2)
    assert status == 201, "the service recovers when space returns, without a restart"
    assert v.call("POST", f"/v1/sessions/{ok[0]}/check-ins", {})[0] == 200


def run_serve(config_text):
    d = tempfile.mkdtemp()
    p = os.path.join(d, "vigil.yaml")
    with open(p, "w") as f:
        f.write(config_text)
    return fh.run([fh.BIN, "serve", "--config", p], cwd=d, capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, FAULT_TOKEN=fh.TOKEN))


def test_a_missing_data_directory_stops_start_up_with_a_clear_message():
    r = run_serve(fh.yaml_config(0, "/nonexistent-vigil-parent/deeper"))
    assert r.returncode != 0
    assert "data directory" in r.stderr and "missing" in r.stderr


def test_a_read_only_data_directory_stops_start_up_with_a_clear_message():
    d = tempfile.mkdtemp()
    ro = os.path.join(d, "ro")
    os.mkdir(ro)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", ro], check=False)
    if os.access(ro, os.W_OK):
        os.chmod(ro, 0o500)
    try:
        r = run_serve(fh.yaml_config(0, ro))
        assert r.returncode != 0
        assert "not writable" in r.stderr or "cannot be written" in r.stderr, r.stderr
    finally:
        subprocess.run(["umount", "-l", ro], capture_output=True)
