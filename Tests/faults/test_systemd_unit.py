"""The shipped systemd unit: systemd accepts it, and the real binary runs and escalates under its syscall filter."""
import os, re, shutil, subprocess, tempfile, time
import fault_harness as fh
import seccomp_unit

UNIT = os.path.join(fh.ROOT, "ops", "vigil.service")


def test_systemd_analyze_verify_accepts_the_unit():
    d = tempfile.mkdtemp(prefix="vigil-unit-")
    text = open(UNIT).read().replace("/usr/local/bin/vigil", fh.BIN)
    # verify checks that the executable and the environment file exist; point them at this build.
    env_file = os.path.join(d, "vigil.env")
    open(env_file, "w").close()
    text = text.replace("/etc/vigil/vigil.env", env_file)
    path = os.path.join(d, "vigil.service")
    open(path, "w").write(text)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", path], capture_output=True, text=True)
    # Known and harmless here: the `vigil` user does not exist on a test machine, and man pages are not installed.
    harmless = ("User=", "Documentation", "vigil.service: Failed to resolve user", "Failed to look up user")
    problems = [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and not any(h in l for h in harmless)]
    # A failing verify fails the test whatever its messages name: only the harmless ones above may be printed.
    assert not problems, r.stdout + r.stderr
    assert r.returncode == 0 or not problems, r.stdout + r.stderr


def test_the_units_filter_returns_an_error_instead_of_killing():
    allowed, default, denied = seccomp_unit.unit_filter(UNIT)
    # Dispatch's worker threads call setpriority; a denied call must fail with an errno, not kill with SIGSYS.
    assert default != seccomp_unit.SCMP_ACT_KILL_PROCESS, "SystemCallErrorNumber= is set"
    for needed in ["setpriority", "sched_setaffinity", "prlimit64", "getrlimit", "clock_nanosleep", "epoll_wait",
                   "fdatasync", "accept4", "connect", "futex", "mmap", "mprotect"]:
        assert needed in allowed, needed


def test_the_real_binary_serves_and_escalates_under_the_units_syscall_filter(vigils, receiver):
    targets = f"  sup: {{url: \"{receiver.url('/sup')}\", format: json, secret_env: FAULT_SECRET}}"
    policy = "default: {ack_timeout_s: 3, steps: [{after_s: 0, notify: [sup]}]}"
    v = vigils(fh.yaml_config(0, "data", targets, policy), name="seccomp")
    v.start(preexec_fn=seccomp_unit.preexec(UNIT))
    s = v.start_session(interval=1, grace=1)
    got = receiver.wait_for("/sup", 1, timeout=10)
    assert got, "the ladder's webhook went out under the filter"
    time.sleep(2)
    assert v.proc.poll() is None, f"vigil died under the filter: {open(v.log_path).read()[-1500:]}"
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "escalating"
    assert v.call("GET", "/readyz")[0] == 200
    v.stop()
    assert v.proc.returncode == 0, f"a clean stop under the filter, not {v.proc.returncode}"


def test_the_unit_starts_after_the_clock_is_synchronized():
    text = open(UNIT).read()
    after = [l.split("=", 1)[1].split() for l in text.splitlines() if l.startswith("After=")]
    assert any("time-sync.target" in a for a in after), "Vigil anchors to the wall clock at start: order it after sync"


def test_the_unit_reloads_with_sighup():
    text = open(UNIT).read()
    reload = [l.split("=", 1)[1] for l in text.splitlines() if l.startswith("ExecReload=")]
    assert reload == ["/bin/kill -HUP $MAINPID"], "systemctl reload sends SIGHUP, which reads the file again"
