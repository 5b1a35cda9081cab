"""A SIGHUP (a `kill -HUP` from habit, a terminal that closes) never ends the watcher: the process keeps serving
and its deadlines keep firing, and the signal is logged."""
import signal, time
import fault_harness as fh


def test_sighup_leaves_the_watcher_running_and_its_ladder_firing(vigils, receiver):
    targets = f"""  sup: {{url: "{receiver.url('/sup')}", format: json, secret_env: FAULT_SECRET}}"""
    policy = "default: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [sup]}]}"
    v = vigils(fh.yaml_config(0, "data", targets, policy), name="hangup")
    v.start()
    s = v.start_session(interval=2, grace=1)
    v.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert v.proc.poll() is None, f"SIGHUP ended vigil (exit {v.proc.returncode})"
    assert v.call("GET", "/healthz")[0] == 200
    got = receiver.wait_for("/sup", 1, timeout=10)
    assert len(got) == 1, "the ladder still fired after the SIGHUP"
    assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "escalating"
    assert "SIGHUP received" in open(v.log_path).read()
