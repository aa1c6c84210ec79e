"""A destination that never answers costs its owner's deliveries only (alerts.delivery.breaker)."""

from decimal import Decimal

import pytest

from alerts import engine
from alerts.delivery import breaker, send
from alerts.models import Alert, Channel, Notification
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow
from tests.support.http import HookServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local_delivery")]
T0 = 1_790_000_000_000


@pytest.fixture(autouse=True)
def short_timeouts(settings):
    settings.OUTBOUND_TIMEOUT_SECONDS = settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS = 0.3
    settings.ALERTS_SLOW_OWNER_HOLD_SECONDS = 30


def fire_to(user, channels) -> list[Notification]:
    alert = Alert.objects.create(
        user=user,
        symbol="BTCUSDT",
        direction="above",
        target_price=Decimal("70000"),
        armed_at=ms_to_datetime(T0 - 60_000),
    )
    alert.channels.set(channels)
    price = Decimal("70001")
    engine.evaluate_windows([PriceWindow("BTCUSDT", price, price, price, T0, T0)])
    return list(Notification.objects.filter(alert=alert).order_by("id"))


def hook(user, url):
    return Channel.objects.create(user=user, kind="webhook", url=url, secret="s" * 64)


def test_after_one_timeout_the_owners_other_sends_wait_without_spending_attempts(alice, silent_url):
    first, second = fire_to(alice, [hook(alice, silent_url), hook(alice, silent_url + "2")])
    assert send.deliver(first.pk, 0).outcome == "retry"  # timed out: retried later
    assert breaker.held_for(alice.pk) > 25
    deferred = send.deliver(second.pk, 0)
    assert deferred.outcome == "retry" and deferred.attempts == 0 and deferred.retry_in > 25
    second.refresh_from_db()
    assert second.attempts == 0 and second.status == "pending"
    assert "timed out" in second.last_error
    # the deferred retry message (it carries attempts 0) may claim again once the hold ends
    assert second.next_attempt_at is not None


def test_other_accounts_and_the_owners_email_are_not_held(alice, bob, silent_url):
    (stalled,) = fire_to(alice, [hook(alice, silent_url)])
    send.deliver(stalled.pk, 0)
    with HookServer() as server:
        (bobs,) = fire_to(bob, [hook(bob, server.url)])
        assert send.deliver(bobs.pk, 0).outcome == "sent"
    email = Channel.objects.get(user=alice, kind="email")
    (alices_email,) = fire_to(alice, [email])
    assert send.deliver(alices_email.pk, 0).outcome == "sent"


def test_no_hold_when_turned_off(alice, silent_url, settings):
    settings.ALERTS_SLOW_OWNER_HOLD_SECONDS = 0
    (stalled,) = fire_to(alice, [hook(alice, silent_url)])
    send.deliver(stalled.pk, 0)
    assert breaker.held_for(alice.pk) == 0
