"""Real processes for fault tests: `vigil serve` on a real SQLite file, webhook receivers on 127.0.0.1."""
import base64, hashlib, hmac, json, os, re, signal, socket, ssl, subprocess, tempfile, threading, time
import http.server
import urllib.request, urllib.error

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("VIGIL_BIN", os.path.join(ROOT, ".build", "debug", "vigil"))
TOKEN = "fault-operator-token-0123456789"
SECRET = "whsec_" + base64.b64encode(b"fault-test-secret-32-bytes-long!").decode()
LOG_DIR = os.path.join(ROOT, ".build", "test-logs")


def run(cmd, **kw):
    """`subprocess.run` for the `vigil` command line: output captured as text, and its stderr kept in the run's
    logs so that the privacy scan reads it too (a command that prints an address or a key to stderr fails it)."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    r = subprocess.run(cmd, **kw)
    os.makedirs(LOG_DIR, exist_ok=True)
    name = os.path.basename(str(cmd[1])) if len(cmd) > 1 else "vigil"
    with open(os.path.join(LOG_DIR, f"cmd-{name}-{os.getpid()}-{time.time_ns()}.log"), "w") as f:
        err = r.stderr if isinstance(r.stderr, str) else (r.stderr or b"").decode(errors="replace")
        f.write(err or "")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def verify(headers, body, secret=SECRET):
    key = base64.b64decode(secret[len("whsec_"):])
    msg = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return expected in headers.get("webhook-signature", "").split(" ")


class Receiver:
    """A webhook receiver whose answer per path is programmable: a list of behaviours consumed in order
    (the last one repeats). A behaviour is an int status, or a dict with status/headers/delay."""

    def __init__(self, tls_context=None):
        self.requests = []
        self.behaviour = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("content-length", 0))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body, "at": time.time()})
                    plan = outer.behaviour.get(self.path, [200])
                    b = plan.pop(0) if len(plan) > 1 else plan[0]
                b = {"status": b} if isinstance(b, int) else b
                if b.get("delay"):
                    time.sleep(b["delay"])
                self.send_response(b.get("status", 200))
                for k, v in b.get("headers", {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256
            allow_reuse_address = True

        self.port = free_port()
        self.server = Server(("127.0.0.1", self.port), Handler)
        if tls_context:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        scheme = "https" if tls_context else "http"
        host = "localhost" if tls_context else "127.0.0.1"
        self.base = f"{scheme}://{host}:{self.port}"

    def url(self, path):
        return self.base + path

    def set(self, path, *plan):
        with self.lock:
            self.behaviour[path] = list(plan)

    def got(self, path=None, type_=None):
        with self.lock:
            out = [r for r in self.requests if path is None or r["path"] == path]
        if type_:
            out = [r for r in out if json.loads(r["body"]).get("type") == type_]
        return out

    def wait_for(self, path, count=1, timeout=20, type_=None):
        """The requests to `path` (of `type_`) once there are at least `count`; fails the test, saying how many came,
        when the time runs out first (a test that expects fewer reads `got`)."""
        end = time.time() + timeout
        while time.time() < end:
            got = self.got(path, type_)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        got = self.got(path, type_)
        assert len(got) >= count, f"{path} ({type_ or 'any type'}) received {len(got)} of {count} within {timeout} s"
        return got

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def yaml_config(port, data_dir, targets="", policy=None, extra="", tokens=()):
    """The one configuration builder of the Python suites: an operator token named `console`, the given targets
    (YAML lines under `targets:`), one policy line, any extra tokens (flow mappings) and extra top-level YAML."""
    policy = policy or "default: {ack_timeout_s: 3, steps: []}"
    more = "".join(f"\n    - {t}" for t in tokens)
    return f"""listen: "127.0.0.1:{port}"
storage: {{sqlite: "{data_dir}/vigil.sqlite"}}
auth:
  tokens:
    - {{name: console, role: operator, token_env: FAULT_TOKEN}}{more}
targets:
{targets if targets else "  {}"}
policies:
  {policy}
scheduler: {{sweep_interval_s: 0.5}}
{extra}
"""


class Vigil:
    """One `vigil serve` process; can be killed with SIGKILL and started again on the same data."""

    def __init__(self, config_text, name="vigil", env=None, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="vigil-fault-")
        self.port = None
        self.config_path = os.path.join(self.dir, "vigil.yaml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        os.makedirs(LOG_DIR, exist_ok=True)
        self.log_path = os.path.join(LOG_DIR, f"{name}-{os.getpid()}-{int(time.time()*1000)}.log")
        self.env = dict(os.environ, FAULT_TOKEN=TOKEN, FAULT_SECRET=SECRET, **(env or {}))
        self.proc = None
        for line in config_text.splitlines():
            if line.startswith("listen:"):
                self.port = int(line.split(":")[-1].strip().strip('"'))
        # Port 0: the kernel picks a free port when Vigil binds, and Vigil prints it ("serving on http://…:N/");
        # no port is chosen here and released for another process to take first.
        self.listen_port = self.port
        self.log_offset = 0
        self.base = f"http://127.0.0.1:{self.port}"

    def _bound_port(self):
        """The port this start of the process bound, read from its own banner (port 0 in the configuration)."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            m = re.search(rb"serving on http://[^:/]+:(\d+)/", f.read())
        if not m:
            return False
        self.port = int(m.group(1))
        self.base = f"http://127.0.0.1:{self.port}"
        return True

    def start(self, wait=True, timeout=30, preload=None, preexec_fn=None):
        env = dict(self.env)
        if preload:
            env.update(preload)
        log = open(self.log_path, "ab")
        self.log_offset = log.tell()
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config_path], cwd=self.dir,
                                     stdout=log, stderr=log, env=env, preexec_fn=preexec_fn)
        self.started_at = time.time()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigil exited with {self.proc.returncode}: {open(self.log_path).read()[-2000:]}")
            if self.listen_port == 0 and not self._bound_port():
                time.sleep(0.02)
                continue
            try:
                if urllib.request.urlopen(self.base + "/readyz", timeout=1).status == 200:
                    self.ready_at = time.time()
                    return
            except Exception:
                pass
            time.sleep(0.02)
        raise RuntimeError("vigil did not become ready")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def call(self, method, path, body=None, token=TOKEN, raw=None, headers=None, timeout=10):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read()
                return r.status, (json.loads(text) if text and r.headers.get_content_type() == "application/json" else text)
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except Exception:
                return e.code, text

    def start_session(self, interval=2, grace=1, policy="default", address="123 Main St", **extra):
        body = {"location": {"address": address, "unit": "4B", "access_notes": "side door code 1234",
                             "latitude": 39.7817, "longitude": -89.6501},
                "caller": {"alias": "J", "callback_number": "+15551234567"},
                "check_in_interval_s": interval, "grace_s": grace, "policy": policy, "notes": "naloxone on the table"}
        body.update(extra)
        status, s = self.call("POST", "/v1/sessions", body)
        assert status == 201, (status, s)
        return s
