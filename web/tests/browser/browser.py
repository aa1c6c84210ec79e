"""Headless Chromium for the browser tests: Debian's chromium and chromium-driver, driven by selenium.

No browser is downloaded at run time: the binaries are the system's
(scripts/ensure_browser.sh installs them; CHROMIUM_BINARY / CHROMEDRIVER_BINARY
point elsewhere). A missing browser fails the tests with what to install; it
never skips them. axe-core (vendored from npm, vendor/) checks each page.
"""

import os
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver")
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
# `make screenshots` sets this: every page the story visits is saved there as PNG.
SCREENSHOTS = os.environ.get("WEB_SCREENSHOTS_DIR", "")
DESKTOP = (1280, 900)
PHONE = (390, 844)


def start_chromium() -> webdriver.Chrome:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"The browser tests need Chromium and its driver; missing: {', '.join(missing)}. "
            "Install them with `sudo apt-get install chromium chromium-driver` "
            "(make test and .ci/run do it as root: scripts/ensure_browser.sh).",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.add_argument("--lang=en-US")
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium's manager must not look for downloads
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    # A click that submits a form returns before the next page has loaded: finds wait for it.
    driver.implicitly_wait(5)
    return driver


def wait_for(predicate, timeout: float = 15.0, what: str = "the page", driver=None):
    """Poll until predicate() is truthy; its value. Fails with what was awaited and the page's text."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        time.sleep(0.1)
    text = driver.find_element(By.TAG_NAME, "body").text[:2000] if driver is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what} ({last_error!r})\n{text}")


def axe_violations(driver, minimum: str = "serious") -> list[dict]:
    """axe-core's violations on the current page at or above ``minimum`` impact."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text())
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations), e => done(String(e)));"
    )
    assert isinstance(violations, list), violations
    levels = ["minor", "moderate", "serious", "critical"]
    floor = levels.index(minimum)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if levels.index(v["impact"] or "minor") >= floor
    ]


def fits_the_width(driver) -> bool:
    """No horizontal scrolling: the page is as wide as the window, or narrower."""
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def save_screenshot(driver, name: str) -> None:
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(height + 100, 600), 4000))
    driver.save_screenshot(str(folder / f"{name}.png"))
    driver.set_window_size(width, DESKTOP[1] if width == DESKTOP[0] else PHONE[1])
