"""The stream keeps every unread entry, reports lost ones, and clock expiry waits for the watermark."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from alerts import engine
from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds import store
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

pytestmark = pytest.mark.django_db


def window(price, at_ms, symbol="BTCUSDT"):
    return PriceWindow(symbol, Decimal(price), Decimal(price), Decimal(price), at_ms - 100, at_ms)


def now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


def stream_ids() -> list[str]:
    return [entry_id for entry_id, _ in store.read_windows("0", count=10_000)]


def make_alert(user, target="70000", **extra):
    return Alert.objects.create(
        user=user,
        symbol="BTCUSDT",
        direction="above",
        target_price=Decimal(target),
        armed_at=timezone.now() - timedelta(minutes=5),
        **extra,
    )


class TestTrimByCheckpoint:
    def test_a_tick_trims_the_entries_before_the_oldest_checkpoint_and_none_after(self):
        store.write_windows([window("1", now_ms())])
        assert engine.evaluate_pending(name="slow").entries == 1
        first = [store.write_windows([window("1", now_ms())]) for _ in range(3)]
        assert engine.evaluate_pending(name="fast").entries == 4
        assert engine.evaluate_pending(name="slow").entries == 3
        later = [store.write_windows([window("2", now_ms())]) for _ in range(2)]
        assert engine.evaluate_pending(name="fast").entries == 2
        # "slow" has read only the first three: its checkpoint entry and all after it stay.
        assert stream_ids() == [first[-1], *later]
        assert engine.evaluate_pending(name="slow").entries == 2
        assert stream_ids() == [later[-1]]

    def test_an_evaluator_that_has_read_nothing_keeps_the_whole_stream(self):
        ids = [store.write_windows([window("1", now_ms())]) for _ in range(3)]
        EvaluationCheckpoint.objects.create(name="idle", stream_id="0")
        assert engine.evaluate_pending(name="busy").entries == 3
        assert stream_ids() == ids
        assert engine.evaluate_pending(name="idle").entries == 3


class TestLostEntriesAreReported:
    def lose_entries(self):
        """The engine reads one entry; two more are written, then trimmed unread (the safety bound)."""
        store.write_windows([window("1", now_ms())])
        engine.evaluate_pending()
        store.write_windows([window("2", now_ms())])
        store.write_windows([window("3", now_ms())])
        kept = store.write_windows([window("4", now_ms())])
        store.redis_client().xtrim(store.WINDOW_STREAM, minid=kept, approximate=False)
        return kept

    def test_the_log_health_and_status_say_entries_were_lost(self, anon_client, caplog):
        kept = self.lose_entries()
        assert engine.evaluate_pending().entries == 1  # what is left is still read
        assert "may be lost" in caplog.text
        body = anon_client.get("/health").json()
        assert body["status"] == "degraded"
        assert body["stream"]["status"] == "lost_entries"
        assert f"the stream now starts at {kept}" in body["stream"]["losses"]["default"]
        out = StringIO()
        call_command("pricealert_status", "--json", stdout=out)
        assert f"now starts at {kept}" in json.loads(out.getvalue())["stream_losses"]["default"]
        text = StringIO()
        call_command("pricealert_status", stdout=text)
        assert "LOST ENTRIES" in text.getvalue()

    def test_a_trimmed_stream_that_kept_the_checkpoint_reports_nothing(self, anon_client):
        for price in "123":
            store.write_windows([window(price, now_ms())])
            engine.evaluate_pending()
        assert anon_client.get("/health").json()["stream"] == {"status": "ok", "losses": {}}

    def test_a_stream_emptied_under_the_checkpoint_is_reported_and_read_from_its_start(self, alice):
        alert = make_alert(alice)
        store.write_windows([window("1", now_ms())])
        engine.evaluate_pending()
        store.redis_client().delete(store.WINDOW_STREAM)  # Redis lost its data
        assert engine.evaluate_pending().entries == 0
        assert "nothing is left at or after it" in store.stream_losses()["default"]
        assert EvaluationCheckpoint.objects.get().stream_id == "0"
        store.write_windows([window("70001", now_ms())])
        assert engine.evaluate_pending().fired == 1
        assert alert.status == "created" and Alert.objects.get().status == "triggered"


class TestExpiryWaitsForTheWatermark:
    def test_a_held_window_landing_after_the_wall_clock_expiry_still_fires(self, alice):
        start = now_ms() - 60_000
        alert = make_alert(alice, expires_at=ms_to_datetime(start + 10_000))
        store.write_windows_marked([window("69000", start)], "feeder", through_ms=start)
        engine.evaluate_pending()
        # A minute later by the clock, the crossing window (made before the expiry) is
        # still held in the feeder's Redis retry: the watermark has not moved.
        engine.evaluate_pending()
        assert Alert.objects.get(pk=alert.pk).status == "created"
        store.write_windows_marked([window("70001", start + 5_000)], "feeder", through_ms=now_ms())
        assert engine.evaluate_pending().fired == 1
        assert Alert.objects.get(pk=alert.pk).status == "triggered"
        assert Notification.objects.filter(alert=alert).count() == 1

    def test_with_the_watermark_past_the_expiry_the_alert_expires(self, alice):
        alert = make_alert(alice, expires_at=timezone.now() - timedelta(seconds=30))
        store.write_heartbeats({}, through_ms=now_ms())
        engine.evaluate_pending()
        assert Alert.objects.get(pk=alert.pk).status == "expired"

    def test_without_a_feeder_alerts_expire_by_the_clock(self, alice):
        alert = make_alert(alice, expires_at=timezone.now() - timedelta(seconds=30))
        assert store.flushed_through() is None
        engine.evaluate_pending()
        assert Alert.objects.get(pk=alert.pk).status == "expired"

    def test_an_alert_waits_for_its_own_symbols_trades_past_its_expiry_not_another_symbols(self, alice):
        """BTCUSDT's connection is down (the watermark held) while ETHUSDT trades on past the expiry."""
        start = now_ms() - 60_000
        expiry = ms_to_datetime(start + 10_000)
        crossed = make_alert(alice, expires_at=expiry)
        missed = make_alert(alice, target="80000", expires_at=expiry)
        store.write_windows_marked([window("3000", start + 20_000, "ETHUSDT")], "feeder", through_ms=start)
        engine.evaluate_pending()
        assert set(Alert.objects.values_list("status", flat=True)) == {"created"}
        # BTCUSDT's backfill lands, in event order: a crossing before the expiry, then a trade after it.
        store.write_windows_marked([window("70001", start + 5_000)], "feeder", through_ms=start)
        store.write_windows_marked([window("69000", start + 15_000)], "feeder", through_ms=start)
        assert engine.evaluate_pending().fired == 1
        assert Alert.objects.get(pk=crossed.pk).status == "triggered"
        # Its symbol's trades are in past the expiry: it expires although the watermark is still behind.
        assert Alert.objects.get(pk=missed.pk).status == "expired"
