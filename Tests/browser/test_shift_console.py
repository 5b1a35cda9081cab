"""The operator's shift in a real headless Chromium against a real `vigil serve`: where the person is, who is on
shift, nobody watching, what happened tonight, and the console under stress (focus, 360 px, accessibility)."""
import csv, io, json, os, tempfile, time, urllib.parse
from selenium.webdriver.common.by import By
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
import fault_harness as fh
from test_console import row, wait, click

TOKENS = {"ana": "ana-operator-token-0123456789", "bo": "bo-supervisor-token-0123456789",
          "vera": "vera-viewer-token-0123456789"}
A11Y = open(os.path.join(os.path.dirname(__file__), "a11y_check.js")).read()


def shift_config(port, targets="", policy=None, extra=""):
    text = fh.yaml_config(port, "data", targets, policy, extra)
    return text.replace(
        "    - {name: console, role: operator, token_env: FAULT_TOKEN}",
        "    - {name: console, role: operator, token_env: FAULT_TOKEN}\n"
        "    - {name: ana, role: operator, token_env: ANA_TOKEN}\n"
        "    - {name: bo, role: supervisor, token_env: BO_TOKEN}\n"
        "    - {name: vera, role: viewer, token_env: VERA_TOKEN}")


def shift_server(targets="", policy=None, extra=""):
    env = {"ANA_TOKEN": TOKENS["ana"], "BO_TOKEN": TOKENS["bo"], "VERA_TOKEN": TOKENS["vera"]}
    return fh.Vigil(shift_config(fh.free_port(), targets, policy, extra), name="shift", env=env,
                    workdir=tempfile.mkdtemp())


def sign_in(d, base, who="ana"):
    d.get(base + "/")
    d.find_element(By.ID, "signin-token").send_keys(TOKENS[who])
    d.find_element(By.ID, "signin-submit").click()
    wait(d, EC.visibility_of_element_located((By.ID, "board")))
    wait(d, lambda d: "live" in d.find_element(By.ID, "conn").text)


def events_of(v, sid):
    return v.call("GET", f"/v1/sessions/{sid}")[1]["events"]


def a11y(d, where):
    """Runs the shipped checker; returns the serious violations."""
    found = d.execute_script(A11Y)
    serious = [f for f in found if f["impact"] == "serious"]
    assert not serious, f"{where}: {json.dumps(serious, indent=1)}"
    return found


def test_the_location_is_on_an_overdue_row_and_a_reveal_before_that_is_recorded(browser, shot):
    v = shift_server(policy="default: {ack_timeout_s: 30, steps: []}").start()
    try:
        calm = v.start_session(interval=600, caller={"alias": "Calm", "callback_number": "+15557654321"},
                               address="9 Elm St")
        late = v.start_session(interval=1, grace=30, caller={"alias": "Robin", "callback_number": "+15551234567"})
        d = browser
        sign_in(d, v.base)
        wait(d, lambda d: row(d, late["id"]).get_attribute("data-state") == "overdue", 15)
        text = wait(d, lambda d: row(d, late["id"]).text)
        assert "123 Main St" in text and "unit 4B" in text and "side door code 1234" in text, text
        tel = row(d, late["id"]).find_element(By.CSS_SELECTOR, "a.tel")
        assert tel.get_attribute("href") == "tel:+15551234567"
        assert "Call +15551234567" in tel.text
        # Before it is overdue, the row does not show where the person is: it offers a recorded reveal.
        calm_text = row(d, calm["id"]).text
        assert "9 Elm St" not in calm_text and "Show location" in calm_text, calm_text
        assert not [e for e in events_of(v, late["id"]) if e["type"] == "location.viewed"], \
            "a location shown because the session is overdue is not a reveal"
        shot(d, "20-location-on-overdue-row")

        click(d, calm["id"], "reveal")
        wait(d, lambda d: "9 Elm St" in row(d, calm["id"]).text)
        assert row(d, calm["id"]).find_element(By.CSS_SELECTOR, "a.tel").get_attribute("href") == "tel:+15557654321"
        viewed = [e for e in events_of(v, calm["id"]) if e["type"] == "location.viewed"]
        assert len(viewed) == 1 and viewed[0]["data"]["by"] == "ana" and viewed[0]["data"]["role"] == "operator"
        assert "9 Elm St" not in json.dumps(viewed), "the event records who looked, never the address"
        shot(d, "21-location-revealed")
        click(d, calm["id"], "timeline")
        wait(d, EC.visibility_of_element_located((By.ID, "timeline-dialog")))
        reveal_row = wait(d, lambda d: d.find_element(By.CSS_SELECTOR, '#timeline tr[data-type="location.viewed"]'))
        assert "ana" in reveal_row.text
        shot(d, "22-reveal-in-timeline")

        # Edit on an active session fills in what the reveal answered (a read of it carries no address), and
        # saving sends the whole location back.
        d.execute_script("document.getElementById('timeline-dialog').close()")
        click(d, calm["id"], "edit")
        wait(d, EC.visibility_of_element_located((By.ID, "edit-dialog")))
        form = d.find_element(By.ID, "edit-form")
        assert form.find_element(By.NAME, "address").get_attribute("value") == "9 Elm St"
        assert form.find_element(By.NAME, "access_notes").get_attribute("value") == "side door code 1234"
        form.find_element(By.NAME, "unit").clear()
        form.find_element(By.NAME, "unit").send_keys("5C")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(d, lambda d: not d.find_element(By.ID, "edit-dialog").is_displayed())
        saved = v.call("POST", f"/v1/sessions/{calm['id']}/location/reveal", {})[1]
        assert saved["location"]["address"] == "9 Elm St" and saved["location"]["unit"] == "5C", saved
        assert "redacted" not in saved["location"]

        # Least privilege: a viewer watches the board but may not reveal.
        status, body = v.call("POST", f"/v1/sessions/{calm['id']}/location/reveal", {}, token=TOKENS["vera"])
        assert status == 403 and body["error"]["code"] == "forbidden"
        assert len([e for e in events_of(v, calm["id"]) if e["type"] == "location.viewed"]) == 2, \
            "the reveal and the check after the edit; the edit itself asked no second reveal"
    finally:
        v.stop()


def scripted_shift(v, receiver):
    """Twenty sessions: twelve check in and end well, eight lapse and are dispatched (three of them on a policy whose
    notify target refuses), then every one ends with an outcome."""
    quiet = [v.start_session(interval=600, caller={"alias": f"P{i:02d}"}) for i in range(12)]
    lapsing = [v.start_session(interval=1, grace=1, caller={"alias": f"L{i}"},
                               policy="flaky" if i < 3 else "default") for i in range(8)]
    for s in quiet[:6]:
        assert v.call("POST", f"/v1/sessions/{s['id']}/check-ins", {}, token=TOKENS["ana"])[0] == 200
    end = time.time() + 30
    while time.time() < end:
        states = [v.call("GET", f"/v1/sessions/{s['id']}")[1]["state"] for s in lapsing]
        if all(st == "dispatched" for st in states):
            break
        time.sleep(0.3)
    assert all(st == "dispatched" for st in states), states
    outcomes = ["safe", "false_alarm", "caller_left", "other"]
    for i, s in enumerate(quiet):
        who = TOKENS["ana"] if i % 2 else TOKENS["bo"]
        assert v.call("POST", f"/v1/sessions/{s['id']}/end", {"outcome": outcomes[i % 4]}, token=who)[0] == 200
    for s in lapsing:
        # The operator reached the person after the dispatch: the check-in sends the cancel to the centre.
        assert v.call("POST", f"/v1/sessions/{s['id']}/check-ins", {}, token=TOKENS["ana"])[0] == 200
        assert v.call("POST", f"/v1/sessions/{s['id']}/end", {"outcome": "ems_attended"}, token=TOKENS["bo"])[0] == 200
    ems = receiver.wait_for("/ems", count=16, timeout=20)  # eight dispatches and eight cancels
    kinds = sorted(json.loads(r["body"])["type"] for r in ems)
    assert kinds.count("dispatch.requested") == 8 and kinds.count("dispatch.cancelled") == 8, kinds
    return quiet, lapsing


def test_a_scripted_shift_of_20_sessions_in_the_dashboard_history_and_export(browser, shot):
    receiver = fh.Receiver()
    receiver.set("/broken", 404)
    targets = (f'  sup: {{url: "{receiver.url("/sup")}", format: json, secret_env: FAULT_SECRET}}\n'
               f'  broken: {{url: "{receiver.url("/broken")}", format: json, secret_env: FAULT_SECRET}}\n'
               f'  ems: {{url: "{receiver.url("/ems")}", format: json, secret_env: FAULT_SECRET}}')
    policy = ("default: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [sup]}, {after_s: 1, dispatch: [ems]}]}\n"
              "  flaky: {ack_timeout_s: 30, steps: [{after_s: 0, notify: [broken]}, {after_s: 1, dispatch: [ems]}]}")
    v = shift_server(targets, policy).start()
    downloads = tempfile.mkdtemp(prefix="vigil-downloads-")
    try:
        quiet, lapsing = scripted_shift(v, receiver)
        d = browser
        sign_in(d, v.base, "bo")
        d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})

        d.find_element(By.ID, "view-dashboard").click()
        summary = wait(d, lambda d: d.find_element(By.ID, "dashboard-summary").text)
        assert summary.startswith("20 sessions started, 8 lapses, 8 dispatches delivered after a missed deadline"), summary
        assert "3 notifications that no target accepted" in summary, summary
        hours = d.find_elements(By.CSS_SELECTOR, "#chart-hours rect.bar-sessions")
        assert len(hours) == 24
        assert float(hours[-1].get_attribute("height")) > 0, "this hour's bar is drawn"
        assert d.find_element(By.CSS_SELECTOR, "#chart-hours title").get_attribute("textContent") == \
            "Sessions started and lapses per hour"
        first_bucket = d.find_elements(By.CSS_SELECTOR, "#chart-dispatch rect.bar-dispatch")[0]
        assert "≤ 30 s: 8" in first_bucket.find_element(By.TAG_NAME, "title").get_attribute("textContent")
        deliveries = d.find_element(By.ID, "chart-deliveries").text
        for line in ["broken", "✔ 0 delivered · ✖ 3 failed", "ems", "sup", "✔ 5 delivered · ✖ 0 failed"]:
            assert line in deliveries, deliveries
        assert not d.execute_script(
            "return [...document.querySelectorAll('script[src],link[href],img[src]')]"
            ".map(e => e.src || e.href).filter(u => !u.startsWith(location.origin))"), "nothing from elsewhere"
        shot(d, "23-dashboard-20-sessions")
        a11y(d, "dashboard")

        d.find_element(By.ID, "view-history").click()
        wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history-body tr")) == 20)
        rows = d.find_elements(By.CSS_SELECTOR, "#history-body tr")
        texts = {r.get_attribute("data-session-id"): r.text for r in rows}
        dispatched = texts[lapsing[5]["id"]]
        assert "EMS attended" in dispatched and "ana, bo" in dispatched and "1" in dispatched, dispatched
        assert "Safe" in texts[quiet[0]["id"]] and "bo" in texts[quiet[0]["id"]]
        assert "no dispatch" in texts[quiet[0]["id"]]
        shot(d, "24-history")
        a11y(d, "history")

        d.find_element(By.CSS_SELECTOR, f'#history-body tr[data-session-id="{lapsing[5]["id"]}"] button').click()
        wait(d, EC.visibility_of_element_located((By.ID, "timeline-dialog")))
        types = [r.get_attribute("data-type") for r in d.find_elements(By.CSS_SELECTOR, "#timeline tr")]
        for t in ["session.started", "check_in.overdue", "escalation.started", "escalation.step",
                  "dispatch.requested", "dispatch.accepted", "check_in.received", "dispatch.cancelled", "session.ended"]:
            assert t in types, (t, types)
        shot(d, "25-session-detail-timeline")
        a11y(d, "detail")

        d.find_element(By.ID, "export-csv").click()
        d.find_element(By.ID, "export-json").click()
        base = os.path.join(downloads, lapsing[5]["id"] + "-timeline")
        end = time.time() + 10
        while time.time() < end and not (os.path.exists(base + ".csv") and os.path.exists(base + ".json")):
            time.sleep(0.1)
        rows = list(csv.reader(io.StringIO(open(base + ".csv", encoding="utf-8").read())))
        assert rows[0] == ["seq", "at", "type", "by", "role", "source", "details"]
        assert [r[2] for r in rows[1:]] == types
        ended = [r for r in rows if r[2] == "session.ended"][0]
        assert ended[3] == "bo" and ended[4] == "supervisor"
        exported = json.load(open(base + ".json"))
        assert [e["type"] for e in exported["events"]] == types
        for personal in ["123 Main St", "+15551234567", "side door", "naloxone"]:
            assert personal not in open(base + ".csv").read() + open(base + ".json").read(), personal
    finally:
        v.stop()
        receiver.close()


def test_nobody_watching_raises_system_unattended_and_the_console_warns_when_its_stream_is_down(browser, shot):
    receiver = fh.Receiver()
    targets = f'  sup: {{url: "{receiver.url("/sup")}", format: json, secret_env: FAULT_SECRET}}'
    v = shift_server(targets, extra="alarm_targets: [sup]\nunattended_after_s: 3").start()
    try:
        d = browser
        sign_in(d, v.base, "ana")  # before any session opens, so that the clock starts with a console watching
        v.start_session(interval=600)
        on_shift = wait(d, lambda d: "ana" in d.find_element(By.ID, "on-shift-list").text and
                        d.find_element(By.ID, "on-shift-list").text)
        assert "● ana (operator) — you" in on_shift, on_shift
        connected = v.call("GET", "/v1/operators/connected", token=TOKENS["vera"])[1]
        assert [(o["name"], o["staff"]) for o in connected["operators"]] == [("ana", True)]
        shot(d, "26-on-shift")
        time.sleep(4)
        assert not receiver.got("/sup"), "a connected console is watching: no alarm"

        # The laptop sleeps: the console's stream closes. Within unattended_after_s (+ 1 s of checking) the
        # supervisors hear of it, once.
        console_tab = d.current_window_handle
        d.switch_to.new_window("tab")
        blank_tab = d.current_window_handle
        d.switch_to.window(console_tab)
        closed = time.time()
        d.close()
        d.switch_to.window(blank_tab)
        got = receiver.wait_for("/sup", 1, timeout=15)
        assert got, "system.unattended reached the alarm target"
        waited = got[0]["at"] - closed
        assert 2.5 <= waited <= 8, waited
        body = json.loads(got[0]["body"])
        assert fh.verify(got[0]["headers"], got[0]["body"])
        assert body["type"] == "system.alarm" and body["data"]["alarm"] == "system.unattended", body
        assert body["data"]["raised"] is True and body["data"]["open_sessions"] == 1
        time.sleep(3)
        assert len(receiver.got("/sup")) == 1, "once per episode"
        metrics = v.call("GET", "/metrics", token=TOKENS["bo"])[1].decode()
        assert "vigil_unattended_alarms_total 1" in metrics, metrics
        assert "vigil_console_connected 0" in metrics

        # The operator is back: the board is live again and the episode ends.
        sign_in(d, v.base, "ana")
        end = time.time() + 10
        while time.time() < end and "vigil_console_connected 1" not in v.call("GET", "/metrics", token=TOKENS["bo"])[1].decode():
            time.sleep(0.2)
        assert "vigil_console_connected 1" in v.call("GET", "/metrics", token=TOKENS["bo"])[1].decode()

        # The server goes away: after a few seconds the console says so, in words, on a bar of its own.
        v.kill9()
        warning = wait(d, EC.visibility_of_element_located((By.ID, "stream-warning")), 15)
        assert "Not receiving live updates" in warning.text and "out of date" in warning.text, warning.text
        shot(d, "27-stream-down-warning")
        v.start()
        wait(d, lambda d: "live" in d.find_element(By.ID, "conn").text, 20)
        wait(d, lambda d: not d.find_element(By.ID, "stream-warning").is_displayed(), 5)
    finally:
        v.stop()
        receiver.close()


def test_keyboard_focus_and_scroll_are_kept_across_live_updates(browser, shot):
    v = shift_server(policy="default: {ack_timeout_s: 30, steps: []}").start()
    try:
        sessions = [v.start_session(interval=600 + i, caller={"alias": f"S{i}"}) for i in range(8)]
        d = browser
        d.set_window_size(900, 600)
        sign_in(d, v.base)
        wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#board-body tr")) == 8)
        target = sessions[5]["id"]
        # The keyboard user is on that row's Acknowledge button (reached with Tab, so the focus ring shows).
        d.execute_script(f'const b = document.querySelector(\'tr[data-session-id="{target}"] [data-action="check-in"]\');'
                         'b.focus(); b.scrollIntoView({block: "center"}); b.closest("tr").dataset.before = "1";')
        ActionChains(d).send_keys(Keys.TAB).perform()
        assert d.execute_script("return document.activeElement.dataset.action") == "acknowledge"
        scroll_before = d.execute_script("return window.scrollY")
        assert scroll_before > 100, "the board is long enough to scroll"
        # Live updates: other sessions check in and a new one starts; the board re-renders each time.
        for s in sessions[:3]:
            v.call("POST", f"/v1/sessions/{s['id']}/check-ins", {}, token=TOKENS["bo"])
        v.start_session(interval=900, caller={"alias": "New"})
        wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#board-body tr")) == 9)
        time.sleep(1)
        focused = d.execute_script(
            "const a = document.activeElement; const tr = a.closest('tr');"
            "return [tr && tr.dataset.sessionId, a.dataset.action]")
        assert focused == [target, "acknowledge"], focused
        assert d.execute_script(f'return document.querySelector(\'tr[data-session-id="{target}"]\').dataset.before') is None, \
            "the row was rebuilt by the live updates"
        assert abs(d.execute_script("return window.scrollY") - scroll_before) <= 2
        shot(d, "28-focus-kept-across-updates")
    finally:
        v.stop()


def test_the_console_at_360px_passes_the_accessibility_check(browser, shot):
    v = shift_server(policy="default: {ack_timeout_s: 30, steps: []}").start()
    try:
        v.start_session(interval=600, caller={"alias": "Calm"})
        late = v.start_session(interval=1, grace=30, caller={"alias": "Robin"})
        d = browser
        d.set_window_size(360, 800)
        d.get(v.base + "/")
        a11y(d, "sign-in")
        sign_in(d, v.base)
        wait(d, lambda d: row(d, late["id"]).get_attribute("data-state") == "overdue", 15)
        width = d.execute_script("return document.documentElement.scrollWidth")
        inner = d.execute_script("return window.innerWidth")
        assert width <= inner, (width, inner)
        found = a11y(d, "board at 360 px")
        shot(d, "29-board-360px")
        d.find_element(By.ID, "view-dashboard").click()
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-hours svg"))
        assert d.execute_script("return document.documentElement.scrollWidth") <= inner
        a11y(d, "dashboard at 360 px")
        shot(d, "30-dashboard-360px")
        print("accessibility findings (not serious):", found)
    finally:
        v.stop()


def test_the_accessibility_checker_finds_what_it_checks(browser):
    """The checker itself can fail: a page with each kind of violation is caught, a clean page is not."""
    bad = ("<html><head><title></title></head><body><div>"
           "<input id='x'><button></button><a href='/'></a><svg role='img' width='10' height='10'></svg>"
           "<p style='color:#aaa;background:#fff'>pale text</p><span id='d'>1</span><span id='d'>2</span>"
           "</div></body></html>")
    browser.get("data:text/html;charset=utf-8," + urllib.parse.quote(bad))
    found = browser.execute_script(A11Y)
    rules = sorted({f["rule"] for f in found})
    assert rules == ["button-name", "color-contrast", "document-title", "duplicate-id", "html-has-lang",
                     "image-alt", "label", "landmark-one-main", "page-has-heading-one", "region"], found
    good = ("<html lang='en'><head><title>ok</title></head><body><main><h1>Hi</h1><label>Name <input></label>"
            "<button>Go</button><p style='color:#555'>readable</p></main></body></html>")
    browser.get("data:text/html;charset=utf-8," + urllib.parse.quote(good))
    assert browser.execute_script(A11Y) == []
