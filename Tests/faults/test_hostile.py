"""Nothing from outside stops or misleads the watcher: receivers' headers, numbers past Int64, proxy variables,
and personal fields a target was not meant to receive."""
import json, socket, threading, time
import pytest
import fault_harness as fh

FAR = ["1e300", "-1e300", "99999999999999999999", "-99999999999999999999", "1.7976931348623157e308",
       "9223372036854775808", "-9223372036854775809", "1e19"]


def ladder(receiver, extra_targets=""):
    targets = f"""  sup: {{url: "{receiver.url('/sup')}", format: json, secret_env: FAULT_SECRET, retry: {{max_attempts: 3, initial_backoff_s: 0.1, max_backoff_s: 2}}}}
  ems: {{url: "{receiver.url('/ems')}", format: json, secret_env: FAULT_SECRET}}
{extra_targets}"""
    policy = "default: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [sup]}, {after_s: 2, dispatch: [ems]}]}"
    return targets, policy


@pytest.mark.parametrize("retry_after", ["1e300", "-7", "99999999999999999999999", "Thu, 01 Jan 3000 00:00:00 GMT"])
def test_an_absurd_retry_after_leaves_the_process_up_and_the_next_step_on_time(vigils, receiver, retry_after):
    receiver.set("/sup", {"status": 503, "headers": {"Retry-After": retry_after}})
    targets, policy = ladder(receiver)
    v = vigils(fh.yaml_config(0, "data", targets, policy), name="retry-after")
    v.start()
    t0 = time.time()
    v.start_session(interval=1, grace=1)
    assert receiver.wait_for("/sup", 2, timeout=8), "the receiver was asked again: the header did not stop delivery"
    ems = receiver.wait_for("/ems", 1, timeout=10)
    assert ems, "the dispatch step still fired"
    assert 3.6 <= ems[0]["at"] - t0 <= 4.8, ems[0]["at"] - t0
    assert v.proc.poll() is None, "vigil is still running"
    assert v.call("GET", "/healthz")[0] == 200


def test_numbers_past_int64_on_every_numeric_field_are_400s_naming_the_field(vigils):
    v = vigils(fh.yaml_config(0, "data"), name="numbers")
    v.start()
    s = v.start_session(interval=600)
    cases = []
    for far in FAR:
        base = '{"location": {"address": "x"}, "check_in_interval_s": 60'
        cases += [
            ("POST", "/v1/sessions", '{"location": {"address": "x"}, "check_in_interval_s": %s}' % far, "check_in_interval_s"),
            ("POST", "/v1/sessions", base + ', "grace_s": %s}' % far, "grace_s"),
            ("POST", "/v1/sessions", '{"location": {"address": "x", "latitude": %s}, "check_in_interval_s": 60}' % far, "latitude"),
            ("POST", "/v1/sessions", '{"location": {"address": "x", "longitude": %s}, "check_in_interval_s": 60}' % far, "longitude"),
            ("PATCH", f"/v1/sessions/{s['id']}", '{"grace_s": %s}' % far, "grace_s"),
            ("PATCH", f"/v1/sessions/{s['id']}", '{"check_in_interval_s": %s}' % far, "check_in_interval_s"),
        ]
    for method, path, raw, field in cases:
        status, body = v.call(method, path, raw=raw.encode())
        assert status == 400, (method, path, raw, status, body)
        assert field in body["error"]["message"], (raw, body)
        assert v.proc.poll() is None, f"{raw} stopped vigil"
    for far in FAR:
        status, _ = v.call("GET", f"/v1/sessions?state=open&limit={far}")
        assert status == 400, far
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["version"] == s["version"], "nothing changed"
    assert v.call("GET", "/healthz")[0] == 200


class FakeProxy:
    """Answers 200 to anything, as a proxy that swallowed a dispatch would; counts what it got."""

    def __init__(self):
        self.got = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.got.append(c.recv(65536))
            c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            c.close()


def test_proxy_variables_in_the_environment_are_ignored(vigils, receiver):
    proxy = FakeProxy()
    url = f"http://127.0.0.1:{proxy.port}"
    env = {k: url for k in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"]}
    targets, policy = ladder(receiver)
    v = vigils(fh.yaml_config(0, "data", targets, policy), name="proxy", env=env)
    v.start()
    s = v.start_session(interval=1, grace=1)
    assert receiver.wait_for("/ems", 1, timeout=10), "the dispatch reached the real receiver"
    assert proxy.got == [], "the proxy received nothing"
    # The receiver's 200 is recorded a moment after it is sent.
    end = time.time() + 5
    while time.time() < end and v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] != "dispatched":
        time.sleep(0.05)
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "dispatched"


def test_a_targets_fields_allowlist_is_enforced_byte_for_byte(vigils, receiver):
    extra = f"""  narrow: {{url: "{receiver.url('/narrow')}", format: json, secret_env: FAULT_SECRET, fields: [alias, access_notes]}}"""
    targets = f"""  sup: {{url: "{receiver.url('/sup')}", format: json, secret_env: FAULT_SECRET}}
  ems: {{url: "{receiver.url('/ems')}", format: json, secret_env: FAULT_SECRET}}
{extra}"""
    policy = "default: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [sup, narrow]}, {after_s: 1, dispatch: [ems]}]}"
    v = vigils(fh.yaml_config(0, "data", targets, policy), name="fields")
    v.start()
    v.start_session(interval=1, grace=1, substance="fentanyl")
    narrow = receiver.wait_for("/narrow", 1, timeout=8)[0]
    sup = receiver.wait_for("/sup", 1, timeout=8)[0]
    ems = receiver.wait_for("/ems", 1, timeout=8)[0]
    for r in (narrow, sup, ems):
        assert fh.verify(r["headers"], r["body"]), "signed over the bytes sent"
        assert b"naloxone on the table" not in r["body"], "internal notes never leave by default"
    # narrow: exactly the alias and the access notes of the session's personal data.
    session = json.loads(narrow["body"])["data"]["session"]
    assert session["caller"] == {"alias": "J"}
    assert session["location"] == {"access_notes": "side door code 1234"}
    assert "substance" not in session and "notes" not in session
    for secret in [b"123 Main St", b"+15551234567", b"fentanyl", b"4B"]:
        assert secret not in narrow["body"], secret
    # sup (a notify target, defaults): the alias only; no address, no substance.
    for secret in [b"123 Main St", b"+15551234567", b"fentanyl", b"side door"]:
        assert secret not in sup["body"], secret
    assert json.loads(sup["body"])["data"]["session"]["caller"] == {"alias": "J"}
    # ems (a dispatch target, defaults): everything a responder needs, the substance included.
    s = json.loads(ems["body"])["data"]["session"]
    assert s["location"]["address"] == "123 Main St" and s["location"]["access_notes"] == "side door code 1234"
    assert s["caller"]["callback_number"] == "+15551234567" and s["substance"] == "fentanyl"
    assert "notes" not in s


def test_substance_round_trips_and_is_patched(vigils):
    v = vigils(fh.yaml_config(0, "data"), name="substance")
    v.start()
    s = v.start_session(interval=600, substance="fentanyl")
    assert s["substance"] == "fentanyl"
    # An active session's read leaves the substance out; the recorded reveal has it.
    assert "substance" not in v.call("GET", f"/v1/sessions/{s['id']}")[1]
    reveal = f"/v1/sessions/{s['id']}/location/reveal"
    assert v.call("POST", reveal, {})[1]["substance"] == "fentanyl"
    status, p = v.call("PATCH", f"/v1/sessions/{s['id']}", {"substance": "xylazine and fentanyl"})
    assert status == 200 and "substance" not in p
    assert v.call("POST", reveal, {})[1]["substance"] == "xylazine and fentanyl"
    status, body = v.call("POST", "/v1/sessions", {"location": {"address": "x"}, "check_in_interval_s": 60,
                                                   "substance": "a\u202eb"})
    assert status == 400 and "substance" in body["error"]["message"]


def test_cleartext_targets_off_loopback_are_refused_by_config_check(tmp_path):
    import subprocess
    cfg = fh.yaml_config(0, "data", '  far: {url: "http://192.0.2.10/hook", format: json, secret_env: FAULT_SECRET}')
    path = tmp_path / "v.yaml"
    path.write_text(cfg)
    env = dict(fh.os.environ, FAULT_TOKEN=fh.TOKEN, FAULT_SECRET=fh.SECRET)
    r = fh.run([fh.BIN, "config", "check", str(path)], capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "http:// is allowed only for a loopback receiver" in r.stdout, r.stdout
    path.write_text(cfg.replace('format: json,', 'format: json, insecure_http: true,'))
    r = fh.run([fh.BIN, "config", "check", str(path)], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "unencrypted" in r.stdout, r.stdout


def test_a_hundred_concurrent_starts_with_one_idempotency_key_make_one_session(vigils):
    from concurrent.futures import ThreadPoolExecutor
    v = vigils(fh.yaml_config(0, "data"), name="idempotency")
    v.start()
    body = {"location": {"address": "1 A St"}, "check_in_interval_s": 600}

    def start(_):
        return v.call("POST", "/v1/sessions", body, headers={"Idempotency-Key": "one-key"})

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(start, range(100)))
    # docs/contract.md: a repeat that arrives while the first is still being handled is a 409 `in_progress`.
    assert all(status in (201, 409) for status, _ in results), {s for s, _ in results}
    assert all(s["error"]["code"] == "in_progress" for status, s in results if status == 409)
    assert len({s["id"] for status, s in results if status == 201}) == 1
    assert len(v.call("GET", "/v1/sessions?state=all")[1]["sessions"]) == 1


def test_key_and_token_files_are_private_and_a_readable_key_is_refused(vigils):
    import os, stat, subprocess
    v = vigils(fh.yaml_config(0, "data"), name="keys")
    v.start()
    v.stop()
    key = os.path.join(v.dir, "data", "vigil.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(v.dir, "data", "vigil.sqlite")).st_mode) & 0o077 == 0
    os.chmod(key, 0o644)
    r = fh.run([fh.BIN, "serve", "--config", v.config_path], cwd=v.dir, env=v.env, capture_output=True,
                       text=True, timeout=20)
    assert r.returncode != 0
    assert "readable by group or others" in r.stderr and "chmod 600" in r.stderr, r.stderr[-500:]


def test_keys_rotate_reseals_the_database_and_the_service_reads_it_after(vigils, receiver):
    import os, subprocess
    v = vigils(fh.yaml_config(0, "data"), name="rotate")
    v.start()
    s = v.start_session(interval=600, substance="fentanyl")
    v.stop()
    key = os.path.join(v.dir, "data", "vigil.key")
    before = open(key).read()
    r = fh.run([fh.BIN, "keys", "rotate", "--config", v.config_path], cwd=v.dir, env=v.env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "re-sealed" in r.stdout
    assert open(key).read() != before and os.path.exists(key + ".previous")
    os.remove(key + ".previous")  # the old key is gone: only the new one can open the data now
    v.start()
    got = v.call("POST", f"/v1/sessions/{s['id']}/location/reveal", {})[1]
    assert got["location"]["address"] == "123 Main St" and got["substance"] == "fentanyl"
