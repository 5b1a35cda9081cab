"""The responder's page in a real Chromium with JavaScript turned off, and the console showing where each responder
stands, against a real `vigil serve`."""
import json, tempfile, time
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from selenium.common.exceptions import StaleElementReferenceException
import fault_harness as fh


def server(receiver):
    port = fh.free_port()
    targets = (f"  gw: {{url: \"{receiver.url('/gw')}\", format: json, secret_env: FAULT_SECRET}}\n"
               f"  ems: {{url: \"{receiver.url('/ems')}\", format: json, secret_env: FAULT_SECRET}}")
    policy = ("default: {ack_timeout_s: 60, going_pause_s: 120, steps: ["
              "{after_s: 0, contact: responders, via: gw, answer_s: 60}, {after_s: 90, dispatch: [ems]}]}")
    cfg = fh.yaml_config(port, "data", targets, policy, extra=f'public_url: "http://127.0.0.1:{port}"')
    return fh.Vigil(cfg, name="responder-page", workdir=tempfile.mkdtemp())


def wait(driver, cond, timeout=20):
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException]).until(cond)


def test_the_responder_page_works_without_javascript_and_the_console_shows_the_answer(nojs_browser, browser, shot):
    receiver = fh.Receiver()
    v = server(receiver).start()
    try:
        s = v.start_session(interval=2, grace=1, responders=[
            {"name": "Sam", "phone": "+15557654321", "relation": "friend"},
            {"name": "Kim", "phone": "+15550001111", "relation": "neighbour"}])
        got = receiver.wait_for("/gw", 1, timeout=15, type_="responder.requested")
        url = json.loads(got[0]["body"])["data"]["responder_url"]

        d = nojs_browser
        d.get(url)
        text = d.find_element(By.TAG_NAME, "body").text
        assert "J asked for you to check on them now" in text
        assert "123 Main St" in text and "Unit 4B" in text and "side door code 1234" in text
        shot(d, "20-responder-page")

        d.find_element(By.CSS_SELECTOR, "button[value=going]").click()
        wait(d, lambda d: "recorded that you are going" in d.find_element(By.TAG_NAME, "body").text)
        assert d.current_url == url, "303 back to the same page"
        shot(d, "21-responder-going")
        session = v.call("GET", f"/v1/sessions/{s['id']}")[1]
        assert session["escalation"]["paused_until"] is not None
        assert [r["status"] for r in session["responders"]] == ["going", "not_contacted"]

        # The console shows the pause and where each responder stands.
        c = browser
        c.get(v.base + "/")
        c.find_element(By.ID, "signin-token").send_keys(fh.TOKEN)
        c.find_element(By.ID, "signin-submit").click()
        row = f'tr[data-session-id="{s["id"]}"]'
        wait(c, lambda c: "Sam going" in c.find_element(By.CSS_SELECTOR, row).text)
        wait(c, lambda c: "paused" in c.find_element(By.CSS_SELECTOR, row).text)
        shot(c, "22-console-responder-going")

        d.find_element(By.CSS_SELECTOR, "button[value=ok]").click()
        wait(d, lambda d: "recorded that they are OK" in d.find_element(By.TAG_NAME, "body").text)
        shot(d, "23-responder-ok")
        assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] == "active"
        assert receiver.got("/ems") == []
    finally:
        v.stop()
        receiver.close()
