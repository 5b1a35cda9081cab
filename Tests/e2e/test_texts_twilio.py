"""Texts to the person and to responders through a `format: twilio` target, against the real binary and a fake Twilio
Messages API on 127.0.0.1 (docs/contract.md, "Texts to the person and to responders"). The fake checks what Twilio
checks: the path `/2010-04-01/Accounts/{sid}/Messages.json`, HTTP Basic auth with the account SID and auth token,
and a form-encoded `To`, `From` and `Body`; it answers 201 as Twilio does. Status callbacks are signed here with
Twilio's published algorithm (base64 HMAC-SHA1 of the URL followed by the sorted POST parameters)."""
import base64, hashlib, hmac, http.server, json, threading, time, urllib.error, urllib.parse, urllib.request
import fault_harness as fh

SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-auth-token-for-tests-0123"
FROM = "+18005550100"
INVALID = "+15550009999"   # the fake answers 400, as Twilio does for a number it cannot text (error 21211)
SAM = {"name": "Sam", "phone": "+1 (555) 765-4321", "relation": "friend"}
KIM = {"name": "Kim", "phone": "+15550001111", "relation": "neighbour"}


class FakeTwilio:
    """Twilio's Messages API as far as Vigil uses it: every request is kept with what was wrong with it, if anything."""

    def __init__(self):
        self.messages, self.refused = [], []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                expected_auth = "Basic " + base64.b64encode(f"{SID}:{TWILIO_TOKEN}".encode()).decode()
                form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
                problem = None
                if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
                    problem = (404, "path " + self.path)
                elif self.headers.get("authorization") != expected_auth:
                    problem = (401, "authorization")
                elif self.headers.get("content-type") != "application/x-www-form-urlencoded":
                    problem = (400, "content-type " + str(self.headers.get("content-type")))
                elif not form.get("To") or not form.get("Body") or form.get("From") != FROM:
                    problem = (400, "fields " + ", ".join(sorted(form)))
                elif any(k.startswith("webhook-") for k in (h.lower() for h in self.headers.keys())):
                    problem = (400, "a Standard Webhooks signature on a Twilio request")
                elif form.get("To") == INVALID:
                    problem = (400, "21211 invalid To")
                with outer.lock:
                    (outer.refused if problem else outer.messages).append(
                        dict(form, _problem=problem and problem[1], _at=time.time()))
                status = problem[0] if problem else 201
                answer = json.dumps({"sid": f"SM{len(outer.messages):032d}", "status": "queued"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64
            allow_reuse_address = True

        self.port = fh.free_port()
        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/2010-04-01/Accounts/{SID}/Messages.json"

    def got(self, to=None):
        with self.lock:
            return [m for m in self.messages if to is None or m["To"] == to]

    def wait_for(self, to, count=1, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            got = self.got(to)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{to} received {len(self.got(to))} of {count} texts; refused: {self.refused}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def config(port, twilio, receiver, policy):
    targets = (f'  sms: {{url: "{twilio.url}", format: twilio, account_sid: {SID}, auth_token_env: TWILIO_TOKEN, '
               f'from: "{FROM}"}}\n'
               f'  ems: {{url: "{receiver.url("/ems")}", format: json, secret_env: FAULT_SECRET}}')
    return fh.yaml_config(port, "data", targets, policy,
                          extra=f'public_url: "http://127.0.0.1:{port}"\n'
                                f'sms: {{provider: twilio, auth_token_env: TWILIO_TOKEN}}')


def sign(url, params, token=TWILIO_TOKEN):
    text = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def status_callback(url, status, sid, signature="auto"):
    """POSTs the gateway's status report for a text to the `StatusCallback` URL it was given."""
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": SID, "To": "+15550000000", "From": FROM}
    if status == "undelivered":
        params["ErrorCode"] = "30003"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature:
        headers["X-Twilio-Signature"] = sign(url, params) if signature == "auto" else signature
    req = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def events(v, sid):
    return v.call("GET", f"/v1/sessions/{sid}")[1]["events"]


def test_reminder_prompt_and_responders_by_text_and_an_undelivered_text_moves_to_the_next_responder(vigils, receiver):
    twilio = FakeTwilio()
    try:
        port = fh.free_port()
        policy = ("default: {ack_timeout_s: 30, remind: {before_s: 2, via: sms}, steps: ["
                  "{after_s: 0, contact: person, via: sms}, {after_s: 0, contact: responders, via: sms, answer_s: 60}, "
                  "{after_s: 120, dispatch: [ems]}]}")
        v = vigils(config(port, twilio, receiver, policy), name="texts", env={"TWILIO_TOKEN": TWILIO_TOKEN})
        v.start()
        s = v.start_session(interval=4, grace=1, responders=[SAM, KIM], substance="fentanyl")
        token = s["check_in_url"].rsplit("/", 1)[-1]

        # The reminder, 2 s before the due time, then the prompt and the first responder at the end of the grace.
        person = twilio.wait_for("+15551234567", 2, timeout=15)
        sam = twilio.wait_for("+15557654321", 1, timeout=10)
        reminder, prompt = person[0], person[1]
        for text in (reminder, prompt):
            body = text["Body"]
            assert f"http://127.0.0.1:{port}/c/{token}" in body, body
            assert "Reply OK if you are OK, HELP for help" in body, body
            for banned in ("Main St", "4B", "side door", "fentanyl", "overdose", "?"):
                assert banned.lower() not in body.lower(), (banned, body)
        assert "due in" in reminder["Body"] and "not heard from you" in prompt["Body"]
        assert "123 Main St, unit 4B" in sam[0]["Body"] and "side door" not in sam[0]["Body"], sam[0]["Body"]
        assert "/r/" in sam[0]["Body"]
        assert twilio.refused == []

        # Each text names its status callback under public_url, which identifies the session and the notification.
        cb = sam[0]["StatusCallback"]
        assert cb.startswith(f"http://127.0.0.1:{port}/v1/inbound/sms/status?session={s['id']}&"), cb
        assert status_callback(cb, "undelivered", "SM1", signature=sign(cb, {"MessageStatus": "delivered"})) == 403
        assert status_callback(cb, "undelivered", "SM1", signature=None) == 403
        assert len(twilio.got("+15550001111")) == 0

        # An undelivered report for Sam's text: Kim is texted at once, not after Sam's 60 s to answer.
        sent = time.time()
        assert status_callback(cb, "undelivered", "SM1") == 204
        kim = twilio.wait_for("+15550001111", 1, timeout=5)
        assert kim[0]["_at"] - sent < 3, "the next responder is contacted at once"
        assert status_callback(cb, "undelivered", "SM1") == 204   # a repeat changes nothing
        time.sleep(0.5)
        assert len(twilio.got("+15550001111")) == 1
        # The reminder's delivered report is on the timeline.
        assert status_callback(reminder["StatusCallback"], "delivered", "SM2") == 204
        ev = events(v, s["id"])
        statuses = [e["data"]["status"] for e in ev if e["type"] == "sms.status"]
        assert statuses == ["undelivered", "delivered"], statuses
        failed = [e for e in ev if e["type"] == "delivery.failed"]
        assert len(failed) == 1 and "undelivered" in failed[0]["data"]["reason"], failed
        assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["delivery_failures"] == 1
    finally:
        twilio.close()


def test_no_reminder_for_a_session_with_reminders_false_or_without_a_number(vigils, receiver):
    twilio = FakeTwilio()
    try:
        port = fh.free_port()
        policy = "default: {ack_timeout_s: 30, remind: {before_s: 2, via: sms}, steps: []}"
        v = vigils(config(port, twilio, receiver, policy), name="texts-off", env={"TWILIO_TOKEN": TWILIO_TOKEN})
        v.start()
        t0 = time.time()
        off = v.start_session(interval=4, grace=60, reminders=False)
        assert off["reminders"] is False
        no_number = v.start_session(interval=4, grace=60, caller={"alias": "K"})
        on = v.start_session(interval=4, grace=60, caller={"alias": "L", "callback_number": "+15552223333"})
        assert on["reminders"] is True
        twilio.wait_for("+15552223333", 1, timeout=10)
        # Past every session's due time (4 s) with a second to spare: the control got its reminder, the others none.
        time.sleep(max(0.0, t0 + 5.0 - time.time()))
        assert [m["To"] for m in twilio.got()] == ["+15552223333"], twilio.got()
        assert v.call("GET", f"/v1/sessions/{off['id']}")[1]["state"] == "overdue"
        assert v.call("GET", f"/v1/sessions/{no_number['id']}")[1]["state"] == "overdue"
        assert not any(e["type"] == "person.reminder" for e in events(v, off["id"]) + events(v, no_number["id"]))
        # PATCH turns them back on for the next due time.
        assert v.call("PATCH", f"/v1/sessions/{off['id']}", {"reminders": True})[0] == 200
        assert v.call("PATCH", f"/v1/sessions/{off['id']}", {"reminders": "yes"})[0] == 400
    finally:
        twilio.close()


def test_a_refused_number_fails_at_once_and_alarms_and_a_supervisor_gets_a_summary_without_the_address(
        vigils, receiver):
    twilio = FakeTwilio()
    try:
        port = fh.free_port()
        targets = (f'  sms: {{url: "{twilio.url}", format: twilio, account_sid: {SID}, auth_token_env: TWILIO_TOKEN, '
                   f'from: "{FROM}", retry: {{max_attempts: 5, initial_backoff_s: 1}}}}\n'
                   f'  boss: {{url: "{twilio.url}", format: twilio, account_sid: {SID}, auth_token_env: TWILIO_TOKEN, '
                   f'from: "{FROM}", to: "+15554440000"}}')
        policy = ("default: {ack_timeout_s: 30, remind: {before_s: 2, via: sms}, "
                  "steps: [{after_s: 0, notify: [boss]}]}")
        v = vigils(fh.yaml_config(port, "data", targets, policy, extra=f'public_url: "http://127.0.0.1:{port}"'),
                   name="texts-refused", env={"TWILIO_TOKEN": TWILIO_TOKEN})
        v.start()
        s = v.start_session(interval=3, grace=1, caller={"alias": "J", "callback_number": INVALID})
        # The reminder is refused with a 400: one attempt, no retry, and the console's alarm.
        end = time.time() + 10
        while time.time() < end and not any(e["type"] == "delivery.failed" for e in events(v, s["id"])):
            time.sleep(0.1)
        ev = events(v, s["id"])
        failed = [e for e in ev if e["type"] == "delivery.failed"]
        assert failed and failed[0]["data"]["type"] == "person.reminder", [e["type"] for e in ev]
        target_failed = [e for e in ev if e["type"] == "delivery.target_failed"]
        assert target_failed[0]["data"]["attempts"] == 1 and "400" in target_failed[0]["data"]["reason"]
        assert len([m for m in twilio.refused if m["To"] == INVALID]) == 1
        # The notify step texts the supervisor a one-line summary: the alias, what happened, no address.
        boss = twilio.wait_for("+15554440000", 1, timeout=10)[0]
        assert boss["Body"].startswith("Vigil: J: escalation.step (step 1): missed the check-in due at "), boss["Body"]
        for banned in ("Main St", "side door", "5550009999"):
            assert banned not in boss["Body"], boss["Body"]
    finally:
        twilio.close()
