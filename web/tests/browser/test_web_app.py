"""The web app in real headless Chromium, on the real stack: gunicorn, feeder, engine, worker and beat,
fed by the fake Binance over real sockets, emailing a real SMTP server.

One stack and one browser for the whole story (starting them is the slow part), told in order:
sign up, log in with the keyboard, confirm the address with the link the worker mailed (read off
the SMTP server and opened in the browser), create each kind of alert through the form (a bad target
refused in words; a move within a window and a watchlist of volume spikes), watch a price arrive
and an alert turn triggered without a reload, open its page and see the firing and its delivery,
add and test a webhook channel (its template's preview shown), log out, then reset the forgotten
password with the mailed link and log in with the new one. Every page visited is checked by
axe-core (no serious or critical violation) and at phone width.
"""

import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.conf import settings
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.e2e.harness import Stack
from tests.support.http import HookServer
from web.tests.browser.browser import (
    DESKTOP,
    PHONE,
    axe_violations,
    fits_the_width,
    save_screenshot,
    start_chromium,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

EMAIL, PASSWORD = "carol@example.com", "a long and unusual passphrase"
NEW_PASSWORD = "another long and unusual passphrase"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_name() -> str:
    return f"{settings.DATABASES['default'].get('TEST', {}).get('NAME') or 'test_pricealert'}_browser"


@pytest.fixture(scope="module")
def stack():
    port = free_port()
    # The webhook under test listens on this machine: the operator's allow-list lets it through.
    extra = {"OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    # The account emails' links open this server's pages.
    extra["SITE_URL"] = f"http://127.0.0.1:{port}"
    with Stack(settings.REDIS_URL, [], db_name=database_name(), extra_env=extra) as stack:
        stack.spawn_web(port)
        stack.base = f"http://127.0.0.1:{port}"
        stack.wait_until(lambda: _answers(stack.base + "/app/login"), 60, "gunicorn to answer")
        # Prices the REST ticker knows before anyone follows the symbols (percent and cross alerts).
        for symbol, price in (("BTCUSDT", "65000"), ("ETHUSDT", "3000"), ("SOLUSDT", "150")):
            stack.binance.publish_trade(symbol, price)
        yield stack


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


class Pages:
    """The story's steps, in the browser."""

    def __init__(self, driver, stack):
        self.driver, self.stack = driver, stack

    def open(self, path: str) -> None:
        self.driver.get(self.stack.base + path)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def fill(self, values: dict) -> None:
        for name, value in values.items():
            field = self.find(f'[name="{name}"]')
            if field.tag_name == "select":
                Select(field).select_by_value(value)
            else:
                field.clear()
                field.send_keys(value)

    def check_page(self, name: str) -> None:
        """axe finds no serious violation; the page fits a phone's width; a screenshot if asked for."""
        violations = axe_violations(self.driver)
        assert violations == [], f"{name}: {violations}"
        save_screenshot(self.driver, name)
        self.driver.set_window_size(*PHONE)
        try:
            assert wait_for(lambda: fits_the_width(self.driver), 3, f"{name} to fit a phone", self.driver)
            save_screenshot(self.driver, f"{name}-phone")
        finally:
            self.driver.set_window_size(*DESKTOP)

    def wait_text(self, words: str, timeout: float = 15.0) -> None:
        wait_for(lambda: words in self.text(), timeout, repr(words), self.driver)

    def mailed_link(self, path: str, timeout: float = 30.0) -> str:
        """The link to ``path`` in the newest mail to EMAIL that has one (the worker sent it over SMTP)."""
        pattern = re.compile(rf"{re.escape(self.stack.base + path)}\?\S+")

        def newest():
            for received in reversed(self.stack.mail.received):
                if EMAIL in received.rcpt_tos and (match := pattern.search(received.message.get_content())):
                    return match.group(0)
            return None

        return wait_for(newest, timeout, f"a mail with a link to {path}", self.driver)


@pytest.fixture(scope="module")
def pages(browser, stack):
    return Pages(browser, stack)


def test_sign_up_and_log_in_with_the_keyboard(pages):
    pages.open("/")
    assert pages.driver.current_url.endswith("/app/login?next=/app/")
    pages.check_page("login")
    pages.find('a[href="/app/signup"]').click()
    wait_for(lambda: pages.driver.current_url.endswith("/app/signup"), 10, "the signup page", pages.driver)
    pages.check_page("signup")
    pages.fill({"email": EMAIL, "username": "carol", "password": PASSWORD})
    pages.find('form button[type="submit"]').click()
    pages.wait_text("Registration received")
    assert pages.find("#id_email").get_attribute("value") == EMAIL

    # Keyboard only: the email field is pre-filled; tab to the password, type, Enter.
    email = pages.find("#id_email")
    email.click()
    email.send_keys(Keys.TAB)
    active = pages.driver.switch_to.active_element
    assert active.get_attribute("id") == "id_password"
    active.send_keys(PASSWORD, Keys.ENTER)
    pages.wait_text("Your alerts")
    assert pages.driver.current_url == pages.stack.base + "/app/"
    assert "No alerts here yet" in pages.text()
    assert (
        "Nothing is delivered to carol@example.com until you open the"
        in pages.find("#unconfirmed-banner").text
    )
    pages.check_page("dashboard-empty")


def test_confirm_the_address_with_the_mailed_link(pages):
    pages.open(pages.mailed_link("/app/verify").removeprefix(pages.stack.base))
    pages.wait_text("Confirm my address")
    pages.check_page("verify")
    pages.find('main form button[type="submit"]').click()
    pages.wait_text("Address confirmed")
    assert EMAIL in pages.find("main").text
    pages.open("/app/")
    pages.wait_text("Your alerts")
    assert not pages.driver.find_elements(By.ID, "unconfirmed-banner")


def create_alert(pages, values: dict) -> None:
    pages.open("/app/alerts/new")
    pages.fill(values)
    pages.find('form.form button[type="submit"]').click()


def test_create_every_kind_of_alert_through_the_form(pages):
    pages.open("/app/alerts/new")
    # The symbol picker searches the catalogue as one types.
    pages.find("#id_symbol").send_keys("ethu")
    options = wait_for(
        lambda: [
            o.get_attribute("value")
            for o in pages.driver.find_elements(By.CSS_SELECTOR, "#symbol-options option")
        ],
        10,
        "the symbol suggestions",
        pages.driver,
    )
    assert "ETHUSDT" in options
    pages.find("#id_symbol").clear()
    pages.find("#id_symbol").send_keys("ETHUSDT", Keys.TAB)
    # The current price beside the target, and the percent equivalents as one types.
    wait_for(
        lambda: "3,000" in pages.find("#current-price").text, 10, "ETHUSDT's current price", pages.driver
    )
    pages.find("#id_target_price").send_keys("3150")
    assert pages.find("#target-percent").text == "+5.00% from the current price"
    pages.find("#id_target_price").clear()
    pages.find("#id_change_percent").send_keys("-5")
    assert pages.find("#percent-target").text == "a target of about 2,850 at the current price"
    pages.check_page("alert-new")
    pages.find('form.form button[type="submit"]').click()
    pages.wait_text("Alert created: ETHUSDT -5% from 3,000.")

    # A bad target is refused in words, next to the field.
    create_alert(pages, {"symbol": "BTCUSDT", "target_price": "0", "direction": "above"})
    wait_for(
        lambda: pages.find("#target_price-errors").text == "Must be greater than 0.",
        10,
        "the refusal next to the target",
        pages.driver,
    )
    assert pages.find("#id_target_price").get_attribute("aria-invalid") == "true"
    pages.check_page("alert-new-refused")

    create_alert(pages, {"symbol": "BTCUSDT", "target_price": "70000", "direction": "above"})
    pages.wait_text("Alert created: BTCUSDT above 70,000.")
    create_alert(pages, {"symbol": "SOLUSDT", "target_price": "160", "direction": "cross"})
    pages.wait_text("Alert created: SOLUSDT cross 160.")
    expires = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    create_alert(
        pages,
        {
            "symbol": "ETHUSDT",
            "target_price": "2500",
            "direction": "below",
            "repeat": "every",
            "cooldown_seconds": "120",
            "rearm_percent": "0.5",
            "note": "buy the dip",
        },
    )
    pages.wait_text("Alert created: ETHUSDT below 2,500.")
    pages.find('a[href$="/edit"]').click()
    expiry = wait_for(lambda: pages.find("#id_expires_at"), 10, "the edit form", pages.driver)
    pages.driver.execute_script(
        "arguments[0].value = arguments[1]", expiry, expires.strftime("%Y-%m-%dT%H:%M")
    )
    pages.find('form.form button[type="submit"]').click()
    pages.wait_text("Alert saved.")
    assert f"{expires:%Y-%m-%d %H:%M} UTC" in pages.text() and "buy the dip" in pages.text()
    assert "every time, cooldown 120 s, re-arm band 0.5%" in pages.text()


def test_prices_update_and_an_alert_turns_triggered_without_a_reload(pages):
    stack = pages.stack
    pages.open("/app/")
    rows = pages.driver.find_elements(By.CSS_SELECTOR, "#alert-rows tr")
    assert len(rows) == 4
    btc = pages.driver.find_element(By.XPATH, "//tr[td//a[text()='BTCUSDT']]").get_attribute("id")
    stack.binance.publish_trade("BTCUSDT", "69000")
    pages.driver.execute_script("window.stillTheSamePage = true")
    wait_for(
        lambda: "69,000" in pages.find(f"#{btc}").text, 15, "the BTCUSDT price on the dashboard", pages.driver
    )
    assert "+1.45%" in pages.find(f"#{btc}").text  # 70,000 is 1.45 % above 69,000
    pages.check_page("dashboard")

    stack.binance.publish_trade("BTCUSDT", "70000.01")
    wait_for(
        lambda: pages.find(f"#{btc}").get_attribute("data-status") == "triggered",
        20,
        "the BTCUSDT alert to turn triggered",
        pages.driver,
    )
    assert "triggered" in pages.find(f"#{btc}").text
    assert pages.driver.execute_script("return window.stillTheSamePage") is True  # no reload

    # Its page: the firing, and its email delivered (the SMTP server got it, after the welcome mail).
    wait_for(
        lambda: any("BTCUSDT" in m.subject for m in stack.mail.received),
        30,
        "the alert's email",
        pages.driver,
    )
    pages.open(pages.find(f"#{btc} a").get_attribute("pathname"))
    wait_for(lambda: pages.driver.refresh() or "sent" in pages.text(), 30, "the delivery", pages.driver)
    text = pages.text()
    assert re.search(r"Firing 1: 70,000\.01", text), text
    assert "email" in text and "sent" in text
    # The chart: the feeder's minute candles of the trades above, the target, the firing marked.
    assert pages.find("svg.chart polyline.chart-close") and pages.find("svg.chart line.chart-target")
    assert len(pages.driver.find_elements(By.CSS_SELECTOR, "svg.chart circle.chart-firing")) == 1
    pages.check_page("alert")


def test_a_move_alert_and_a_watchlist_through_the_form(pages):
    """Issue 18's kinds: the form switches its fields by kind without a reload (keyboard too)."""
    pages.open("/app/alerts/new")
    assert pages.find("#id_target_price").is_displayed() and not pages.find("#id_move_percent").is_displayed()
    pages.find("#kind-price").send_keys(Keys.ARROW_DOWN)  # the radio group, by keyboard: "move"
    wait_for(lambda: pages.find("#id_move_percent").is_displayed(), 5, "the move's fields", pages.driver)
    assert (
        not pages.find("#id_target_price").is_displayed()
        and not pages.find("#id_volume_quote").is_displayed()
    )
    pages.fill({"symbol": "BTCUSDT", "move_percent": "5"})
    Select(pages.find("#id_move_direction")).select_by_value("up")
    Select(pages.find("#id_window")).select_by_value("1h")
    pages.find('form.form button[type="submit"]').click()
    pages.wait_text("Alert created: BTCUSDT up 5% within 1h.")
    assert "move within a window" in pages.text()

    pages.open("/app/alerts/new")
    pages.find("#kind-volume").click()
    wait_for(lambda: pages.find("#id_volume_quote").is_displayed(), 5, "the volume's fields", pages.driver)
    pages.fill({"symbols": "SOLUSDT, ETHUSDT", "volume_quote": "25000000"})
    Select(pages.find("#id_window")).select_by_value("5m")
    pages.find('form.form button[type="submit"]').click()
    pages.wait_text("Watchlist created: 2 alerts, one per symbol.")
    assert pages.text().count("quote volume 25,000,000 within 5m") == 2
    pages.find("form button.secondary").click()  # Pause all
    pages.wait_text("Watchlist paused")
    assert "Resume all" in pages.text() and "paused" in pages.find("#group-alerts").text
    pages.check_page("watchlist")


def test_add_and_test_a_webhook_channel_then_log_out(pages):
    with HookServer() as hook:
        pages.open("/app/channels")
        pages.fill(
            {
                "kind": "webhook",
                "name": "my bot",
                "url": hook.url + "/pricealert",
                "body_template": '{"text": "{{symbol}} at {{price}}"}',
            }
        )
        # Its own quiet hours (hours from now, so nothing here is held): the field shows once chosen.
        assert not pages.find("#id_quiet_hours").is_displayed()
        pages.find("#quiet-own").click()
        later = datetime.now(UTC) + timedelta(hours=3)
        quiet = f"{later:%H}:00-{later + timedelta(hours=1):%H}:00"
        pages.fill({"quiet_hours": quiet})
        pages.find('form.form button[type="submit"]').click()
        pages.wait_text("Channel added: my bot.")
        secret = pages.find("#webhook-secret").text
        assert re.fullmatch(r"[0-9a-f]{64}", secret) or len(secret) >= 32, secret
        pages.check_page("channels")
        row = pages.driver.find_element(By.XPATH, "//tr[td[text()='my bot']]")
        assert quiet in row.text
        row.find_element(By.XPATH, ".//button[starts-with(normalize-space(.), 'Test')]").click()
        pages.wait_text("Test of my bot: delivered.", timeout=20)
        # The test's preview: the channel's template filled with an example firing.
        assert (
            pages.find("#preview-body").text.startswith('{"text": "')
            and "{{" not in pages.find("#preview-body").text
        )
        assert hook.received and hook.received[0].headers.get("X-Pricealert-Signature", "").startswith(
            "sha256="
        )
    assert secret not in pages.text()  # shown once

    pages.open("/app/account")
    assert EMAIL in pages.text() and "carol" in pages.text()
    # An API key for a script: shown once, then listed by its prefix only; it works at once.
    pages.fill({"name": "my script"})
    pages.find('form[action="/app/account/api-keys"] button').click()
    key = wait_for(lambda: pages.find("#api-key-value").text, 10, "the new API key", pages.driver)
    assert key.startswith("pa_") and "Shown only this once" in pages.text()
    answer = requests.get(pages.stack.base + "/user", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.json()["email"] == EMAIL
    pages.check_page("account")
    pages.open("/app/account")
    assert key not in pages.text() and key.split("_")[1] in pages.text()

    pages.find("nav button.link").click()
    pages.wait_text("You are logged out.")
    pages.open("/app/")
    assert "/app/login" in pages.driver.current_url


def test_reset_a_forgotten_password_with_the_mailed_link_then_log_in(pages):
    pages.open("/app/login")
    pages.find('a[href="/app/password/reset"]').click()
    wait_for(
        lambda: pages.driver.current_url.endswith("/app/password/reset"), 10, "the reset page", pages.driver
    )
    pages.check_page("password-reset")
    pages.fill({"email": EMAIL})
    pages.find('main form button[type="submit"]').click()
    pages.wait_text("If an account has this address, a link to reset its password is on its way")

    link = pages.mailed_link("/app/password/reset/confirm")
    pages.open(link.removeprefix(pages.stack.base))
    pages.wait_text("Choose a new password")
    pages.check_page("password-reset-confirm")
    pages.fill({"new_password": "12345678"})
    pages.find('main form button[type="submit"]').click()
    wait_for(
        lambda: "entirely numeric" in pages.find("#new_password-errors").text, 10, "the refusal", pages.driver
    )
    pages.fill({"new_password": NEW_PASSWORD})
    pages.find('main form button[type="submit"]').click()
    pages.wait_text("log in with the new one")

    # The same link a second time is refused.
    pages.open(link.removeprefix(pages.stack.base))
    pages.fill({"new_password": "yet another long passphrase"})
    pages.find('main form button[type="submit"]').click()
    pages.wait_text("This reset link is invalid, expired or already used")

    pages.open("/app/login")
    pages.fill({"email": EMAIL, "password": PASSWORD})
    pages.find('main form button[type="submit"]').click()
    pages.wait_text("No active account found with the given credentials")
    pages.fill({"email": EMAIL, "password": NEW_PASSWORD})
    pages.find('main form button[type="submit"]').click()
    pages.wait_text("Your alerts")
    assert pages.driver.current_url == pages.stack.base + "/app/"


def test_the_accessibility_check_sees_a_violation(browser):
    """The control of check_page: axe does run, and an unlabelled field is a serious violation."""
    browser.get("data:text/html,<!doctype html><html lang=en><title>t</title><main><input type=text></main>")
    assert "label" in {violation["id"] for violation in axe_violations(browser)}
