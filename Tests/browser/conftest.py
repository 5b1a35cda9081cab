import os, shutil, sys
import pytest

import fault_harness as fh  # noqa: E402  (on the path through Tests/conftest.py)

ARTIFACTS = os.path.join(fh.ROOT, "artifacts", "screenshots")


def chrome(javascript=True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail("Chromium or chromedriver is missing: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
              "--autoplay-policy=no-user-gesture-required"]:
        opts.add_argument(a)
    if not javascript:
        opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    try:
        return webdriver.Chrome(service=Service(driver_path), options=opts)
    except Exception as e:  # a browser that cannot start is a failure, never a skip
        pytest.fail(f"Chromium could not be started: {e}")


@pytest.fixture
def browser():
    d = chrome()
    yield d
    d.quit()


@pytest.fixture
def nojs_browser():
    d = chrome(javascript=False)
    yield d
    d.quit()


@pytest.fixture
def shot():
    os.makedirs(ARTIFACTS, exist_ok=True)

    def take(driver, name):
        driver.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))

    return take
