"""Configuration reload against the real binary: `SIGHUP`, `POST /v1/system/reload` and `vigil config reload` read
the file again; tokens, targets and policies change in place, open sessions keep their policy, and a file that
`config check` refuses is refused whole while the old configuration keeps serving."""
import hashlib, json, os, signal, socket, threading, time, urllib.request
import fault_harness as fh

ADMIN = "reload-admin-token-0123456789"
LATE = "reload-late-token-0123456789"
LEAKED = "reload-leaked-token-0123456789"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def config(v_dir, port, receiver, path="/a", tokens=(), policy=None, extra=""):
    """The configuration the tests rewrite: an admin token and the given ones (each read from a file), one target."""
    files = []
    for name, role, secret in [("admin", "admin", ADMIN)] + list(tokens):
        f = os.path.join(v_dir, f"{name}.token")
        write(f, secret + "\n")
        files.append(f"{{name: {name}, role: {role}, token_file: \"{f}\"}}")
    targets = f"""  ems: {{url: "{receiver.url(path)}", format: json, secret_env: FAULT_SECRET}}"""
    policy = policy or "default: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [ems]}]}"
    return fh.yaml_config(port, "data", targets, policy, tokens=files, extra=extra)


def start(vigils, receiver, name, tokens=()):
    port = fh.free_port()
    v = vigils(fh.yaml_config(port, "data"), name=name)
    write(v.config_path, config(v.dir, port, receiver, tokens=tokens))
    v.start()
    return v, port


def rewrite(v, port, receiver, **kw):
    write(v.config_path, config(v.dir, port, receiver, **kw))


def reload(v):
    return v.call("POST", "/v1/system/reload", {}, token=ADMIN)


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def system_events(v, type_):
    """The events of `type_` in the log (system events have no session), read from the stream from the first."""
    req = urllib.request.Request(v.base + "/v1/events", headers={"Authorization": f"Bearer {fh.TOKEN}",
                                                                 "Last-Event-ID": "0"})
    got = b""
    with urllib.request.urlopen(req, timeout=2) as r:
        end = time.time() + 1.0
        while time.time() < end:
            try:
                chunk = r.read1(65536)
            except (socket.timeout, TimeoutError):
                break
            if not chunk:
                break
            got += chunk
    out = []
    for frame in got.decode().split("\n\n"):
        data = [l[5:].strip() for l in frame.splitlines() if l.startswith("data:")]
        if data:
            e = json.loads(data[0])
            if e["type"] == type_:
                out.append(e)
    return out


def test_a_token_added_to_the_file_works_at_once_after_a_reload(vigils, receiver):
    v, port = start(vigils, receiver, "reload-add")
    assert v.call("GET", "/v1/sessions", token=LATE)[0] == 401
    rewrite(v, port, receiver, tokens=[("late", "operator", LATE)])
    status, body = reload(v)
    assert status == 200, body
    assert body["sha256"] == sha(v.config_path)
    assert v.call("GET", "/v1/sessions", token=LATE)[0] == 200, "the new token works on the next request"
    # /readyz names the hash of the file in force; the event says it too.
    assert v.call("GET", "/readyz")[1]["checks"]["config_sha256"] == body["sha256"]
    reloaded = system_events(v, "config.reloaded")
    assert [e["data"]["sha256"] for e in reloaded] == [body["sha256"]] and reloaded[0]["session_id"] is None


def test_sighup_reloads_the_file(vigils, receiver):
    v, port = start(vigils, receiver, "reload-hup")
    rewrite(v, port, receiver, tokens=[("late", "operator", LATE)])
    v.proc.send_signal(signal.SIGHUP)
    end = time.time() + 5
    while time.time() < end and v.call("GET", "/v1/sessions", token=LATE)[0] != 200:
        time.sleep(0.05)
    assert v.call("GET", "/v1/sessions", token=LATE)[0] == 200, "SIGHUP read the file again"
    assert v.proc.poll() is None
    log = open(v.log_path).read()
    assert "SIGHUP received" in log and "configuration reloaded" in log


def test_a_revoked_token_gets_401_and_its_open_stream_is_closed_at_once(vigils, receiver):
    v, port = start(vigils, receiver, "reload-revoke", tokens=[("leaked", "viewer", LEAKED)])
    req = urllib.request.Request(v.base + "/v1/events", headers={"Authorization": f"Bearer {LEAKED}"})
    stream = urllib.request.urlopen(req, timeout=10)
    assert stream.status == 200
    ended = threading.Event()

    def drain():
        try:
            while stream.read1(65536):
                pass
        except Exception:
            pass
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    time.sleep(0.3)
    assert not ended.is_set()
    rewrite(v, port, receiver)
    t0 = time.time()
    status, body = reload(v)
    assert status == 200, body
    assert ended.wait(2.0), "the revoked token's stream was closed"
    took = time.time() - t0
    # Two-sided: closed by the reload itself (well under the 15 s keep-alive that would otherwise reveal nothing).
    assert took < 2.0, took
    status, body = v.call("GET", "/v1/sessions", token=LEAKED)
    assert status == 401, (status, body)
    # Another token's requests are not affected.
    assert v.call("GET", "/v1/sessions")[0] == 200
    log = open(v.log_path).read()
    assert "tokens_revoked=1" in log and "streams_closed=1" in log


def test_a_changed_target_url_takes_the_next_notification(vigils, receiver):
    v, port = start(vigils, receiver, "reload-url")
    rewrite(v, port, receiver, path="/b")
    assert reload(v)[0] == 200
    v.start_session(interval=1, grace=0)
    got = receiver.wait_for("/b", 1, timeout=10)
    assert json.loads(got[0]["body"])["type"] == "escalation.step"
    assert fh.verify(got[0]["headers"], got[0]["body"])
    assert receiver.got("/a") == [], "nothing went to the old URL"


def test_a_broken_file_is_refused_whole_and_the_old_configuration_keeps_serving(vigils, receiver):
    v, port = start(vigils, receiver, "reload-broken")
    before = v.call("GET", "/readyz")[1]["checks"]["config_sha256"]
    good = open(v.config_path).read()
    # A new token and a policy naming a target that does not exist: config check refuses it, so nothing of it applies.
    rewrite(v, port, receiver, tokens=[("late", "operator", LATE)],
            policy="default: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [nowhere]}]}")
    status, body = reload(v)
    assert status == 422, body
    assert body["error"]["code"] == "config_refused" and "nowhere" in body["error"]["message"]
    assert v.call("GET", "/v1/sessions", token=LATE)[0] == 401, "nothing of a refused file applies"
    assert v.call("GET", "/readyz")[1]["checks"]["config_sha256"] == before
    # The old policy still serves: a session's ladder notifies the old target.
    v.start_session(interval=1, grace=0)
    assert receiver.wait_for("/a", 1, timeout=10)
    failed = system_events(v, "config.reload_failed")
    assert len(failed) == 1 and "nowhere" in failed[0]["data"]["error"]
    assert failed[0]["data"]["running_sha256"] == before
    assert "configuration reload refused" in open(v.log_path).read()
    # Not YAML at all: refused the same way.
    write(v.config_path, "listen: [\n")
    status, body = reload(v)
    assert status == 422 and "\n" not in body["error"]["message"], body
    write(v.config_path, good)
    assert reload(v)[0] == 200


def test_a_reload_that_would_strand_an_open_sessions_policy_is_refused(vigils, receiver):
    v, port = start(vigils, receiver, "reload-strand")
    s = v.start_session(interval=600, grace=30)
    # The new file drops target ems, which the open session's policy (kept until it ends) names.
    write(v.config_path, fh.yaml_config(port, "data", "", "default: {ack_timeout_s: 30, steps: []}",
                                        tokens=[f"{{name: admin, role: admin, token_file: \"{v.dir}/admin.token\"}}"]))
    status, body = reload(v)
    assert status == 422, body
    assert s["id"] in body["error"]["message"] and "ems" in body["error"]["message"]
    # Once the session ends, the same file is taken; the session kept its policy meanwhile.
    assert v.call("POST", f"/v1/sessions/{s['id']}/end", {"outcome": "safe"})[0] == 200
    assert reload(v)[0] == 200


def test_open_sessions_keep_the_policy_they_started_with(vigils, receiver):
    v, port = start(vigils, receiver, "reload-keep")
    s = v.start_session(interval=2, grace=0)
    # The new default policy notifies nobody; the open session still climbs its own ladder to ems.
    rewrite(v, port, receiver, policy="default: {ack_timeout_s: 30, steps: []}")
    assert reload(v)[0] == 200
    assert receiver.wait_for("/a", 1, timeout=10)
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "escalating"
    # A session started after the reload takes the new policy: nothing more is sent for it.
    s2 = v.start_session(interval=1, grace=0)
    time.sleep(2.5)
    assert len(receiver.got("/a")) == 1
    assert v.call("GET", f"/v1/sessions/{s2['id']}")[1]["state"] in ("escalating", "overdue")


def test_vigil_config_reload_prints_the_hash_or_the_first_error(vigils, receiver):
    v, port = start(vigils, receiver, "reload-cli")
    env = dict(os.environ, VIGIL_TOKEN=ADMIN)
    r = fh.run([fh.BIN, "config", "reload", "--server", v.base], env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sha256"] == sha(v.config_path)
    write(v.config_path, "listen: [\n")
    r = fh.run([fh.BIN, "config", "reload", "--server", v.base], env=env)
    assert r.returncode == 1 and "HTTP 422" in r.stderr, (r.returncode, r.stderr)
    # An operator may not reload.
    r = fh.run([fh.BIN, "config", "reload", "--server", v.base], env=dict(os.environ, VIGIL_TOKEN=fh.TOKEN))
    assert r.returncode == 1 and "HTTP 403" in r.stderr
    # --pid signals the process instead.
    rewrite(v, port, receiver, tokens=[("late", "operator", LATE)])
    r = fh.run([fh.BIN, "config", "reload", "--pid", str(v.proc.pid)], env=env)
    assert r.returncode == 0, r.stderr
    end = time.time() + 5
    while time.time() < end and v.call("GET", "/v1/sessions", token=LATE)[0] != 200:
        time.sleep(0.05)
    assert v.call("GET", "/v1/sessions", token=LATE)[0] == 200
