"""Expiry: an alert counts windows up to its expires_at (event time), then becomes "expired"."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts import engine
from alerts.models import Alert, Notification
from alerts.selectors import waiting_symbols
from feeds import store
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

T0 = 1_790_000_000_000


def make_alert(user, *, expires_ms=None, symbol="BTCUSDT", target="70000", **extra):
    return Alert.objects.create(
        user=user,
        symbol=symbol,
        direction="above",
        target_price=Decimal(target),
        armed_at=ms_to_datetime(T0 - 60_000),
        expires_at=None if expires_ms is None else ms_to_datetime(expires_ms),
        **extra,
    )


def window(high, at, symbol="BTCUSDT"):
    return PriceWindow(symbol, Decimal(high), Decimal(high), Decimal(high), at - 100, at)


def status(alert):
    alert.refresh_from_db()
    return alert.status


@pytest.mark.django_db
class TestExpiryInEventTime:
    def test_a_window_at_the_expiry_still_fires(self, alice):
        alert = make_alert(alice, expires_ms=T0)
        assert engine.evaluate_with_expiry([window("70000", T0)]) == 1
        assert status(alert) == "triggered"

    def test_a_window_one_millisecond_after_the_expiry_does_not(self, alice):
        alert = make_alert(alice, expires_ms=T0)
        assert engine.evaluate_with_expiry([window("70000", T0 + 1)]) == 0
        assert status(alert) == "expired"
        assert not Notification.objects.exists()

    def test_windows_are_cut_at_each_expiry_inside_a_batch(self, alice, bob):
        early = make_alert(alice, expires_ms=T0 + 500)
        late = make_alert(bob, expires_ms=T0 + 1500)
        never = make_alert(alice, target="80000", expires_ms=T0 + 1200)
        windows = [window("69000", T0), window("70000", T0 + 1000), window("69500", T0 + 2000)]
        assert engine.evaluate_with_expiry(windows) == 1
        assert [status(early), status(late), status(never)] == ["expired", "triggered", "expired"]

    def test_a_batch_without_expiries_in_its_span_leaves_later_ones_waiting(self, alice):
        alert = make_alert(alice, expires_ms=T0 + 10_000)
        assert engine.evaluate_with_expiry([window("69000", T0)]) == 0
        assert status(alert) == "created"

    def test_a_re_arming_alert_expires_too(self, alice):
        alert = make_alert(
            alice, expires_ms=T0 + 5000, repeat="every", cooldown_seconds=60, rearm_price=Decimal("69930")
        )
        engine.evaluate_with_expiry([window("70000", T0)])
        assert status(alert) == "rearming"
        engine.evaluate_with_expiry([window("69000", T0 + 6000)])
        assert status(alert) == "expired"


@pytest.mark.django_db
class TestExpiryOnAQuietTick:
    def test_with_nothing_in_the_stream_alerts_expire_by_the_clock_after_a_grace(self, alice):
        now = timezone.now()
        due = make_alert(alice, expires_ms=int((now - timedelta(seconds=6)).timestamp() * 1000))
        graced = make_alert(alice, expires_ms=int((now - timedelta(seconds=4)).timestamp() * 1000))
        result = engine.evaluate_pending(now=now)
        assert result.entries == 0
        assert [status(due), status(graced)] == ["expired", "created"]

    def test_a_tick_with_windows_expires_by_their_event_time(self, alice):
        alert = make_alert(alice, expires_ms=T0 + 100)
        store.write_windows([window("69000", T0 + 200)])
        engine.evaluate_pending()
        assert status(alert) == "expired"


@pytest.mark.django_db
class TestFeederFollowsOnlyLiveAlerts:
    def test_expired_and_past_due_alerts_are_not_followed(self, alice):
        now = timezone.now()
        make_alert(alice, symbol="ETHUSDT", status="expired")
        make_alert(alice, symbol="BNBUSDT", expires_ms=int((now - timedelta(seconds=1)).timestamp() * 1000))
        make_alert(alice, symbol="SOLUSDT", expires_ms=int((now + timedelta(hours=1)).timestamp() * 1000))
        make_alert(alice, symbol="XRPUSDT", status="rearming", repeat="every", cooldown_seconds=60)
        make_alert(alice, symbol="ADAUSDT", status="triggered")
        assert waiting_symbols() == {"SOLUSDT", "XRPUSDT"}

    def test_expired_is_listed_and_filterable(self, alice, alice_client):
        expired = make_alert(alice, status="expired")
        make_alert(alice)
        body = alice_client.get("/alerts/", {"status": "expired"}).json()
        assert [a["id"] for a in body["results"]] == [expired.pk]
        assert body["results"][0]["status"] == "expired"
