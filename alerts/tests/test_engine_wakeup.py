"""The wake-up path, engine side: wake-up ticks are plain ticks, the lock never lapses under a long one.

A wake-up is the feeder raising the flag (``feeds.store.request_wake``) and
queueing ``evaluate_alerts``; here the test raises the flag and runs the task,
as the engine worker would. Real Redis, real database.
"""

import logging
import random
import time
from decimal import Decimal

import pytest

from alerts import engine, tasks
from alerts.models import Alert, EvaluationCheckpoint, Notification
from alerts.selectors import waiting_frontiers
from feeds import store
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

from .test_engine_repeat import ARMED, T0, TARGET, TICK, Reference, firings, hover, make_alert, window

pytestmark = pytest.mark.django_db


class TestFrontierSelector:
    def test_the_nearest_waiting_prices_on_each_side_per_symbol(self, alice, make_alert):
        make_alert(alice, symbol="BTCUSDT", target_price="70000")
        make_alert(alice, symbol="BTCUSDT", target_price="71000")
        make_alert(alice, symbol="BTCUSDT", target_price="60000", direction="below")
        make_alert(alice, symbol="BTCUSDT", target_price="61000.5", direction="below")
        make_alert(alice, symbol="BTCUSDT", target_price="65000", status="triggered")
        make_alert(alice, symbol="BTCUSDT", target_price="65001", status="deleted")
        make_alert(alice, symbol="ETHUSDT", target_price="0.00001234")
        assert waiting_frontiers() == {
            "BTCUSDT": (Decimal("70000"), Decimal("61000.5")),
            "ETHUSDT": (Decimal("0.00001234"), None),
        }

    def test_a_re_arming_alert_counts_at_its_re_arm_price_once_its_cooldown_is_over(self, alice, make_alert):
        now_ms = int(time.time() * 1000)
        fired = {
            "status": "rearming",
            "repeat": "every",
            "cooldown_seconds": 60,
            "rearm_price": Decimal("69930"),
        }
        cooling = make_alert(alice, target_price="70000", rearm_after_ms=now_ms + 60_000, **fired)
        assert waiting_frontiers() == {"BTCUSDT": (None, None)}  # hovering in the band wakes nobody
        Alert.objects.filter(pk=cooling.pk).update(rearm_after_ms=now_ms - 1)
        assert waiting_frontiers() == {"BTCUSDT": (None, Decimal("69930"))}

    def test_the_symbols_are_those_the_feeder_follows(self, alice, make_alert):
        assert waiting_frontiers() == {}
        make_alert(alice, symbol="SOLUSDT", target_price="150", expires_at=ms_to_datetime(T0))  # past
        assert waiting_frontiers() == {}


def crossing_alert(user, target="100"):
    alert = Alert.objects.create(user=user, symbol="BTCUSDT", direction="above", target_price=Decimal(target))
    Alert.objects.filter(pk=alert.pk).update(armed_at=ms_to_datetime(T0 - 1000))
    return alert


def crossing_window(price="101", at=T0):
    return PriceWindow("BTCUSDT", Decimal(price), Decimal(price), Decimal(price), at, at)


class TestWakeUpTicks:
    def test_a_tick_lowers_the_flag_before_reading_the_stream(self, alice, clean_redis):
        alert = crossing_alert(alice)
        store.write_windows([crossing_window()])
        assert store.request_wake(clean_redis)
        assert not store.request_wake(clean_redis)  # coalesced: one wake-up on its way
        assert tasks.evaluate_alerts()["fired"] == 1
        assert not store.wake_requested(clean_redis)
        alert.refresh_from_db()
        assert alert.status == "triggered"

    def test_a_wake_up_raised_during_a_tick_runs_another_round_at_once(self, alice, clean_redis, monkeypatch):
        alert = crossing_alert(alice)
        real = engine.evaluate_pending

        def tick_during_which_a_crossing_arrives(**kwargs):
            result = real(**kwargs)  # read the stream: nothing crossing yet
            if not Notification.objects.exists():
                store.write_windows([crossing_window()])  # the feeder's urgent flush...
                store.request_wake(clean_redis)  # ...and its wake-up, which finds the lock taken
                assert tasks.evaluate_alerts() is None
            return result

        monkeypatch.setattr(engine, "evaluate_pending", tick_during_which_a_crossing_arrives)
        assert tasks.evaluate_alerts()["fired"] == 1
        alert.refresh_from_db()
        assert alert.status == "triggered"
        assert not store.wake_requested(clean_redis)

    def test_a_lost_or_duplicated_wake_up_changes_nothing(self, alice, clean_redis):
        alert = crossing_alert(alice)
        store.write_windows([crossing_window()])
        store.request_wake(clean_redis)  # its message lost: the beat tick evaluates anyway
        assert tasks.evaluate_alerts()["fired"] == 1
        store.request_wake(clean_redis)  # a duplicate, and two ticks for it
        assert tasks.evaluate_alerts()["fired"] == 0
        assert tasks.evaluate_alerts()["fired"] == 0
        assert Notification.objects.filter(alert=alert).count() == 1


def state_of(alerts):
    result = []
    for alert in alerts:
        alert.refresh_from_db()
        result.append((alert.status, alert.trigger_count, firings(alert)))
    return result


def drive(windows, schedule, client):
    """Write the windows to the stream one flush each; after each, what ``schedule`` says happens."""
    for w, step in zip(windows, schedule, strict=True):
        store.write_windows([w])
        if step == "beat":
            tasks.evaluate_alerts()
        elif step == "wake":
            store.request_wake(client)
            tasks.evaluate_alerts()
        elif step == "lost wake":
            store.request_wake(client)
        elif step == "duplicate wake":
            store.request_wake(client)
            tasks.evaluate_alerts()
            tasks.evaluate_alerts()
    tasks.evaluate_alerts()  # the beat catches up at the end


STEPS = ["nothing", "beat", "wake", "lost wake", "duplicate wake"]


@pytest.mark.parametrize(
    "pattern", ["every window a wake-up", "beat only", "interleaved 1", "interleaved 2", "interleaved 3"]
)
def test_the_exactness_suite_holds_for_wake_up_and_beat_ticks_in_any_interleaving(
    alice, clean_redis, pattern
):
    """Hover (repeats, cooldowns, re-arms), a one-shot, a staircase of highs: as if one tick read all."""
    repeating = make_alert(alice, rearm="0", cooldown=60)
    once = make_alert(alice, repeat="once", target=TARGET + TICK)
    banded = make_alert(alice, cooldown=60)  # re-arms only under 69930: on the staircase's dips
    windows = hover(count=150, spacing_ms=1000)
    # A staircase: rising highs with deep dips, each dip under the band.
    for i in range(30):
        at = T0 + 150_000 + i * 31_000
        windows.append(window(TARGET + i, at=at))
        windows.append(window("69900", at=at + 15_500))
    if pattern == "every window a wake-up":
        schedule = ["wake"] * len(windows)
    elif pattern == "beat only":
        schedule = ["beat" if i % 5 == 4 else "nothing" for i in range(len(windows))]
    else:
        rng = random.Random(pattern)
        schedule = [rng.choice(STEPS) for _ in windows]
    drive(windows, schedule, clean_redis)

    expected_repeating = Reference(TARGET, TARGET, 60_000, repeat=True).feed(windows)
    expected_once = Reference(TARGET + TICK, TARGET + TICK, 0, repeat=False).feed(windows)
    expected_banded = Reference(TARGET, banded.rearm_price, 60_000, repeat=True).feed(windows)
    assert state_of([repeating, banded]) == [
        ("rearming", len(expected_repeating.firings), expected_repeating.firings),
        ("rearming", len(expected_banded.firings), expected_banded.firings),
    ]
    # A one-shot alert reports the crossing its tick saw (the highest of its batch): once, no earlier.
    ((status, count, [(at, _)]),) = state_of([once])
    assert (status, count) == ("triggered", 1)
    assert at >= expected_once.firings[0][0]
    assert len(expected_banded.firings) > 10  # the staircase re-armed and fired it again and again
    assert EvaluationCheckpoint.objects.get().stream_id == store.read_windows("0", count=10_000)[-1][0]
    assert ARMED < T0


class TestLockRenewal:
    def test_the_lock_outlives_its_lifetime_while_its_holder_runs_and_goes_when_it_ends(self, clean_redis):
        with tasks.renewed_lock(clean_redis, "test:lock", 0.3) as held:
            assert held
            time.sleep(1.2)  # four lifetimes
            assert 0 < clean_redis.pttl("test:lock") <= 300
            with tasks.renewed_lock(clean_redis, "test:lock", 0.3) as second:
                assert not second
        assert not clean_redis.exists("test:lock")

    def test_a_tick_longer_than_the_lock_is_never_overlapped(self, alice, clean_redis, monkeypatch, caplog):
        caplog.set_level(logging.WARNING, logger="alerts.tasks")
        monkeypatch.setattr(tasks, "evaluate_lock_seconds", lambda: 0.3)
        real = engine.evaluate_pending
        overlapping = []

        def long_tick(**kwargs):
            if overlapping:  # the overlapping tick itself, had it started
                return real(**kwargs)
            time.sleep(1.2)  # a big firing on a slow database, four lock lifetimes
            overlapping.append(tasks.evaluate_alerts())  # the next beat's tick arrives meanwhile
            return real(**kwargs)

        monkeypatch.setattr(engine, "evaluate_pending", long_tick)
        store.write_windows([crossing_window()])
        assert tasks.evaluate_alerts()["entries"] == 1
        assert overlapping == [None]  # skipped: the lock was still held
        assert "expired" not in caplog.text
        assert not clean_redis.exists(tasks.EVALUATE_LOCK_KEY)
