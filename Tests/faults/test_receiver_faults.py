"""Receiver faults, each against a real server on 127.0.0.1: the dispatch still reaches someone, or the
operators are alarmed."""
import json, os, socket, ssl, threading, time
import pytest
import fault_harness as fh

RETRY = "retry: {max_attempts: 3, initial_backoff_s: 0.1, max_backoff_s: 2}"


def setup(vigils, receiver, faulty_url, faulty_extra="", good=True, timeout="1"):
    targets = f"""  faulty: {{url: "{faulty_url}", format: json, secret_env: FAULT_SECRET, timeout_s: {timeout}, {RETRY}{faulty_extra}}}
  good: {{url: "{receiver.url('/good')}", format: cap, secret_env: FAULT_SECRET, timeout_s: 2}}
  alarm: {{url: "{receiver.url('/alarm')}", format: json, secret_env: FAULT_SECRET}}"""
    chain = "[faulty, good]" if good else "[faulty]"
    policy = f"default: {{ack_timeout_s: 5, steps: [{{after_s: 60, dispatch: {chain}}}], on_delivery_failure: [alarm]}}"
    v = vigils(fh.yaml_config(0, "data", targets, policy)).start()
    s = v.start_session(interval=3600)
    status, _ = v.call("POST", f"/v1/sessions/{s['id']}/dispatch", {})
    assert status == 202
    return v, s


def timeline(v, sid):
    return v.call("GET", f"/v1/sessions/{sid}")[1]


def wait_state(v, sid, state, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        s = timeline(v, sid)
        if s["state"] == state:
            return s
        time.sleep(0.05)
    return timeline(v, sid)


def target_failures(s):
    return [e for e in s["events"] if e["type"] == "delivery.target_failed"]


class RawServer:
    """A TCP server that misbehaves: `reset` closes with RST after reading the request; `trickle` sends its answer one
    byte per second."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            c.settimeout(5)
            c.recv(65536)
            if self.mode == "reset":
                c.send(b"HTTP/1.1 200 OK\r\nContent-Le")
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
            else:
                for ch in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                    c.send(bytes([ch]))
                    time.sleep(1)
                c.close()
        except OSError:
            pass


def test_connection_refused_is_retried_then_the_next_target_gets_it(vigils, receiver):
    v, s = setup(vigils, receiver, f"http://127.0.0.1:{fh.free_port()}/x")
    after = wait_state(v, s["id"], "dispatched")
    assert after["dispatch"]["target"] == "good"
    fails = target_failures(after)
    assert len(fails) == 1 and fails[0]["data"]["attempts"] == 3 and "network error" in fails[0]["data"]["reason"]
    assert len(receiver.got("/good")) == 1


def test_a_reset_mid_response_is_a_failure_not_a_delivery(vigils, receiver):
    raw = RawServer("reset")
    v, s = setup(vigils, receiver, f"http://127.0.0.1:{raw.port}/x")
    after = wait_state(v, s["id"], "dispatched")
    assert after["dispatch"]["target"] == "good"
    assert raw.accepted == 3


def test_no_answer_times_out_and_fails_over(vigils, receiver):
    receiver.set("/slow", {"status": 200, "delay": 3})
    v, s = setup(vigils, receiver, receiver.url("/slow"), timeout="0.5")
    after = wait_state(v, s["id"], "dispatched")
    assert after["dispatch"]["target"] == "good"
    assert "timed out" in target_failures(after)[0]["data"]["reason"]


def test_a_byte_per_second_trickle_times_out(vigils, receiver):
    raw = RawServer("trickle")
    v, s = setup(vigils, receiver, f"http://127.0.0.1:{raw.port}/x", timeout="1")
    after = wait_state(v, s["id"], "dispatched", timeout=30)
    assert after["dispatch"]["target"] == "good"


@pytest.mark.parametrize("status", [301, 302, 410, 400])
def test_3xx_and_other_4xx_fail_that_target_at_once(vigils, receiver, status):
    receiver.set("/refuses", {"status": status, "headers": {"Location": "http://127.0.0.1:1/"}})
    v, s = setup(vigils, receiver, receiver.url("/refuses"))
    after = wait_state(v, s["id"], "dispatched")
    assert len(receiver.got("/refuses")) == 1, "no blind retries of a refused payload"
    assert target_failures(after)[0]["data"]["attempts"] == 1


def test_429_with_retry_after_is_honoured(vigils, receiver):
    receiver.set("/busy", {"status": 429, "headers": {"Retry-After": "1"}}, 200)
    v, s = setup(vigils, receiver, receiver.url("/busy"))
    after = wait_state(v, s["id"], "dispatched")
    got = receiver.got("/busy")
    assert len(got) == 2
    assert got[1]["at"] - got[0]["at"] >= 0.95
    assert got[0]["headers"]["webhook-id"] == got[1]["headers"]["webhook-id"]
    assert after["dispatch"]["target"] == "faulty"


def test_every_target_failing_raises_delivery_failed(vigils, receiver):
    receiver.set("/down", 503)
    v, s = setup(vigils, receiver, receiver.url("/down"), good=False)
    end = time.time() + 20
    while time.time() < end and not any(e["type"] == "delivery.failed" for e in timeline(v, s["id"])["events"]):
        time.sleep(0.05)
    after = timeline(v, s["id"])
    assert any(e["type"] == "delivery.failed" for e in after["events"])
    assert after["delivery_failures"] == 1 and after["state"] == "escalating"
    alarm = receiver.wait_for("/alarm", type_="delivery.failed")
    assert alarm and fh.verify(alarm[0]["headers"], alarm[0]["body"])


def tls_receiver(pki, client_cert=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
    if client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(pki, "clientca.pem"))
    return fh.Receiver(tls_context=ctx)


def test_a_certificate_from_an_untrusted_ca_is_refused(vigils, receiver, pki):
    tls = tls_receiver(pki)
    try:
        v, s = setup(vigils, receiver, tls.url("/tls"))
        after = wait_state(v, s["id"], "dispatched")
        assert after["dispatch"]["target"] == "good"
        assert not tls.got("/tls")
    finally:
        tls.close()


def test_the_same_certificate_is_accepted_with_its_ca_configured(vigils, receiver, pki):
    tls = tls_receiver(pki)
    try:
        extra = f", tls: {{ca_file: {os.path.join(pki, 'ca.pem')}}}"
        v, s = setup(vigils, receiver, tls.url("/tls"), faulty_extra=extra)
        after = wait_state(v, s["id"], "dispatched")
        assert after["dispatch"]["target"] == "faulty"
        assert len(tls.got("/tls")) == 1
    finally:
        tls.close()


def test_a_target_that_demands_a_client_certificate(vigils, receiver, pki):
    tls = tls_receiver(pki, client_cert=True)
    try:
        ca = f", tls: {{ca_file: {os.path.join(pki, 'ca.pem')}}}"
        v, s = setup(vigils, receiver, tls.url("/mtls"), faulty_extra=ca)
        assert wait_state(v, s["id"], "dispatched")["dispatch"]["target"] == "good", "no client cert: refused"
        both = (f", tls: {{ca_file: {os.path.join(pki, 'ca.pem')}, client_cert_file: {os.path.join(pki, 'client.pem')},"
                f" client_key_file: {os.path.join(pki, 'client.key')}}}")
        v2, s2 = setup(vigils, receiver, tls.url("/mtls"), faulty_extra=both)
        assert wait_state(v2, s2["id"], "dispatched")["dispatch"]["target"] == "faulty"
        assert len(tls.got("/mtls")) == 1
    finally:
        tls.close()
