"""The admin's operations page: its figures against a known deployment, staff only, no script."""

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert, Channel, EvaluationCheckpoint, Notification
from feeds.models import Symbol
from feeds.store import write_heartbeat, write_price

PAGE = "/admin/operations/"

pytestmark = pytest.mark.django_db


def minute(offset_minutes: int):
    """A moment inside the minute ``offset_minutes`` before the current one (30 s into it)."""
    start = timezone.now().replace(second=0, microsecond=0)
    return start - timedelta(minutes=offset_minutes) + timedelta(seconds=30)


@pytest.fixture
def deployment(alice, bob, clean_redis):
    """A deployment in a known state; what the page must show is in the test below."""
    now = timezone.now()

    def alert(user, symbol, status=Alert.Status.CREATED):
        return Alert.objects.create(
            user=user, symbol=symbol, direction="above", target_price=Decimal("100"), status=status
        )

    # Waiting: BTCUSDT 3 (2 users), ETHUSDT 2 (1 user, one re-arming), DOGEUSDT 1 (halted).
    alert(alice, "BTCUSDT"), alert(alice, "BTCUSDT"), alert(bob, "BTCUSDT")
    alert(bob, "ETHUSDT"), alert(bob, "ETHUSDT", status=Alert.Status.REARMING)
    alert(alice, "DOGEUSDT")
    Symbol.objects.filter(symbol="DOGEUSDT").update(status="HALT")
    fired = [alert(alice, "SOLUSDT", Alert.Status.TRIGGERED), alert(bob, "XRPUSDT", Alert.Status.TRIGGERED)]
    alert(alice, "ADAUSDT", Alert.Status.DELETED)

    hook = Channel.objects.create(
        user=alice, kind="webhook", name="ops-hook", url="https://e.com/h", secret="s"
    )
    tg = Channel.objects.create(
        user=bob, kind="apprise", name="tg", url="tgram://1:AA/2", enabled=False, disabled_reason="HTTP 410"
    )

    def notification(alert, **fields):
        return Notification.objects.create(alert=alert, user=alert.user, to=alert.user.email, **fields)

    # Failed: within the hour 3 on alice's webhook, 1 on bob's apprise; 2 hours ago 1 email of bob
    # (in the day's failing channels, not in the hour's figures); 2 days ago 1 (in neither).
    for minutes, error in ((50, "HTTP 500"), (20, "timed out"), (5, "HTTP 502")):
        notification(
            fired[0],
            via=hook,
            channel="webhook",
            status="failed",
            last_error=error,
            failed_at=now - timedelta(minutes=minutes),
        )
    notification(
        fired[1],
        via=tg,
        channel="apprise",
        status="failed",
        last_error="HTTP 410",
        failed_at=now - timedelta(minutes=10),
    )
    notification(
        fired[1], channel="email", status="failed", last_error="SMTP 550", failed_at=now - timedelta(hours=2)
    )
    notification(
        fired[1], channel="email", status="failed", last_error="old", failed_at=now - timedelta(days=2)
    )

    # Pending: 2, the oldest 10 minutes old.
    for _ in range(2):
        notification(fired[0], channel="email")
    Notification.objects.filter(status="pending").update(created_at=now - timedelta(minutes=10))

    # Activity: alert 0 fired 5 minutes ago (two channels: one firing), alert 1 fired 5 and
    # 30 minutes ago; 3 sends 5 minutes ago, 1 thirty minutes ago, 1 two hours ago (outside).
    five, thirty = minute(5), minute(30)
    notification(fired[0], channel="email", status="sent", triggered_at=five, sent_at=five)
    notification(fired[0], channel="webhook", via=hook, status="sent", triggered_at=five, sent_at=five)
    notification(fired[1], channel="email", status="sent", triggered_at=five, sent_at=five, firing=2)
    notification(fired[1], channel="email", status="sent", triggered_at=thirty, sent_at=thirty)
    notification(
        fired[1],
        channel="email",
        status="sent",
        triggered_at=now - timedelta(hours=2),
        sent_at=now - timedelta(hours=2),
    )

    # Feed: one fresh connection, one 3 hours silent; a price; the evaluator 7 s behind it.
    wall = time.time()
    write_heartbeat("btcusdt-conn", wall - 2)
    write_heartbeat("old-conn", wall - 3 * 3600)
    write_price("BTCUSDT", Decimal("65000.10"), int(wall * 1000))
    newest = clean_redis.xrevrange("prices", count=1)[0][0]
    EvaluationCheckpoint.objects.create(
        name="default",
        stream_id=f"{int(newest.split('-')[0]) - 7_000}-0",
        evaluated_at=now - timedelta(seconds=4),
    )
    return {"hook": hook, "tg": tg, "five": five, "thirty": thirty}


def text_of(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(td|p|table)>', page, re.S)
    assert match, element_id
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_page_shows_the_known_figures(admin_client, deployment):
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    ops = response.context["ops"]
    page = response.content.decode()

    # Feed: connections with their freshness, the stale one marked; /health's view of it.
    beats = {beat.connection: beat.stale for beat in ops.status.heartbeats}
    assert beats == {"btcusdt-conn": False, "old-conn": True}
    assert ops.feed["status"] == "ok" and 1.5 <= ops.feed["age_seconds"] < 10
    assert ops.feed["waiting_symbols"] == 3
    assert re.search(r"old-conn</td><td>3\.0 h ago</td>\s*<td><strong>STALE</strong>", page)

    # Evaluation: 7 s behind the newest stream entry, 6 alerts waiting on 3 symbols.
    assert ops.status.evaluation_lag_seconds == 7.0
    assert text_of(page, "evaluation-lag") == "7.0 s"
    assert text_of(page, "waiting-alerts") == "6 on 3 symbols"

    # Delivery backlog: 2 pending, the oldest 10 min; failures of the last hour by kind.
    assert (ops.status.pending_notifications, ops.status.failed_notifications) == (2, 6)
    assert 600 <= ops.status.oldest_pending_age_seconds < 660
    assert text_of(page, "delivery-pending").startswith("2 (0 being sent now)")
    assert text_of(page, "delivery-oldest").startswith("10.")
    assert ops.failures_by_kind == {"email": 0, "webhook": 3, "apprise": 1}
    assert "Failed in the last hour: 4" in page
    assert re.search(r'class="failures-webhook"><td>webhook</td><td>3</td>', page)

    # The failing channels of the day, worst first, with the latest error of each.
    rows = [(row.channel_id, row.failures, row.last_error, row.enabled) for row in ops.failing_channels]
    assert rows == [
        (deployment["hook"].pk, 3, "HTTP 502", True),
        (deployment["tg"].pk, 1, "HTTP 410", False),
        (None, 1, "SMTP 550", None),
    ]
    assert ops.failing_channels[0].user_email == "alice@example.com"
    assert f"/admin/alerts/channel/{deployment['hook'].pk}/change/" in page
    assert "disabled: HTTP 410" in page

    # Most watched symbols: waiting alerts and users, the catalogue's word, the latest price.
    watched = [(row.symbol, row.alerts, row.users, row.catalogue_status) for row in ops.watched]
    assert watched == [("BTCUSDT", 3, 2, "TRADING"), ("ETHUSDT", 2, 1, "TRADING"), ("DOGEUSDT", 1, 1, "HALT")]
    assert ops.watched[0].price == Decimal("65000.10")
    assert ops.watched[1].price is None

    # The last hour per minute: 60 minutes, firings (distinct alert per minute) and deliveries.
    assert len(ops.activity) == 60
    per_minute = {
        row.minute: (row.firings, row.deliveries) for row in ops.activity if row.firings or row.deliveries
    }
    five, thirty = (deployment[k].replace(second=0) for k in ("five", "thirty"))
    assert per_minute == {five: (2, 3), thirty: (1, 1)}
    assert (ops.firings_last_hour, ops.deliveries_last_hour) == (3, 4)
    assert text_of(page, "activity-totals") == "3 firings (red) and 4 deliveries sent (blue)."


def test_the_chart_is_svg_drawn_on_the_server_without_script(admin_client, deployment):
    page = admin_client.get(PAGE).content.decode()
    start = page.index('<svg xmlns="http://www.w3.org/2000/svg" class="minute-chart"')
    svg = page[start : page.index("</svg>", start) + 6]
    assert "<script" not in page.split('id="content-main"')[1]
    assert "onload" not in svg and "javascript:" not in svg
    assert 'aria-label="Per minute over the last hour: 3 firings and 4 deliveries in all."' in svg
    lines = re.findall(r'data-series="(\w+)"><polyline[^>]*points="([^"]+)"', svg)
    assert [name for name, _ in lines] == ["firings", "deliveries"]
    for _, points in lines:
        assert len(points.split()) == 60
    five = deployment["five"].strftime("%H:%M")
    assert f"<title>{five} UTC: 2 firings</title>" in svg
    assert f"<title>{five} UTC: 3 deliveries</title>" in svg


def test_a_quiet_deployment_says_what_to_start(admin_client):
    page = admin_client.get(PAGE).content.decode()
    assert "No heartbeat" in page and "runfeeder" in page
    assert "never ran" in page
    assert "No failures." in page and "No alert is waiting." in page


def test_only_staff_see_it_and_the_index_links_to_it(client, admin_client, alice):
    assert admin_client.get("/admin/").content.decode().count(f'href="{PAGE}"') >= 1
    anonymous = client.get(PAGE)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    alice.set_password("pw-for-the-test-1")
    alice.save()
    client.force_login(alice)  # active, not staff
    assert client.get(PAGE).status_code == 302


def test_redis_down_still_shows_the_databases_figures(admin_client, deployment, settings, closed_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/0"
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong>DOWN</strong>" in page
    assert response.context["ops"].status.pending_notifications == 2
    assert [row.price for row in response.context["ops"].watched] == [None, None, None]
