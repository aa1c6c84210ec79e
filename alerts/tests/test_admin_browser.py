"""The admin in real headless Chromium at 1,280 x 800: on every changelist the status and key
columns are on screen (the whole table fits, no sideways scrolling), and the operations page
fits too, its chart drawn. Rows hold long real-looking values (emails, errors, prices)."""

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert, Channel, Notification
from tests.support.chromium import log_in, start_chromium

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WIDTH, HEIGHT = 1280, 800
# Where screenshots go when PRICEALERT_SCREENSHOTS is set (to look at the layout by eye).
SCREENSHOTS = os.environ.get("PRICEALERT_SCREENSHOTS", "")


@pytest.fixture
def browser():
    driver = start_chromium(WIDTH, HEIGHT)
    yield driver
    driver.quit()


@pytest.fixture
def busy_admin(admin_user, django_user_model):
    """Users with long addresses, alerts in every status, channels of every kind, long errors."""
    now = timezone.now()
    users = [
        django_user_model.objects.create_user(
            email=f"operations.team.member-{n}@subsidiary.example-company.com", password="x" * 12
        )
        for n in range(3)
    ]
    statuses = ["created", "rearming", "triggered", "expired", "deleted"]
    for n in range(25):
        user = users[n % 3]
        extra = {"repeat": "every", "cooldown_seconds": 86400} if n % 2 else {}
        alert = Alert.objects.create(
            user=user,
            symbol=["BTCUSDT", "1000SATSUSDT", "ETHBTC", "SHIBUSDT"][n % 4],
            direction="above" if n % 3 else "below",
            crossing=n % 5 == 0,
            # The longest prices Binance quotes: six whole digits, or eight decimals.
            target_price=Decimal("104250.12345678") if n % 4 == 0 else Decimal("0.00001234"),
            status=statuses[n % 5],
            trigger_count=n * 1000,
            last_triggered_at=now - timedelta(minutes=n),
            triggered_at=now - timedelta(minutes=n),
            expires_at=now + timedelta(days=n),
            note="Sell half of the position and tell the desk. " * 8,
            **extra,
        )
        hook = Channel.objects.create(
            user=user,
            kind="webhook",
            name=f"desk-webhook-with-a-rather-long-name-{n}",
            url="https://hooks.example-company.com/services/T000/B000/XXXXXXXXXXXXXXXX",
            secret="s" * 64,
            enabled=n % 2 == 0,
            disabled_reason="The webhook answered HTTP 410 Gone: the destination was removed."
            if n % 2
            else "",
        )
        Notification.objects.create(
            alert=alert,
            user=user,
            via=hook,
            channel="webhook",
            to=hook.name,
            status=["pending", "sent", "failed", "suppressed"][n % 4],
            attempts=n % 6,
            firing=n,
            triggered_price=Decimal("104250.12345678"),
            triggered_at=now,
            sent_at=now if n % 4 == 1 else None,
            next_attempt_at=now + timedelta(minutes=5),
            failed_at=now if n % 4 == 2 else None,
            last_error="HTTPSConnectionPool(host='hooks.example-company.com', port=443): Read timed out. "
            * 4,
        )
    return admin_user


def fits(driver) -> dict:
    """The page's and the results table's widths against the viewport, and each column's right edge."""
    return driver.execute_script(
        """
        const viewport = document.documentElement.clientWidth;
        const table = document.querySelector('#result_list');
        const columns = table ? [...table.querySelectorAll('thead th')].map(th => ({
            name: th.className.split(' ').find(c => c.startsWith('column-')) || th.className,
            right: Math.round(th.getBoundingClientRect().right),
        })) : [];
        const results = document.querySelector('.results');
        const shownUpTo = results ? Math.round(results.getBoundingClientRect().right) : viewport;
        return {
            shown_up_to: Math.min(viewport, shownUpTo),
            viewport: viewport,
            page: document.documentElement.scrollWidth,
            results: results ? [results.scrollWidth, results.clientWidth] : null,
            columns: columns,
            filter: getComputedStyle(document.querySelector('#changelist-filter') || document.body).flexBasis,
        };
        """
    )


CHANGELISTS = {
    "alert": ["column-status", "column-symbol", "column-user_email", "column-target", "column-fired"],
    "notification": ["column-status", "column-user_email", "column-short_error", "column-tries"],
    "channel": ["column-state", "column-failures", "column-last_failure", "column-last_delivery"],
}


@pytest.mark.parametrize("model", list(CHANGELISTS))
def test_each_changelist_fits_1280_pixels_with_its_status_and_key_columns(
    browser, live_server, busy_admin, model
):
    log_in(browser, live_server.url, busy_admin)
    browser.get(f"{live_server.url}/admin/alerts/{model}/")
    if SCREENSHOTS:
        browser.save_screenshot(os.path.join(SCREENSHOTS, f"{model}-changelist.png"))
    layout = fits(browser)
    assert layout["filter"] == "240px", "the admin's CSS did not load"
    assert layout["viewport"] <= WIDTH
    shown = {column["name"] for column in layout["columns"]}
    for key in CHANGELISTS[model]:
        assert key in shown, (key, shown)
    # Beyond the results box's right edge a column is hidden (behind its scroll bar).
    off_screen = [c for c in layout["columns"] if c["right"] > layout["shown_up_to"]]
    assert off_screen == [], f"off a {layout['viewport']} px screen: {off_screen}"
    scroll_width, client_width = layout["results"]
    assert scroll_width <= client_width, f"the results table scrolls sideways: {layout}"
    assert layout["page"] <= layout["viewport"]


def test_the_operations_page_fits_and_draws_its_chart(browser, live_server, busy_admin):
    log_in(browser, live_server.url, busy_admin)
    browser.get(f"{live_server.url}/admin/operations/")
    if SCREENSHOTS:
        browser.set_window_size(WIDTH, 2400)
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": 2000, "deviceScaleFactor": 1, "mobile": False},
        )
        browser.save_screenshot(os.path.join(SCREENSHOTS, "operations.png"))
    assert browser.title.startswith("Operations")
    chart = browser.execute_script(
        "const svg = document.querySelector('svg.minute-chart'); const r = svg.getBoundingClientRect();"
        "const count = (tag) => svg.querySelectorAll(tag).length;"
        "return [r.width, r.height, count('polyline'), count('circle')]"
    )
    width, height, lines, points = chart
    assert 300 < width <= 720 and abs(height / width - 180 / 720) < 0.01  # scaled to its panel
    assert (lines, points) == (2, 120)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTH
    failing = browser.execute_script("return document.querySelectorAll('tr.failing-channel').length")
    assert failing == 6  # the webhooks with a failure (n % 4 == 2 of 25)


def test_a_missing_browser_fails_the_page_tests_and_says_what_to_install(monkeypatch):
    """Never a silent skip: without Chromium the page tests fail, naming the packages."""
    monkeypatch.setattr("tests.support.chromium.shutil.which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium chromium-driver"):
        start_chromium(WIDTH, HEIGHT)
