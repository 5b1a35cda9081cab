"""The person's page in Spanish and French in a real Chromium at 360 px, JavaScript off as on a cheap phone: the
language on `<html>`, every visible word from that language's catalog, a heading and landmarks, and the help near
them (docs/contract.md, "Language" and "Resources and referrals")."""
import json, os, re, tempfile, time
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
import fault_harness as fh

A11Y = open(os.path.join(os.path.dirname(__file__), "a11y_check.js")).read()

RESOURCES = """
resources:
  - {id: near, name: "Clinica Cercana", kind: treatment, phone: "555-0101", latitude: 39.79, longitude: -89.65,
     region: IL, country: US, languages: [en, es, fr], hours: "9-17"}
  - {id: mid, name: "Centre Moyen", kind: harm_reduction, phone: "555-0102", latitude: 39.84, longitude: -88.95,
     region: IL, country: US}
  - {id: line, name: "Region Line", kind: crisis_line, phone: "555-0104", region: IL, country: US}
  - {id: mail, name: "Naloxone Mail", kind: naloxone, url: "https://mail.example", country: US, by_mail: true}
"""
# What the resources file says (names, numbers, hours, addresses): data, not words of the catalog.
DATA = ["Clinica Cercana", "Centre Moyen", "Region Line", "Naloxone Mail", "555-0101", "555-0102", "555-0104",
        "mail.example", "9-17"]


def catalog(lang):
    path = os.path.join(fh.ROOT, "Sources", "VigilCore", f"TextCatalog+{lang}.swift")
    return {k: v.replace('\\"', '"') for k, v in
            re.findall(r'^\s*"([a-z_.]+)":\s*"((?:[^"\\]|\\.)*)",$', open(path).read(), re.M)}


def words(text):
    return set(re.findall(r"[^\W\d_]+", text.lower()))


def server():
    port = fh.free_port()
    work = tempfile.mkdtemp(prefix="vigil-person-page-")
    with open(os.path.join(work, "resources.yaml"), "w") as f:
        f.write(RESOURCES)
    cfg = fh.yaml_config(port, "data", extra=f'public_url: "http://127.0.0.1:{port}"\n'
                         'hotline: {callback_number: "+18005550100"}\nresources: {file: resources.yaml}')
    return fh.Vigil(cfg, name="person-page", workdir=work)


def check_page(d, lang, shot, name):
    texts = catalog(lang)
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    visible = d.find_element(By.TAG_NAME, "body").text
    for item in DATA:
        visible = visible.replace(item, " ")
    allowed = set().union(*(words(re.sub(r"\{[a-z_]+\}", " ", t)) for t in texts.values()))
    stray = sorted(words(visible) - allowed)
    assert not stray, f"{lang}: words not in its catalog: {stray}\n{visible}"
    english = set().union(*(words(t) for t in catalog("en").values())) - allowed
    assert not (words(visible) & english), f"{lang}: English words on the page"
    found = d.execute_script(A11Y)
    assert not found, f"{lang} {name}: {json.dumps(found, indent=1)}"
    assert d.title == texts["page.title"] or d.title == texts["page.not_active_title"]
    shot(d, name)


def test_the_persons_page_in_spanish_and_french_speaks_only_that_language_at_360px(nojs_browser, shot):
    v = server().start()
    try:
        d = nojs_browser
        d.set_window_size(360, 800)
        where = {"address": "123 Main St", "latitude": 39.7817, "longitude": -89.6501, "region": "IL",
                 "country": "US"}
        for lang in ["es", "fr"]:
            texts = catalog(lang)
            s = v.start_session(interval=600, grace=60, language=lang, location=where)
            d.get(s["check_in_url"])
            # One big button first: the heading names it, nothing else comes before it.
            first = d.find_element(By.CSS_SELECTOR, "main > :not(h1)")
            assert first.tag_name == "form" and first.text == texts["page.button"]
            assert d.find_element(By.TAG_NAME, "h1").text == texts["page.heading"]
            assert d.find_element(By.ID, "help").text == texts["resources.heading"]
            check_page(d, lang, shot, f"40-person-page-{lang}-360px")
            d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            # The answer is a new page: wait for it (the old page's body goes stale while it loads).
            WebDriverWait(d, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: texts["page.received"] in d.find_element(By.TAG_NAME, "body").text)
            check_page(d, lang, shot, f"41-person-page-{lang}-checked-in-360px")

            assert v.call("POST", f"/v1/sessions/{s['id']}/end", {"outcome": "safe"})[0] == 200
            time.sleep(1.1)  # the ended-session lookup runs at most once a second
            d.get(s["check_in_url"])
            body = d.find_element(By.TAG_NAME, "body").text
            assert texts["page.ended"] in body and "Clinica Cercana" in body and "Naloxone Mail" in body
            check_page(d, lang, shot, f"42-person-page-{lang}-after-the-end-360px")
    finally:
        v.stop()


def test_the_console_chooses_the_language_shows_it_and_offers_resources_at_follow_up(browser, shot):
    from selenium.webdriver.support.ui import WebDriverWait, Select
    from selenium.webdriver.support import expected_conditions as EC
    receiver = fh.Receiver()
    port = fh.free_port()
    work = tempfile.mkdtemp(prefix="vigil-console-lang-")
    with open(os.path.join(work, "resources.yaml"), "w") as f:
        f.write(RESOURCES)
    cfg = fh.yaml_config(
        port, "data", targets=f'  ems: {{url: "{receiver.url("/ems")}", format: json, secret_env: FAULT_SECRET}}',
        policy="default: {ack_timeout_s: 60, steps: [{after_s: 0, dispatch: [ems]}]}",
        extra="resources: {file: resources.yaml}")
    v = fh.Vigil(cfg, name="console-language", workdir=work).start()
    from selenium.common.exceptions import StaleElementReferenceException
    # The board is drawn again on every event: a row found a moment ago may be gone, so every step retries.
    wait = lambda cond, t=20: WebDriverWait(  # noqa: E731
        browser, t, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]).until(cond)

    def click(selector):
        def attempt(d):
            d.find_element(By.CSS_SELECTOR, selector).click()
            return True
        wait(attempt, 10)
    try:
        d = browser
        d.get(v.base + "/")
        d.find_element(By.ID, "signin-token").send_keys(fh.TOKEN)
        d.find_element(By.ID, "signin-submit").click()
        wait(EC.visibility_of_element_located((By.ID, "board")))
        d.find_element(By.ID, "new-session-button").click()
        form = d.find_element(By.ID, "new-session")
        form.find_element(By.NAME, "alias").send_keys("Luz")
        form.find_element(By.NAME, "address").send_keys("123 Main St")
        form.find_element(By.NAME, "region").send_keys("IL")
        form.find_element(By.NAME, "country").send_keys("US")
        form.find_element(By.NAME, "latitude").send_keys("39.7817")
        form.find_element(By.NAME, "longitude").send_keys("-89.6501")
        for name, value in [("check_in_interval_s", "3"), ("grace_s", "0")]:
            form.find_element(By.NAME, name).clear()
            form.find_element(By.NAME, name).send_keys(value)
        Select(form.find_element(By.NAME, "language")).select_by_value("es")
        reminders = form.find_element(By.NAME, "reminders")
        assert reminders.is_selected(), "reminders are on unless the operator turns them off"
        reminders.click()
        shot(d, "43-console-start-form-language")
        d.find_element(By.ID, "new-session-submit").click()
        row = 'tr[data-session-id]'
        wait(lambda d: d.find_elements(By.CSS_SELECTOR, row))
        sid = d.find_element(By.CSS_SELECTOR, row).get_attribute("data-session-id")
        started = v.call("GET", f"/v1/sessions/{sid}")[1]
        assert started["language"] == "es" and started["reminders"] is False
        wait(lambda d: "speaks Spanish" in d.find_element(By.CSS_SELECTOR, row).text)

        # Dispatched: the row offers to dispatch again, saying what already went out.
        wait(lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-state") == "dispatched", 20)
        wait(lambda d: d.find_element(By.CSS_SELECTOR, row + ' [data-action="dispatch"]').text == "Dispatch again")
        click(row + ' [data-action="dispatch"]')
        wait(EC.visibility_of_element_located((By.ID, "dispatch-already")))
        assert d.find_element(By.ID, "dispatch-title").text == "Dispatch again?"
        assert "already went out to ems" in d.find_element(By.ID, "dispatch-already").text
        shot(d, "44-console-dispatch-again")
        d.find_element(By.CSS_SELECTOR, "#dispatch-dialog [data-close]").click()

        # The edit form changes the language.
        click(row + ' [data-action="edit"]')
        edit = d.find_element(By.ID, "edit-form")
        wait(lambda d: Select(edit.find_element(By.NAME, "language")).first_selected_option.get_attribute("value")
             == "es")
        Select(edit.find_element(By.NAME, "language")).select_by_value("fr")
        # The edit form shows the reminders off, as started, and turns them back on.
        assert not edit.find_element(By.NAME, "reminders").is_selected()
        edit.find_element(By.NAME, "reminders").click()
        edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(lambda d: "speaks French" in d.find_element(By.CSS_SELECTOR, row).text)
        edited = v.call("GET", f"/v1/sessions/{sid}")[1]
        assert edited["language"] == "fr" and edited["reminders"] is True

        # The follow-up offers the nearest resources; those ticked are recorded as referrals.
        assert v.call("POST", f"/v1/sessions/{sid}/end", {"outcome": "ems_attended"})[0] == 200
        close = '#follow-up-body [data-action="close-follow-up"]'
        wait(lambda d: d.find_elements(By.CSS_SELECTOR, close))
        click(close)
        boxes = wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#follow-up-resource-list input"))
        assert [b.get_attribute("value") for b in boxes] == ["near", "mid", "line", "mail"]
        boxes[0].click()
        boxes[3].click()
        shot(d, "45-console-follow-up-resources")
        d.find_element(By.ID, "follow-up-submit").click()
        wait(lambda d: not d.find_element(By.ID, "follow-up-dialog").is_displayed())
        assert v.call("GET", "/v1/reports/summary")[1]["referrals"] == {"treatment": 1, "naloxone": 1}
    finally:
        v.stop()
        receiver.close()
