"""Real headless Chromium for page tests (selenium + chromedriver), logged in as a Django user.

Missing Chromium, chromedriver or selenium is a test failure that says what to install,
never a skip: a page test that silently does not run proves nothing.
"""

import shutil

import pytest
from django.conf import settings
from django.test import Client

INSTALL_HINT = (
    "the admin page tests need real headless Chromium: apt-get install -y chromium chromium-driver "
    "(chromium and chromedriver on PATH) and `make install` (selenium, requirements-dev.txt)"
)


def start_chromium(width: int, height: int):
    """A headless Chromium whose page viewport is ``width`` x ``height`` CSS pixels."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail(f"Chromium or chromedriver not found: {INSTALL_HINT}", pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed: {INSTALL_HINT}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    # --window-size sizes the window; make the viewport itself exactly this size.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


def log_in(driver, base_url: str, user) -> None:
    """The browser carries ``user``'s session (made by Django's test client, no login form)."""
    client = Client()
    client.force_login(user)
    driver.get(f"{base_url}/admin/login/")
    driver.add_cookie(
        {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}
    )
