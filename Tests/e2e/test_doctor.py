"""`vigil doctor` against the real binary: a configuration with two deliberate mistakes (a key file others can read,
a target that refuses its signed ping) names both and exits 1; the same surroundings put right name neither."""
import base64, os
import fault_harness as fh


def setup(tmp_path, receiver):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    key = data / "vigil.key"
    key.write_text(base64.b64encode(b"k" * 32).decode() + "\n")
    os.chmod(key, 0o644)
    receiver.set("/refuses", 401)
    targets = (f"  good: {{url: \"{receiver.url('/good')}\", format: json, secret_env: FAULT_SECRET}}\n"
               f"  bad: {{url: \"{receiver.url('/refuses')}\", format: json, secret_env: FAULT_SECRET}}")
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(fh.yaml_config(fh.free_port(), str(data), targets).replace(
        f'storage: {{sqlite: "{data}/vigil.sqlite"}}',
        f'storage: {{sqlite: "{data}/vigil.sqlite"}}\nencryption: {{key_file: "{key}"}}'))
    return cfg, key


def doctor(cfg, *extra):
    env = dict(os.environ, FAULT_TOKEN=fh.TOKEN, FAULT_SECRET=fh.SECRET)
    return fh.run([fh.BIN, "doctor", "--config", str(cfg), "--min-free-mib", "1", *extra], env=env, timeout=60)


def fixes(out):
    return [l for l in out.splitlines() if l.startswith("FIX")]


def test_doctor_names_both_deliberate_mistakes(tmp_path, receiver):
    cfg, key = setup(tmp_path, receiver)
    r = doctor(cfg)
    assert r.returncode == 1, r.stdout + r.stderr
    found = fixes(r.stdout)
    assert any(l.startswith("FIX  keys:") and str(key) in l and "chmod 600" in l for l in found), r.stdout
    assert any(l.startswith("FIX  target bad:") and "HTTP 401" in l for l in found), r.stdout
    assert any(l.startswith("ok   target good:") and "HTTP 200" in l for l in r.stdout.splitlines()), r.stdout
    # The ping is signed as every webhook is.
    got = receiver.wait_for("/good", 1)
    assert fh.verify(got[0]["headers"], got[0]["body"])
    assert "problems to fix" in r.stdout


def test_doctor_with_both_put_right_names_neither(tmp_path, receiver):
    cfg, key = setup(tmp_path, receiver)
    os.chmod(key, 0o600)
    receiver.set("/refuses", 200)
    r = doctor(cfg)
    found = fixes(r.stdout)
    # The clock of a test machine may not be synchronized; nothing else may be found.
    assert [l for l in found if not l.startswith("FIX  clock:")] == [], r.stdout
    assert r.returncode == (1 if found else 0)


def test_doctor_lists_every_configuration_error_with_its_line(tmp_path):
    cfg = tmp_path / "broken.yaml"
    cfg.write_text('listen: "127.0.0.1:8080"\nbogus: 1\npolicies:\n  default: {ack_timeout_s: -5, steps: []}\n')
    r = doctor(cfg, "--no-ping")
    assert r.returncode == 1
    found = fixes(r.stdout)
    assert len(found) == 2 and ":2:" in found[0] and ":4:" in found[1], r.stdout
