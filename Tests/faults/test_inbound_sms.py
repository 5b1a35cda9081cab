"""Check-ins by text against the real binary, signed as Twilio signs its inbound webhooks (CONTRACT, "Check-ins by
text"). The expected signature is computed here from Twilio's published algorithm: base64 HMAC-SHA1, keyed with the
auth token, of the full URL followed by every POST parameter's name and value, sorted by name."""
import base64, hashlib, hmac, json, time, urllib.parse, urllib.request, urllib.error
import fault_harness as fh

TWILIO_TOKEN = "twilio-auth-token-for-tests-0123"
METRICS_TOKEN = "sms-metrics-token-0123456789"


def sign(url, params, token=TWILIO_TOKEN):
    text = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def config(port, receiver):
    return fh.yaml_config(
        port, "data", targets=f'  ems: {{url: "{receiver.url("/ems")}", format: json, secret_env: FAULT_SECRET}}',
        policy="default: {ack_timeout_s: 60, steps: [{after_s: 600, dispatch: [ems]}]}",
        tokens=["{name: scrape, role: metrics, token_env: METRICS_TOKEN}"],
        extra=f'public_url: "http://127.0.0.1:{port}/"\nsms: {{provider: twilio, auth_token_env: TWILIO_TOKEN}}')


class SMS:
    def __init__(self, v):
        self.v = v
        self.url = f"http://127.0.0.1:{v.port}/v1/inbound/sms"
        self.n = 0

    def send(self, frm, body, sid=None, signature="auto"):
        self.n += 1
        params = {"From": frm, "To": "+18005550100", "Body": body, "MessageSid": sid or f"SM{self.n:032d}",
                  "AccountSid": "AC" + "0" * 32}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "auto":
            headers["X-Twilio-Signature"] = sign(self.url, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        req = urllib.request.Request(self.url, data=urllib.parse.urlencode(params).encode(), method="POST",
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode(), r.headers.get("content-type")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers.get("content-type")


def state(v, sid):
    return v.call("GET", f"/v1/sessions/{sid}")[1]


def wait_state(v, sid, want, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        s = state(v, sid)
        if s["state"] == want:
            return s
        time.sleep(0.1)
    raise AssertionError(f"never {want}")


def test_an_ok_from_the_sessions_number_checks_in_and_from_another_number_changes_nothing(vigils, receiver):
    v = vigils(config(fh.free_port(), receiver), name="sms", env={"TWILIO_TOKEN": TWILIO_TOKEN,
                                                                  "METRICS_TOKEN": METRICS_TOKEN})
    v.start()
    sms = SMS(v)
    s = v.start_session(interval=1, grace=60)   # callback_number +15551234567
    wait_state(v, s["id"], "overdue")

    # Another number: nothing changes, nothing is answered, it is counted.
    status, body, ctype = sms.send("+15550009999", "ok")
    assert status == 200 and "<Response/>" in body and ctype.startswith("text/xml")
    assert state(v, s["id"])["state"] == "overdue"
    metrics = v.call("GET", "/metrics", token=METRICS_TOKEN)[1].decode()
    assert "vigil_sms_unknown_sender_total 1" in metrics

    # A wrong or missing signature: 403 and nothing changes.
    assert sms.send("+15551234567", "ok", signature=sign(sms.url, {"Body": "ok"}))[0] == 403
    assert sms.send("+15551234567", "ok", signature=None)[0] == 403
    assert sms.send("+15551234567", "ok", signature=sign(sms.url, {}, token="another-token"))[0] == 403
    assert state(v, s["id"])["state"] == "overdue"

    # The session's own number, with punctuation, a curly apostrophe and an emoji.
    status, body, _ = sms.send("+1 555 123 4567", "  I\u2019m OK! \U0001F44D ", sid="SMreplay")
    assert status == 200 and "<Message>" in body, body
    after = state(v, s["id"])
    assert after["state"] == "active"
    check_ins = [e for e in after["events"] if e["type"] == "check_in.received"]
    assert len(check_ins) == 1 and check_ins[0]["data"]["source"] == "sms"

    # A replayed MessageSid gets the first answer and changes nothing.
    time.sleep(1.5)
    wait_state(v, s["id"], "overdue")
    status, again, _ = sms.send("+15551234567", "  I\u2019m OK! \U0001F44D ", sid="SMreplay")
    assert status == 200 and again == body
    assert state(v, s["id"])["state"] == "overdue", "a captured ok cannot be replayed"

    # Anything else is shown to the operator; HELP dispatches now.
    assert sms.send("+15551234567", "running late, fine")[0] == 200
    assert any(e["type"] == "sms.received" for e in state(v, s["id"])["events"])
    assert sms.send("+15551234567", "HELP")[0] == 200
    assert len(receiver.wait_for("/ems", 1, timeout=5)) == 1
    assert state(v, s["id"])["dispatch"]["requested_by"] == "sms"
    log = open(v.log_path, errors="replace").read()
    assert "5550009999" not in log and "5551234567" not in log, "numbers are never logged"
