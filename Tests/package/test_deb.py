"""The Debian package, as a hotline's administrator meets it: installed with dpkg -i on a machine with no Swift
toolchain in its library path, its configuration checked, the installed binary run as the `vigil` user until a
session lapses into a local receiver, then removed and purged with the data still there.

Runs when VIGIL_DEB names a package built by scripts/package-deb.sh (scripts/test.sh does), as root, on a machine
where no vigil package is installed (it installs one system-wide and takes it away again)."""
import json, os, pwd, shutil, signal, stat, subprocess, tempfile, time, urllib.request
import pytest
import fault_harness as fh

DEB = os.environ.get("VIGIL_DEB")
pytestmark = [
    pytest.mark.skipif(not DEB, reason="VIGIL_DEB names no package (scripts/test.sh builds one)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="installing a package needs root"),
]


def sh(*cmd, check=True):
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    if check:
        assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture
def installed():
    assert sh("dpkg", "-s", "vigil", check=False).returncode != 0, "a vigil package is already installed here"
    existed = {p: os.path.exists(p) for p in ("/var/lib/vigil", "/etc/vigil")}
    had_user = sh("getent", "passwd", "vigil", check=False).returncode == 0
    out = sh("dpkg", "-i", DEB)
    print(out.stdout + out.stderr)
    yield
    sh("dpkg", "-P", "vigil", check=False)
    # Only what this test made goes: never a machine's own data.
    for p, was in existed.items():
        if not was:
            shutil.rmtree(p, ignore_errors=True)
    if not had_user:
        sh("deluser", "--system", "vigil", check=False)
        sh("delgroup", "--system", "vigil", check=False)


def test_the_package_installs_runs_as_vigil_and_keeps_the_data_when_removed(installed, receiver, tmp_path):
    # What it holds: no Swift library outside the binary, the unit, the conffile, completions.
    listing = sh("dpkg", "-L", "vigil").stdout.split()
    for path in ["/usr/bin/vigil", "/usr/lib/vigil/vigil", "/lib/systemd/system/vigil.service",
                 "/etc/vigil/vigil.yaml", "/usr/share/bash-completion/completions/vigil",
                 "/usr/share/doc/vigil/copyright"]:
        assert path in listing, path
    ldd = sh("ldd", "/usr/lib/vigil/vigil").stdout
    assert "swift" not in ldd.lower() and "Foundation" not in ldd and "dispatch" not in ldd, ldd
    assert "/etc/vigil/vigil.yaml" in sh("dpkg-query", "-W", "-f=${Conffiles}", "vigil").stdout

    # What the maintainer scripts made: a system user, a private state directory, a key only vigil may read.
    user = pwd.getpwnam("vigil")
    assert user.pw_uid < 1000 and user.pw_shell.endswith("nologin")
    st = os.stat("/var/lib/vigil")
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == user.pw_uid
    key = os.stat("/etc/vigil/encryption.key")
    assert stat.S_IMODE(key.st_mode) == 0o600 and key.st_uid == user.pw_uid

    r = sh("vigil", "config", "check", "/etc/vigil/vigil.yaml")
    print(r.stdout + r.stderr)

    # The smoke test: the installed binary, as the vigil user, on the package's database, with a dispatch target
    # on loopback. The build's own console files are moved aside so that only the package's can be served.
    port = fh.free_port()
    installed_config = open("/etc/vigil/vigil.yaml").read()
    smoke = installed_config.replace('listen: "127.0.0.1:8080"', f'listen: "127.0.0.1:{port}"')
    smoke = smoke.split("policies:")[0] + f"""targets:
  ems: {{url: "{receiver.url('/ems')}", format: json, secret_env: FAULT_SECRET}}
policies:
  default: {{ack_timeout_s: 60, steps: [{{after_s: 0, dispatch: [ems]}}]}}
"""
    d = tempfile.mkdtemp(prefix="vigil-deb-")
    os.chmod(d, 0o755)
    config = os.path.join(d, "smoke.yaml")
    open(config, "w").write(smoke)
    os.chmod(config, 0o644)
    build_bundles = [p for p in (os.path.join(os.path.dirname(fh.BIN), "Vigil_VigilHTTP.resources"),)
                     if os.path.isdir(p)]
    for p in build_bundles:
        os.rename(p, p + ".aside")
    proc = None
    try:
        token = open("/etc/vigil/operator.token").read().strip()
        log = open(os.path.join(fh.LOG_DIR, f"deb-smoke-{os.getpid()}.log"), "wb")
        # setpriv executes Vigil itself as vigil (no process in between to catch the stop signal).
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        proc = subprocess.Popen([setpriv, "--reuid=vigil", "--regid=vigil", "--init-groups", "/usr/bin/vigil", "serve",
                                 "--config", config],
                                cwd="/var/lib/vigil", stdout=log, stderr=log, env={"PATH": "/usr/bin:/bin",
                                                                                   "FAULT_SECRET": fh.SECRET})
        v = fh.Vigil(smoke, name="deb-smoke", workdir=d)
        v.proc = proc
        v.wait_ready(30)
        status, page = v.call("GET", "/", token=None)
        assert status == 200 and b"<html" in page.lower(), (status, page[:200])
        s = v.call("POST", "/v1/sessions", {
            "location": {"address": "123 Main St", "latitude": 39.78, "longitude": -89.65},
            "caller": {"alias": "J", "callback_number": "+15551234567"},
            "check_in_interval_s": 1, "grace_s": 1}, token=token)
        assert s[0] == 201, s
        got = receiver.wait_for("/ems", 1, timeout=20)
        body = json.loads(got[0]["body"])
        assert body["type"] == "dispatch.requested" and body["data"]["session"]["id"] == s[1]["id"]
        assert fh.verify(got[0]["headers"], got[0]["body"])
        print(f"smoke: session {s[1]['id']} lapsed and dispatched to the local receiver")
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        for p in build_bundles:
            os.rename(p + ".aside", p)
    assert proc.returncode == 0, open(log.name).read()[-2000:]
    assert os.stat("/var/lib/vigil/vigil.sqlite").st_uid == user.pw_uid

    # Removing the package takes the program and keeps the data and its key; so does purging it.
    sh("dpkg", "-r", "vigil")
    assert not os.path.exists("/usr/bin/vigil")
    assert os.path.exists("/var/lib/vigil/vigil.sqlite") and os.path.exists("/etc/vigil/encryption.key")
    sh("dpkg", "-P", "vigil")
    assert os.path.exists("/var/lib/vigil/vigil.sqlite") and os.path.exists("/etc/vigil/encryption.key")
    n = subprocess.run(["sqlite3", "/var/lib/vigil/vigil.sqlite", "select count(*) from events"],
                       capture_output=True, text=True).stdout.strip()
    assert n.isdigit() and int(n) > 0, n
    print(f"removed and purged: /var/lib/vigil/vigil.sqlite still holds {n} events")
