"""Check-ins by text against the real binary, signed as Twilio signs its inbound webhooks (docs/contract.md, "Check-ins by
text"). The expected signature is computed here from Twilio's published algorithm: base64 HMAC-SHA1, keyed with the
auth token, of the full URL followed by every POST parameter's name and value, sorted by name."""
import base64, hashlib, hmac, json, time, urllib.parse, urllib.request, urllib.error
import fault_harness as fh

TWILIO_TOKEN = "twilio-auth-token-for-tests-0123"
METRICS_TOKEN = "sms-metrics-token-0123456789"


def sign(url, params, token=TWILIO_TOKEN):
    text = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def config(port, receiver, country=None):
    return fh.yaml_config(
        port, "data", targets=f'  ems: {{url: "{receiver.url("/ems")}", format: json, secret_env: FAULT_SECRET}}',
        policy="default: {ack_timeout_s: 60, steps: [{after_s: 600, dispatch: [ems]}]}",
        tokens=["{name: scrape, role: metrics, token_env: METRICS_TOKEN}"],
        extra=f'public_url: "http://127.0.0.1:{port}/"\nsms: {{provider: twilio, auth_token_env: TWILIO_TOKEN}}'
              + (f"\ndefault_country: {country}" if country else ""))


class Stream:
    """The console's event stream (`GET /v1/events`), read frame by frame as a browser's EventSource reads it."""

    def __init__(self, v, last_event_id=None):
        headers = {"Authorization": f"Bearer {fh.TOKEN}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.r = urllib.request.urlopen(urllib.request.Request(v.base + "/v1/events", headers=headers), timeout=10)
        self.frames = []

    def until(self, event_type, timeout=10):
        """Reads frames until one of `event_type` arrives; returns it (`id`, `event`, `data` parsed)."""
        end, current = time.time() + timeout, {}
        while time.time() < end:
            line = self.r.readline().decode().rstrip("\n")
            if line.startswith(("id:", "event:", "data:")):
                k, _, val = line.partition(": ")
                current[k] = val
            elif line == "" and current:
                current["data"] = json.loads(current["data"])
                self.frames.append(current)
                if current["event"] == event_type:
                    return current
                current = {}
        raise AssertionError(f"no {event_type} on the stream; saw {[f['event'] for f in self.frames]}")

    def close(self):
        self.r.close()


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


def test_a_number_typed_without_its_country_code_is_matched_and_its_help_escalates(vigils, receiver):
    v = vigils(config(fh.free_port(), receiver, country="US"), name="sms-national",
               env={"TWILIO_TOKEN": TWILIO_TOKEN, "METRICS_TOKEN": METRICS_TOKEN})
    v.start()
    sms = SMS(v)
    s = v.start_session(interval=600, grace=60, caller={"alias": "J", "callback_number": "555-123-4567"})
    console = Stream(v)

    # Neither OK nor HELP: shown to the operators on the stream, no state change.
    assert sms.send("+15551234567", "running late, fine")[0] == 200
    received = console.until("sms.received")
    assert received["data"]["session_id"] == s["id"] and received["data"]["data"]["text"] == "running late, fine"

    # HELP from the number in E.164, as the gateway sends it: dispatched now, and the console sees it.
    status, body, _ = sms.send("+15551234567", "HELP")
    assert status == 200, body
    ems = receiver.wait_for("/ems", 1, timeout=5)
    assert len(ems) == 1, ems
    sent = json.loads(ems[0]["body"])
    assert sent["type"] == "dispatch.requested" and sent["data"]["session"]["id"] == s["id"]
    assert sent["data"]["session"]["caller"]["callback_number"] == "+15551234567", "stored in E.164"
    assert state(v, s["id"])["dispatch"]["requested_by"] == "sms"
    helped = console.until("sms.help")
    assert helped["data"]["session_id"] == s["id"] and helped["data"]["data"]["dispatched"] is True
    console.close()

    # A number that cannot be read, even with the default country, is a 400 naming the field; nothing starts.
    before = len(v.call("GET", "/v1/sessions")[1]["sessions"])
    status, err = v.call("POST", "/v1/sessions", {"location": {"address": "1 Elm St"}, "check_in_interval_s": 60,
                                                  "caller": {"callback_number": "555-0100"}})
    assert status == 400 and err["error"]["message"].startswith("caller.callback_number "), err
    assert len(v.call("GET", "/v1/sessions")[1]["sessions"]) == before
    log = open(v.log_path, errors="replace").read()
    assert "5551234567" not in log and "555-123-4567" not in log and "555-0100" not in log, "numbers are never logged"


def test_help_from_a_number_no_session_has_is_answered_and_raised_to_the_console(vigils, receiver):
    v = vigils(config(fh.free_port(), receiver), name="sms-unknown-help",
               env={"TWILIO_TOKEN": TWILIO_TOKEN, "METRICS_TOKEN": METRICS_TOKEN})
    v.start()
    sms = SMS(v)
    s = v.start_session(interval=600, grace=60)   # callback_number +15551234567
    console = Stream(v)

    # An unknown number's plain text: the empty answer, counted, no event.
    status, body, _ = sms.send("+15550009999", "ok")
    assert status == 200 and "<Response/>" in body
    # Its help word: answered, and a system event with the number masked.
    status, body, ctype = sms.send("+1 555 000 9999", "  Help! ", sid="SMunknownhelp")
    assert status == 200 and ctype.startswith("text/xml")
    assert ("<Message>We could not match this number to a check-in. If someone needs help now, call 911.</Message>"
            in body), body
    raised = console.until("sms.unknown_help")
    event = raised["data"]
    assert event["session_id"] is None and event["data"]["from"] == "***9999", event
    assert "5550009999" not in json.dumps(event)
    # A replayed MessageSid gets the same answer and raises nothing again.
    assert sms.send("+1 555 000 9999", "  Help! ", sid="SMunknownhelp")[1] == body
    console.close()

    # Kept in the log: a console that connects later and resumes from the start receives it.
    later = Stream(v, last_event_id=0)
    again = later.until("sms.unknown_help")
    assert again["id"] == raised["id"]
    later.close()
    timeline = v.call("GET", f"/v1/sessions/{s['id']}")[1]
    assert timeline["state"] == "active" and all(e["type"] != "sms.unknown_help" for e in timeline["events"])
    metrics = v.call("GET", "/metrics", token=METRICS_TOKEN)[1].decode()
    assert "vigil_sms_unknown_sender_total 2" in metrics, metrics
    assert receiver.got("/ems") == [], "no dispatch for an unknown number"
    log = open(v.log_path, errors="replace").read()
    assert "5550009999" not in log and "555 000 9999" not in log, "numbers are never logged"
