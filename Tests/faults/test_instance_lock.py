"""One instance per SQLite file: a second `vigil serve`, `vigil keys rotate` and `vigil migrate` beside a live
instance refuse, naming it, instead of running under it; `keys rotate` re-seals the response plans too."""
import os, subprocess, time
import fault_harness as fh


def vigil(*args, cwd, env):
    return subprocess.run([fh.BIN, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


def test_a_second_serve_on_the_same_sqlite_file_refuses_to_start_and_names_the_live_one(vigils):
    a = vigils(fh.yaml_config(0, "data"), name="lock-first").start()
    s = a.start_session(interval=600)
    # The same data directory, another port: only the database is shared.
    second = os.path.join(a.dir, "second.yaml")
    with open(second, "w") as f:
        f.write(fh.yaml_config(0, "data"))
    p = subprocess.Popen([fh.BIN, "serve", "--config", second], cwd=a.dir, env=a.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("a second instance started on the same SQLite file: " + err[-1000:])
    assert p.returncode == 1, (p.returncode, err[-1000:])
    assert "running" in err and f"pid {a.proc.pid}" in err and "vigil serve" in err, err[-1000:]
    assert a.proc.poll() is None
    assert a.call("GET", f"/v1/sessions/{s['id']}")[0] == 200


def test_keys_rotate_and_migrate_refuse_a_live_instance_and_rotate_reseals_the_plans(vigils):
    a = vigils(fh.yaml_config(0, "data"), name="lock-rotate").start()
    assert a.call("PUT", "/v1/plans/J", {"responders": [{"name": "Sam", "phone": "+15557654321"}]})[0] == 200
    key = os.path.join(a.dir, "data", "vigil.key")
    before = open(key).read()

    r = vigil("keys", "rotate", "--config", a.config_path, cwd=a.dir, env=a.env)
    assert r.returncode == 1, r.stdout
    assert "running" in r.stderr and f"pid {a.proc.pid}" in r.stderr, r.stderr
    assert open(key).read() == before and not os.path.exists(key + ".previous")

    r = vigil("migrate", "--from", os.path.join(a.dir, "data", "vigil.sqlite"), "--to",
              "postgres://vigil@127.0.0.1:1/none", cwd=a.dir, env=a.env)
    assert r.returncode == 1, r.stdout
    assert "running" in r.stderr and f"pid {a.proc.pid}" in r.stderr, r.stderr
    assert a.proc.poll() is None

    a.stop()
    r = vigil("keys", "rotate", "--config", a.config_path, cwd=a.dir, env=a.env)
    assert r.returncode == 0, r.stderr
    os.remove(key + ".previous")  # only the new key can open the data now
    a.start()
    status, plan = a.call("GET", "/v1/plans/J")
    assert status == 200 and plan["responders"][0]["name"] == "Sam", plan
