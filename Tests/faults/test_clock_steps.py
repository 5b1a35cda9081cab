"""Wall-clock steps (changed while the service runs): no ladder fires early, none is skipped, /readyz reports it.

The step is made by `wallstep.c`, preloaded into the real binary: it moves CLOCK_REALTIME, and only it, by the
offset in a file, as NTP or `date -s` would. (libfaketime was used before; it also rewrites absolute timerfd
deadlines of monotonic clocks as wall-clock ones, which on a machine up for less than the offset turns them negative,
the kernel refuses them, and the service's timers stop firing altogether: a failure of the tool, not of a real step.)
"""
import json, os, shutil, subprocess, tempfile, time, urllib.request
import pytest
import fault_harness as fh

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def wallstep():
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not compiler:
        pytest.fail("no C compiler to build the wall-clock step library (apt-get install gcc)")
    out = os.path.join(tempfile.mkdtemp(prefix="vigil-wallstep-"), "wallstep.so")
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", out, os.path.join(HERE, "wallstep.c")], check=True)
    return out


def test_the_step_library_moves_the_wall_clock_and_nothing_else(wallstep):
    stamp = tempfile.mktemp(prefix="vigil-wallstep-")
    with open(stamp, "w") as f:
        f.write("-3600\n")
    code = "import time; print(time.time() - time.monotonic())"
    env = dict(os.environ, LD_PRELOAD=wallstep, WALLSTEP_FILE=stamp)
    shifted = float(subprocess.run(["python3", "-c", code], env=env, capture_output=True, text=True).stdout)
    plain = float(subprocess.run(["python3", "-c", code], capture_output=True, text=True).stdout)
    assert abs((plain - shifted) - 3600) < 5, (plain, shifted)


# Forward one hour, back one hour, forward ten minutes.
@pytest.mark.parametrize("step", ["3600", "-3600", "600"])
def test_a_clock_step_neither_fires_the_ladder_early_nor_skips_it(vigils, receiver, wallstep, step):
    stamp = tempfile.mktemp(prefix="vigil-wallstep-")
    with open(stamp, "w") as f:
        f.write("0\n")
    targets = f"""  sup: {{url: "{receiver.url('/sup')}", format: json, secret_env: FAULT_SECRET}}
  ems: {{url: "{receiver.url('/ems')}", format: json, secret_env: FAULT_SECRET}}"""
    policy = "default: {ack_timeout_s: 3, steps: [{after_s: 0, notify: [sup]}, {after_s: 1, dispatch: [ems]}]}"
    v = vigils(fh.yaml_config(0, "data", targets, policy))
    v.start(preload={"LD_PRELOAD": wallstep, "WALLSTEP_FILE": stamp})
    t0 = time.time()
    s = v.start_session(interval=4, grace=1)
    time.sleep(1)
    with open(stamp, "w") as f:
        f.write(step + "\n")
    time.sleep(1.5)
    ready = json.load(urllib.request.urlopen(v.base + "/readyz"))
    assert "stepped" in ready["checks"]["clock"], f"the step took effect: {ready}"
    assert receiver.got() == [], "nothing fires early"
    sup = receiver.wait_for("/sup", 1, timeout=10)
    ems = receiver.wait_for("/ems", 1, timeout=10)
    assert sup and ems, "nothing is skipped"
    assert 4.7 <= sup[0]["at"] - t0 <= 5.6, sup[0]["at"] - t0
    assert 5.7 <= ems[0]["at"] - t0 <= 6.6, ems[0]["at"] - t0
    # The receiver's 200 is recorded a moment after it is sent.
    end = time.time() + 5
    while time.time() < end and v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] != "dispatched":
        time.sleep(0.05)
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "dispatched"


def test_a_clock_step_raises_one_system_alarm_and_is_listed_in_readyz(vigils, receiver, wallstep):
    stamp = tempfile.mktemp(prefix="vigil-wallstep-")
    with open(stamp, "w") as f:
        f.write("0\n")
    targets = f"""  alarm: {{url: "{receiver.url('/alarm')}", format: json, secret_env: FAULT_SECRET}}"""
    v = vigils(fh.yaml_config(0, "data", targets, extra="alarm_targets: [alarm]"))
    v.start(preload={"LD_PRELOAD": wallstep, "WALLSTEP_FILE": stamp})
    time.sleep(1.5)
    assert receiver.got("/alarm") == [], "no alarm before the step"
    with open(stamp, "w") as f:
        f.write("600\n")
    alarms = receiver.wait_for("/alarm", 1, timeout=10)
    assert len(alarms) == 1, "the step raised an alarm"
    body = json.loads(alarms[0]["body"])
    assert body["type"] == "system.alarm" and "stepped by" in body["data"]["reason"], body
    ready = json.load(urllib.request.urlopen(v.base + "/readyz"))
    assert "stepped by" in ready["checks"]["clock"], ready
    # Raised once: later watchdog runs find the same step and say nothing more.
    time.sleep(3)
    assert len(receiver.got("/alarm")) == 1, [json.loads(r["body"]) for r in receiver.got("/alarm")]
