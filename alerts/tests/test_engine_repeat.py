"""Repeating alerts in the engine: cooldown, hysteresis re-arm, hovering prices, exact in any batching."""

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from alerts import engine
from alerts.models import Alert, Notification
from alerts.services import rearm_price
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

T0 = 1_790_000_000_000
ARMED = T0 - 60_000
TARGET = Decimal("70000")
TICK = Decimal("0.01")


def make_alert(user, *, repeat="every", cooldown=60, rearm="0.1", direction="above", target=TARGET):
    return Alert.objects.create(
        user=user,
        symbol="BTCUSDT",
        direction=direction,
        target_price=target,
        repeat=repeat,
        cooldown_seconds=cooldown if repeat == "every" else None,
        rearm_percent=Decimal(rearm),
        rearm_price=rearm_price(target, direction, Decimal(rearm)),
        armed_at=ms_to_datetime(ARMED),
    )


def window(high, low=None, at=T0):
    high = Decimal(high)
    low = Decimal(low) if low is not None else high
    return PriceWindow("BTCUSDT", high, low, low, at - 100, at)


def hover(count=1000, spacing_ms=1000):
    """Target + one tick, target - one tick, ... one window a second."""
    return [
        window(TARGET + TICK if i % 2 == 0 else TARGET - TICK, at=T0 + i * spacing_ms) for i in range(count)
    ]


@dataclass
class Reference:
    """What a repeating (or one-shot) alert must do, window by window, written as plainly as possible."""

    target: Decimal
    rearm_price: Decimal
    cooldown_ms: int
    repeat: bool
    armed_ms: int = ARMED
    state: str = "created"
    rearm_after: int = 0
    firings: list[tuple[int, Decimal]] = field(default_factory=list)

    def feed(self, windows):
        for w in sorted(windows, key=lambda w: w.last_event_ms):
            if self.state == "rearming" and w.last_event_ms > self.rearm_after and w.low < self.rearm_price:
                self.state, self.armed_ms = "created", w.last_event_ms
            elif self.state == "created" and w.last_event_ms > self.armed_ms and w.high >= self.target:
                self.firings.append((w.last_event_ms, w.high))
                if self.repeat:
                    self.state, self.rearm_after = "rearming", w.last_event_ms + self.cooldown_ms
                else:
                    self.state = "triggered"
        return self


def evaluate_in_batches(windows, size):
    fired = 0
    for start in range(0, len(windows), size):
        fired += engine.evaluate_windows(windows[start : start + size])
    return fired


def firings(alert):
    """(event ms, price) of each firing, from the notifications the engine wrote."""
    rows = Notification.objects.filter(alert=alert).order_by("firing")
    return [(int(n.triggered_at.timestamp() * 1000), n.triggered_price) for n in rows]


@pytest.mark.django_db
class TestHoveringPrice:
    def test_a_once_alert_sends_exactly_one_notification(self, alice):
        alert = make_alert(alice, repeat="once")
        assert evaluate_in_batches(hover(), 1) == 1
        assert Notification.objects.filter(alert=alert).count() == 1
        alert.refresh_from_db()
        assert (alert.status, alert.trigger_count) == ("triggered", 1)

    def test_a_repeating_alert_with_the_default_band_never_re_arms_while_hovering(self, alice):
        alert = make_alert(alice)  # re-arms only below 69930
        assert evaluate_in_batches(hover(), 1) == 1
        alert.refresh_from_db()
        assert (alert.status, alert.trigger_count) == ("rearming", 1)
        assert Notification.objects.filter(alert=alert).count() == 1

    def test_a_repeating_alert_without_a_band_fires_once_per_cooldown(self, alice):
        alert = make_alert(alice, rearm="0")
        windows = hover()
        expected = Reference(TARGET, TARGET, 60_000, repeat=True).feed(windows).firings
        # Fires at 0 s; re-arms on the first dip after 60 s (61 s); fires at 62 s; ...
        assert [ms - T0 for ms, _ in expected[:3]] == [0, 62_000, 124_000]
        assert len(expected) == 17
        assert evaluate_in_batches(windows, 1) == 17
        assert firings(alert) == expected
        alert.refresh_from_db()
        assert alert.trigger_count == 17
        assert alert.last_triggered_at == ms_to_datetime(expected[-1][0])

    @pytest.mark.parametrize("size", [5, 7, 64, 1000])
    def test_batching_does_not_change_which_windows_fire(self, alice, size):
        alert = make_alert(alice, rearm="0", cooldown=90)
        windows = hover()
        expected = Reference(TARGET, TARGET, 90_000, repeat=True).feed(windows).firings
        assert evaluate_in_batches(windows, size) == len(expected)
        assert firings(alert) == expected

    def test_no_notification_until_the_price_passes_the_band(self, alice):
        alert = make_alert(alice)  # band: strictly below 69930
        assert engine.evaluate_windows([window("70000.01", at=T0)]) == 1
        later = T0 + 120_000  # cooldown long over
        assert engine.evaluate_windows([window("69930", at=later), window("70001", at=later + 1000)]) == 0
        alert.refresh_from_db()
        assert alert.status == "rearming"
        assert engine.evaluate_windows([window("69929.99", at=later + 2000)]) == 0
        alert.refresh_from_db()
        assert (alert.status, alert.armed_at) == ("created", ms_to_datetime(later + 2000))
        assert engine.evaluate_windows([window("70000", at=later + 3000)]) == 1
        assert Notification.objects.filter(alert=alert).count() == 2


@pytest.mark.django_db
class TestCooldownBoundaries:
    def test_the_cooldown_counts_in_event_time_and_ends_strictly_after(self, alice):
        alert = make_alert(alice, rearm="0", cooldown=60)
        assert engine.evaluate_windows([window("70000", at=T0)]) == 1
        alert.refresh_from_db()
        assert alert.rearm_after_ms == T0 + 60_000
        # A dip exactly when the cooldown ends does not re-arm; one millisecond later does.
        engine.evaluate_windows([window("69999.99", at=T0 + 60_000)])
        alert.refresh_from_db()
        assert alert.status == "rearming"
        engine.evaluate_windows([window("69999.99", at=T0 + 60_001)])
        alert.refresh_from_db()
        assert alert.status == "created"

    def test_a_dip_exactly_at_the_end_of_the_cooldown_does_not_re_arm_in_a_longer_batch(self, alice):
        alert = make_alert(alice, rearm="0", cooldown=60)
        engine.evaluate_windows([window("70000", at=T0)])
        engine.evaluate_windows([window("69999.99", at=T0 + 60_000), window("70000.01", at=T0 + 60_001)])
        alert.refresh_from_db()
        assert (alert.status, alert.trigger_count) == ("rearming", 1)

    def test_a_dip_during_the_cooldown_does_not_count(self, alice):
        alert = make_alert(alice, rearm="0", cooldown=60)
        engine.evaluate_windows([window("70000", at=T0)])
        engine.evaluate_windows([window("69000", at=T0 + 30_000)])
        engine.evaluate_windows([window("70500", at=T0 + 61_000)])
        alert.refresh_from_db()
        assert (alert.status, alert.trigger_count) == ("rearming", 1)

    def test_the_window_that_re_arms_does_not_also_fire(self, alice):
        alert = make_alert(alice, rearm="0", cooldown=60)
        engine.evaluate_windows([window("70000", at=T0)])
        # One window spanning both sides: its order inside is unknown, so it only re-arms.
        assert engine.evaluate_windows([window("70100", low="69000", at=T0 + 61_000)]) == 0
        alert.refresh_from_db()
        assert alert.status == "created"
        assert engine.evaluate_windows([window("70100", at=T0 + 61_001)]) == 1

    def test_a_below_alert_re_arms_strictly_above_its_band(self, alice):
        alert = make_alert(alice, direction="below", target=Decimal("2000"), rearm="1")  # band: above 2020
        assert engine.evaluate_windows([window("2000", at=T0)]) == 1
        engine.evaluate_windows([window("2020", at=T0 + 61_000)])
        alert.refresh_from_db()
        assert alert.status == "rearming"
        engine.evaluate_windows([window("2020.01", at=T0 + 62_000)])
        alert.refresh_from_db()
        assert alert.status == "created"
        assert engine.evaluate_windows([window("1999.99", at=T0 + 63_000)]) == 1
        alert.refresh_from_db()
        assert (alert.trigger_count, alert.triggered_price) == (2, Decimal("1999.99"))

    def test_each_firing_keeps_its_own_price_and_time_in_its_notification(self, alice):
        alert = make_alert(alice, rearm="0", cooldown=60)
        engine.evaluate_windows(
            [
                window("70010", at=T0),
                window("69000", at=T0 + 61_000),
                window("70020", at=T0 + 62_000),
                window("70500", at=T0 + 63_000),
            ]
        )
        assert firings(alert) == [(T0, Decimal("70010")), (T0 + 62_000, Decimal("70020"))]
        assert list(Notification.objects.filter(alert=alert).values_list("firing", flat=True)) == [2, 1]

    def test_a_deleted_repeating_alert_never_re_arms(self, alice):
        alert = make_alert(alice, rearm="0")
        engine.evaluate_windows([window("70000", at=T0)])
        Alert.objects.filter(pk=alert.pk).update(status="deleted")
        assert (
            engine.evaluate_windows([window("69000", at=T0 + 61_000), window("71000", at=T0 + 62_000)]) == 0
        )
        alert.refresh_from_db()
        assert alert.status == "deleted"
