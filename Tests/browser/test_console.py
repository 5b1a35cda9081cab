"""The operator console and the person's page, driven in a real headless Chromium against a real `vigil serve`."""
import json, os, tempfile, time
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import StaleElementReferenceException
import fault_harness as fh


def server(tmp_dir, receiver=None):
    policy = "default: {ack_timeout_s: 5, steps: []}"
    # A fixed port: the browser keeps the console's address across the restarts below.
    return fh.Vigil(fh.yaml_config(fh.free_port(), "data", "", policy), name="console", workdir=tmp_dir)


def row(driver, sid):
    return driver.find_element(By.CSS_SELECTOR, f'tr[data-session-id="{sid}"]')


def wait(driver, cond, timeout=20):
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException]).until(cond)


def click(driver, sid, action):
    """Clicks a row's action button; the board re-renders on every event, so retry a stale row."""
    def attempt(d):
        row(d, sid).find_element(By.CSS_SELECTOR, f'[data-action="{action}"]').click()
        return True
    wait(driver, attempt, 10)


def row_text(driver, sid):
    return wait(driver, lambda d: row(d, sid).text)


def test_the_console_through_a_session_lapse_acknowledge_check_in_end_and_restart(browser, shot):
    v = server(tempfile.mkdtemp()).start()
    try:
        d = browser
        d.get(v.base + "/")
        d.find_element(By.ID, "signin-token").send_keys(fh.TOKEN)
        d.find_element(By.ID, "signin-submit").click()
        wait(d, EC.visibility_of_element_located((By.ID, "board")))
        wait(d, lambda d: "live" in d.find_element(By.ID, "conn").text)
        shot(d, "01-signed-in-empty-board")

        # Start a session from the form; an empty address is refused with a clear message first.
        d.find_element(By.ID, "new-session-button").click()
        form = d.find_element(By.ID, "new-session")
        form.find_element(By.NAME, "alias").send_keys("Sam")
        interval = form.find_element(By.NAME, "check_in_interval_s")
        interval.clear()
        interval.send_keys("5")
        grace = form.find_element(By.NAME, "grace_s")
        grace.clear()
        grace.send_keys("2")
        d.find_element(By.ID, "new-session-submit").click()
        assert "Address is required" in d.find_element(By.ID, "new-session-error").text
        shot(d, "02-form-validation")
        form.find_element(By.NAME, "address").send_keys("123 Main St")
        form.find_element(By.NAME, "unit").send_keys("4B")
        d.find_element(By.ID, "new-session-submit").click()
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#board-body tr"))
        sid = d.find_element(By.CSS_SELECTOR, "#board-body tr").get_attribute("data-session-id")
        wait(d, lambda d: row(d, sid).get_attribute("data-state") == "active")
        text = row_text(d, sid)
        assert "Sam" in text and "Active" in text
        first = wait(d, lambda d: row(d, sid).find_element(By.CLASS_NAME, "countdown").text)
        time.sleep(1.3)
        assert wait(d, lambda d: row(d, sid).find_element(By.CLASS_NAME, "countdown").text) != first, "the timer counts down"
        shot(d, "03-active-counting-down")

        # Let it lapse: overdue, then escalating, with the alarm banner.
        wait(d, lambda d: row(d, sid).get_attribute("data-state") == "overdue", 10)
        wait(d, EC.visibility_of_element_located((By.ID, "alarm-banner")))
        assert "overdue" in d.find_element(By.ID, "alarm-text").text
        assert "OVERDUE" in row_text(d, sid)
        shot(d, "04-overdue-alarm")
        wait(d, lambda d: row(d, sid).get_attribute("data-state") == "escalating", 10)
        shot(d, "05-escalating")
        d.find_element(By.ID, "alarm-ack").click()
        assert not d.find_element(By.ID, "alarm-banner").is_displayed()

        # Acknowledge the escalation, then check in: back to active.
        click(d, sid, "acknowledge")
        wait(d, lambda d: "acknowledged by console" in row(d, sid).text)
        shot(d, "06-acknowledged")
        click(d, sid, "check-in")
        wait(d, lambda d: row(d, sid).get_attribute("data-state") == "active")
        shot(d, "07-checked-in-active")

        # Restart the server: the board recovers by itself and shows a session started meanwhile.
        v.kill9()
        wait(d, lambda d: "reconnecting" in d.find_element(By.ID, "conn").text, 15)
        shot(d, "08-server-down")
        v.start()
        other = v.start_session(interval=600)
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-session-id="{other["id"]}"]'), 20)
        wait(d, lambda d: "live" in d.find_element(By.ID, "conn").text)
        shot(d, "09-recovered-after-restart")

        # End with an outcome.
        click(d, sid, "end")
        d.find_element(By.ID, "end-outcome").send_keys("False alarm")
        d.find_element(By.ID, "end-submit").click()
        wait(d, lambda d: not d.find_elements(By.CSS_SELECTOR, f'tr[data-session-id="{sid}"]'))
        status, s = v.call("GET", f"/v1/sessions/{sid}")
        assert s["state"] == "ended" and s["outcome"] == "false_alarm"
        shot(d, "10-ended")
    finally:
        v.stop()


def test_the_persons_page_works_without_javascript(nojs_browser, shot):
    v = server(tempfile.mkdtemp()).start()
    try:
        s = v.start_session(interval=600)
        d = nojs_browser
        d.get(v.base + s["check_in_url"])
        html = d.page_source
        for personal in ["123 Main St", "4B", "+15551234567", "side door", "naloxone"]:
            assert personal not in html, personal
        size = len(html.encode())
        assert size < 10_240, size
        shot(d, "11-person-page")
        d.find_element(By.TAG_NAME, "button").click()
        wait(d, lambda d: "Thank you" in d.page_source)
        shot(d, "12-person-page-checked-in")
        events = v.call("GET", f"/v1/sessions/{s['id']}")[1]["events"]
        assert any(e["type"] == "check_in.received" and e["data"]["source"] == "caller" for e in events)
    finally:
        v.stop()


def sign_in(d, base):
    d.get(base + "/")
    d.find_element(By.ID, "signin-token").send_keys(fh.TOKEN)
    d.find_element(By.ID, "signin-submit").click()
    wait(d, EC.visibility_of_element_located((By.ID, "board")))


def test_a_console_opened_or_reloaded_while_a_session_escalates_raises_the_banner(browser, shot):
    v = server(tempfile.mkdtemp()).start()
    try:
        quiet = v.start_session(interval=600, caller={"alias": "Quiet"})
        s = v.start_session(interval=1, grace=1, caller={"alias": "Robin"})
        end = time.time() + 10
        while v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] != "escalating":
            assert time.time() < end, "the session escalates"
            time.sleep(0.2)
        d = browser
        sign_in(d, v.base)
        banner = wait(d, EC.visibility_of_element_located((By.ID, "alarm-banner")))
        text = d.find_element(By.ID, "alarm-text").text
        assert "Robin" in text and "escalating" in text, text
        assert "Quiet" not in text, "a session that is not in alarm is not listed"
        shot(d, "13-loaded-while-escalating")
        # Dismissing the banner acknowledges nothing.
        d.find_element(By.ID, "alarm-ack").click()
        assert not banner.is_displayed()
        assert v.call("GET", f"/v1/sessions/{s['id']}")[1]["escalation"]["acknowledged_by"] is None
        # A reload (a shift change, a laptop that woke up) raises it again.
        d.refresh()
        wait(d, EC.visibility_of_element_located((By.ID, "board")))
        wait(d, EC.visibility_of_element_located((By.ID, "alarm-banner")))
        assert "Robin" in d.find_element(By.ID, "alarm-text").text
        shot(d, "14-reloaded-while-escalating")
        # The stream reconnecting after a restart raises it too.
        d.find_element(By.ID, "alarm-ack").click()
        v.kill9()
        wait(d, lambda d: "reconnecting" in d.find_element(By.ID, "conn").text, 15)
        v.start()
        wait(d, lambda d: "live" in d.find_element(By.ID, "conn").text, 20)
        wait(d, EC.visibility_of_element_located((By.ID, "alarm-banner")))
        assert "Robin" in d.find_element(By.ID, "alarm-text").text
    finally:
        v.stop()
