"""Wall-clock steps (libfaketime, changed while the service runs): no ladder fires early, none is skipped."""
import json, os, tempfile, time, urllib.request
import pytest
import fault_harness as fh

LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


# The clock starts two hours ahead, because libfaketime ignores negative offsets read from its file: from there,
# "+3h" steps forward one hour and "+1h" steps back one hour.
@pytest.mark.parametrize("step", ["+3h", "+1h", "+130m"])
def test_a_clock_step_neither_fires_the_ladder_early_nor_skips_it(vigils, receiver, step):
    if not os.path.exists(LIB):
        pytest.fail("libfaketime is missing: apt-get install faketime")
    stamp = tempfile.mktemp(prefix="vigil-faketime-")
    with open(stamp, "w") as f:
        f.write("+2h\n")
    targets = f"""  sup: {{url: "{receiver.url('/sup')}", format: json, secret_env: FAULT_SECRET}}
  ems: {{url: "{receiver.url('/ems')}", format: json, secret_env: FAULT_SECRET}}"""
    policy = "default: {ack_timeout_s: 3, steps: [{after_s: 0, notify: [sup]}, {after_s: 1, dispatch: [ems]}]}"
    v = vigils(fh.yaml_config(fh.free_port(), "data", targets, policy))
    v.start(preload={"LD_PRELOAD": LIB, "FAKETIME_TIMESTAMP_FILE": stamp, "FAKETIME_NO_CACHE": "1",
                     "DONT_FAKE_MONOTONIC": "1"})
    t0 = time.time()
    s = v.start_session(interval=4, grace=1)
    time.sleep(1)
    with open(stamp, "w") as f:
        f.write(step + "\n")
    time.sleep(1.5)
    ready = json.load(urllib.request.urlopen(v.base + "/readyz"))
    assert "differs" in ready["checks"]["clock"], f"the step took effect: {ready}"
    assert receiver.got() == [], "nothing fires early"
    sup = receiver.wait_for("/sup", 1, timeout=10)
    ems = receiver.wait_for("/ems", 1, timeout=10)
    assert sup and ems, "nothing is skipped"
    assert 4.7 <= sup[0]["at"] - t0 <= 5.6, sup[0]["at"] - t0
    assert 5.7 <= ems[0]["at"] - t0 <= 6.6, ems[0]["at"] - t0
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "dispatched"
