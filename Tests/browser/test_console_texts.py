"""Texts reach the operator console: a person's text, their HELP, and a help word from a number no session has each
raise the banner, in a real headless Chromium against a real `vigil serve` that receives signed inbound texts."""
import base64, hashlib, hmac, tempfile, urllib.parse, urllib.request
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
import fault_harness as fh
from test_console import wait, sign_in

TWILIO_TOKEN = "twilio-auth-token-for-console-0123"


def text(v, frm, body, n):
    url = f"http://127.0.0.1:{v.port}/v1/inbound/sms"
    params = {"From": frm, "To": "+18005550100", "Body": body, "MessageSid": f"SM{n:032d}"}
    signed = url + "".join(k + val for k, val in sorted(params.items()))
    signature = base64.b64encode(hmac.new(TWILIO_TOKEN.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    req = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def banner_says(d, words):
    wait(d, EC.visibility_of_element_located((By.ID, "alarm-banner")))
    wait(d, lambda d: all(w in d.find_element(By.ID, "alarm-text").text for w in words), 15)
    d.find_element(By.ID, "alarm-ack").click()


def test_texts_from_a_person_and_help_from_an_unknown_number_raise_the_console_banner(browser, shot):
    port = fh.free_port()
    v = fh.Vigil(fh.yaml_config(
        port, "data", "", "default: {ack_timeout_s: 5, steps: []}",
        extra=f'public_url: "http://127.0.0.1:{port}/"\nsms: {{provider: twilio, auth_token_env: TWILIO_TOKEN}}\n'
              "default_country: US"),
        name="console-texts", workdir=tempfile.mkdtemp(), env={"TWILIO_TOKEN": TWILIO_TOKEN}).start()
    try:
        v.start_session(interval=600, grace=60, caller={"alias": "Robin", "callback_number": "555-123-4567"})
        d = browser
        sign_in(d, v.base)
        assert not d.find_element(By.ID, "alarm-banner").is_displayed(), "nothing in alarm yet"

        text(v, "+15551234567", "running late, fine", 1)
        banner_says(d, ["Robin", "texted", "running late, fine"])

        answer = text(v, "+15550009999", "HELP", 2)
        assert "call 911" in answer
        banner_says(d, ["matches no session", "***9999"])
        shot(d, "texts-unknown-help")

        text(v, "+15551234567", "help", 3)
        banner_says(d, ["Robin", "texted HELP"])
    finally:
        v.stop()
