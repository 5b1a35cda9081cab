"""The console's routing warnings, closed-loop reports and follow-ups, in a real headless Chromium
against a real `vigil serve` and real receivers."""
import tempfile
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support import expected_conditions as EC
import fault_harness as fh
from test_console import row, wait, click, row_text

DISPATCH_TOKEN = "browser-dispatch-token-ems-0123456789"


@pytest.fixture
def receiver():
    r = fh.Receiver()
    yield r
    r.close()


def config(receiver):
    targets = "\n".join(
        f'  {name}: {{url: "{receiver.url("/" + name)}", format: json, secret_env: FAULT_SECRET, accept_timeout_s: 2}}'
        for name in ["ems-il", "ems-national", "ems-backup"])
    return fh.yaml_config(
        fh.free_port(), "data", targets=targets,
        policy="default: {ack_timeout_s: 60, steps: [{after_s: 0, dispatch: [route, ems-backup]}]}",
        tokens=["{name: backup-cad, role: dispatch, target: ems-backup, token_env: DISPATCH_TOKEN}"],
        extra="routes:\n  - {country: US, region: IL, target: ems-il}\n  - {default: ems-national}")


def test_route_warning_confirm_failover_alarm_reports_and_follow_up_close(browser, shot, receiver):
    v = fh.Vigil(config(receiver), name="console-routing", workdir=tempfile.mkdtemp(),
                 env={"DISPATCH_TOKEN": DISPATCH_TOKEN}).start()
    try:
        d = browser
        d.get(v.base + "/")
        d.find_element(By.ID, "signin-token").send_keys(fh.TOKEN)
        d.find_element(By.ID, "signin-submit").click()
        wait(d, lambda d: "live" in d.find_element(By.ID, "conn").text)

        # A location only the default covers: the row says so, and the operator confirms it.
        s = v.start_session(interval=3600, address="1 Test Rd", location={"address": "1 Test Rd", "country": "CA"})
        assert s["warnings"] == ["routing.default"]
        wait(d, lambda d: "routing.default" in row_text(d, s["id"]))
        assert "route: ems-national (default)" in row_text(d, s["id"])
        shot(d, "20-route-default-warning")
        click(d, s["id"], "route")
        wait(d, lambda d: "(pinned)" in row_text(d, s["id"]) and "routing.default" not in row_text(d, s["id"]))
        shot(d, "21-route-confirmed")

        # A routed session lapses, the first centre never accepts: the console alarms and shows the backup.
        r = v.start_session(interval=1, grace=1, address="2 Test Rd",
                            location={"address": "2 Test Rd", "country": "US", "region": "IL"})
        assert r["route"] == {"target": "ems-il", "matched": "region IL"}
        wait(d, lambda d: "did not accept" in d.find_element(By.ID, "alarm-text").text, 15)
        wait(d, lambda d: "delivered to ems-backup" in row_text(d, r["id"]), 10)
        shot(d, "22-unaccepted-alarm-and-failover")
        assert v.call("POST", f"/v1/sessions/{r['id']}/dispatch-status", {"status": "accepted", "reference": "B-1"},
                      token=DISPATCH_TOKEN)[0] == 204
        wait(d, lambda d: "accepted" in row_text(d, r["id"]).split("delivered to ems-backup", 1)[1])
        shot(d, "23-accepted-with-time")

        # The follow-up appears in the list, and the operator closes it with the form.
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, '#follow-up-body tr[data-state="open"]'), 10)
        shot(d, "24-follow-up-open")
        # The call back needs the number: an open follow-up's row offers it to staff.
        tel = d.find_element(By.CSS_SELECTOR, '#follow-up-body tr[data-state="open"] a.tel')
        assert tel.get_attribute("href") == "tel:+15551234567", tel.get_attribute("href")
        d.find_element(By.CSS_SELECTOR, '#follow-up-body [data-action="close-follow-up"]').click()
        wait(d, EC.visibility_of_element_located((By.ID, "follow-up-dialog")))
        Select(d.find_element(By.ID, "follow-up-outcome")).select_by_value("transported")
        Select(d.find_element(By.ID, "follow-up-naloxone")).select_by_value("true")
        d.find_element(By.ID, "follow-up-submit").click()
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, '#follow-up-body tr[data-state="closed"]'), 10)
        closed = d.find_element(By.CSS_SELECTOR, '#follow-up-body tr[data-state="closed"]').text
        assert "transported" in closed and "naloxone" in closed and "console" in closed
        shot(d, "25-follow-up-closed")
        listing = v.call("GET", "/v1/follow-ups?state=closed")[1]["follow_ups"]
        assert [(f["session_id"], f["outcome"], f["naloxone_used"]) for f in listing] == [
            (r["id"], "transported", True)]
    finally:
        v.stop()
