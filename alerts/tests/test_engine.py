"""The alert engine: which windows fire which alerts, exactly once, from the stream checkpoint."""

from decimal import Decimal

import pytest

from alerts import engine
from alerts.cache import cached_alert_page
from alerts.engine import evaluation
from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds import store
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow
from tests.support.broker import queued_tasks

T0 = 1_790_000_000_000  # the first window's last event, in ms
BEFORE = T0 - 60_000  # a minute earlier: alerts created then saw every window


def make_alert(user, target, direction="above", symbol="BTCUSDT", created_ms=BEFORE, status="created"):
    alert = Alert.objects.create(
        user=user, symbol=symbol, direction=direction, target_price=Decimal(target), status=status
    )
    # created_at is auto_now_add: set the creation (and arming) time the test is about afterwards.
    Alert.objects.filter(pk=alert.pk).update(
        created_at=ms_to_datetime(created_ms), armed_at=ms_to_datetime(created_ms)
    )
    alert.refresh_from_db()
    return alert


def window(high, low=None, symbol="BTCUSDT", last_ms=T0, last=None, first_ms=None):
    high = Decimal(high)
    low = Decimal(low) if low is not None else high
    last = Decimal(last) if last is not None else low
    return PriceWindow(symbol, high, low, last, first_ms if first_ms is not None else last_ms - 200, last_ms)


def statuses(*alerts):
    return [Alert.objects.get(pk=a.pk).status for a in alerts]


@pytest.mark.django_db
class TestBoundaries:
    def test_high_exactly_at_target_fires_an_above_alert(self, alice):
        alert = make_alert(alice, "70000.00")
        assert engine.evaluate_windows([window("70000", low="69990", last="69995")]) == 1
        alert.refresh_from_db()
        assert alert.status == "triggered"
        assert alert.triggered_price == Decimal("70000")
        assert alert.triggered_at == ms_to_datetime(T0)

    def test_one_tick_short_of_an_above_target_does_not_fire(self, alice):
        alert = make_alert(alice, "70000.00")
        assert engine.evaluate_windows([window("69999.99", low="69000")]) == 0
        assert statuses(alert) == ["created"]

    def test_low_exactly_at_target_fires_a_below_alert(self, alice):
        alert = make_alert(alice, "1999.50", direction="below", symbol="ETHUSDT")
        assert engine.evaluate_windows([window("2010", low="1999.5", symbol="ETHUSDT")]) == 1
        alert.refresh_from_db()
        assert alert.status == "triggered"
        assert alert.triggered_price == Decimal("1999.5")

    def test_one_tick_short_of_a_below_target_does_not_fire(self, alice):
        alert = make_alert(alice, "1999.50", direction="below", symbol="ETHUSDT")
        assert engine.evaluate_windows([window("2010", low="1999.51", symbol="ETHUSDT")]) == 0
        assert statuses(alert) == ["created"]

    def test_eight_decimal_prices_compare_exactly(self, alice):
        hit = make_alert(alice, "0.00001234", symbol="SHIBUSDT")
        missed = make_alert(alice, "0.00001235", symbol="SHIBUSDT")
        assert engine.evaluate_windows([window("0.00001234", low="0.00001200", symbol="SHIBUSDT")]) == 1
        assert statuses(hit, missed) == ["triggered", "created"]
        hit.refresh_from_db()
        assert hit.triggered_price == Decimal("0.00001234")

    def test_a_one_trade_spike_inside_the_window_fires(self, alice):
        above = make_alert(alice, "71000")
        below = make_alert(alice, "69000", direction="below")
        # Opened and closed at 70000: only high and low remember the spikes.
        assert engine.evaluate_windows([window("71000.5", low="68999", last="70000")]) == 2
        assert statuses(above, below) == ["triggered", "triggered"]

    def test_the_direction_decides_which_side_fires(self, alice):
        above = make_alert(alice, "100")
        below = make_alert(alice, "100", direction="below")
        engine.evaluate_windows([window("101", low="100.5")])
        assert statuses(above, below) == ["triggered", "created"]


@pytest.mark.django_db
class TestWhoFires:
    def test_many_users_and_symbols_fire_exactly_the_crossed_alerts(self, make_user):
        users = [make_user(f"user{i}@example.com") for i in range(5)]
        symbols = {"BTCUSDT": ("70100", "69900"), "ETHUSDT": ("2550", "2450"), "SOLUSDT": ("150", "140")}
        expected = set()
        waiting = set()
        for i, user in enumerate(users):
            for symbol, (high, low) in symbols.items():
                high, low = Decimal(high), Decimal(low)
                for target, direction, fires in [
                    (high - i, "above", True),
                    (high + 1 + i, "above", False),
                    (low + i, "below", True),
                    (low - 1 - i, "below", False),
                ]:
                    alert = make_alert(user, target, direction=direction, symbol=symbol)
                    (expected if fires else waiting).add(alert.pk)
        make_alert(users[0], "1", symbol="XRPUSDT")  # a symbol that did not move
        fired = engine.evaluate_windows(
            [window(high, low=low, symbol=symbol) for symbol, (high, low) in symbols.items()]
        )
        assert fired == len(expected) == 30
        assert set(Alert.objects.filter(status="triggered").values_list("pk", flat=True)) == expected
        assert Alert.objects.filter(status="created").count() == len(waiting) + 1
        notifications = Notification.objects.select_related("alert__user")
        assert sorted(n.alert_id for n in notifications) == sorted(expected)
        for notification in notifications:
            assert notification.to == notification.alert.user.email
            assert (notification.channel, notification.status, notification.attempts) == (
                "email",
                "pending",
                0,
            )

    def test_alerts_created_after_the_window_do_not_fire_on_it(self, alice):
        before = make_alert(alice, "100", created_ms=T0 - 1)
        at_the_last_event = make_alert(alice, "100", created_ms=T0)
        after = make_alert(alice, "100", created_ms=T0 + 5)
        assert engine.evaluate_windows([window("105", last_ms=T0)]) == 1
        assert statuses(before, at_the_last_event, after) == ["triggered", "created", "created"]

    def test_an_alert_created_mid_batch_is_judged_only_on_later_windows(self, alice):
        old = make_alert(alice, "100", created_ms=BEFORE)
        mid = make_alert(alice, "100", created_ms=T0 + 500)
        windows = [window("110", last_ms=T0), window("99", last_ms=T0 + 1000)]
        # Merged, this batch has a high of 110 and a last event after `mid` was
        # created; but 110 happened before `mid` existed.
        assert engine.evaluate_windows(windows) == 1
        assert statuses(old, mid) == ["triggered", "created"]
        old.refresh_from_db()
        assert (old.triggered_price, old.triggered_at) == (Decimal("110"), ms_to_datetime(T0))

    def test_an_alert_created_mid_batch_fires_on_a_later_crossing_window(self, alice):
        mid = make_alert(alice, "100", created_ms=T0 + 500)
        below = make_alert(alice, "95", direction="below", created_ms=T0 + 500)
        windows = [
            window("120", low="90", last_ms=T0),  # crosses both, but before they existed
            window("105", low="98", last_ms=T0 + 1000),
            window("101", low="97", last_ms=T0 + 2000),
        ]
        assert engine.evaluate_windows(windows) == 1
        assert statuses(mid, below) == ["triggered", "created"]
        mid.refresh_from_db()
        # The best price it saw, and when: not the 120 from before it existed.
        assert (mid.triggered_price, mid.triggered_at) == (Decimal("105"), ms_to_datetime(T0 + 1000))

    def test_windows_out_of_stream_order_are_judged_by_event_time(self, alice):
        mid = make_alert(alice, "100", created_ms=T0 + 500)
        windows = [window("99", last_ms=T0 + 1000), window("110", last_ms=T0)]
        assert engine.evaluate_windows(windows) == 0
        assert statuses(mid) == ["created"]

    def test_deleted_and_triggered_alerts_never_fire(self, alice):
        deleted = make_alert(alice, "100", status="deleted")
        triggered = make_alert(alice, "100")
        Alert.objects.filter(pk=triggered.pk).update(
            status="triggered", triggered_price=Decimal("100.5"), triggered_at=ms_to_datetime(BEFORE)
        )
        assert engine.evaluate_windows([window("200")]) == 0
        assert statuses(deleted, triggered) == ["deleted", "triggered"]
        triggered.refresh_from_db()
        assert triggered.triggered_price == Decimal("100.5")
        assert not Notification.objects.exists()

    def test_a_second_evaluation_of_the_same_windows_fires_nothing(self, alice, bob):
        make_alert(alice, "100")
        make_alert(bob, "90", direction="below")
        windows = [window("100", low="90")]
        assert engine.evaluate_windows(windows) == 2
        assert engine.evaluate_windows(windows) == 0
        assert Notification.objects.count() == 2

    def test_symbols_without_alerts_and_empty_input_fire_nothing(self, alice):
        assert engine.evaluate_windows([]) == 0
        assert engine.evaluate_windows([window("1", symbol="NOALERTSUSDT")]) == 0


class TestStaircase:
    def test_keeps_only_windows_that_beat_every_later_one(self):
        windows = [window(h, last_ms=T0 + i) for i, h in enumerate(["5", "9", "7", "8", "6"])]
        steps = engine.staircase(windows, above=True)
        assert [(s.before_ms - T0, s.price) for s in steps] == [
            (1, Decimal("9")),
            (3, Decimal("8")),
            (4, Decimal("6")),
        ]

    def test_below_keeps_the_lows(self):
        windows = [window("10", low=low, last_ms=T0 + i) for i, low in enumerate(["3", "1", "4", "2"])]
        steps = engine.staircase(windows, above=False)
        assert [(s.before_ms - T0, s.price) for s in steps] == [(1, Decimal("1")), (3, Decimal("2"))]


@pytest.mark.django_db
class TestFromTheStream:
    def test_a_tick_reads_after_the_checkpoint_and_moves_it(self, alice):
        alert = make_alert(alice, "100")
        first = store.write_windows([window("99")])
        result = engine.evaluate_pending()
        assert (result.entries, result.fired, result.stream_id) == (1, 0, first)
        checkpoint = EvaluationCheckpoint.objects.get(name="default")
        assert checkpoint.stream_id == first
        assert checkpoint.evaluated_at is not None

        second = store.write_windows([window("100.5", last_ms=T0 + 1000)])
        result = engine.evaluate_pending()
        assert (result.entries, result.fired, result.stream_id) == (1, 1, second)
        assert statuses(alert) == ["triggered"]

        result = engine.evaluate_pending()
        assert (result.entries, result.fired, result.stream_id) == (0, 0, second)
        assert EvaluationCheckpoint.objects.get(name="default").stream_id == second

    def test_a_tick_catches_up_in_batches(self, alice):
        alerts = [make_alert(alice, str(100 + i)) for i in range(5)]
        ids = [store.write_windows([window(str(100 + i), last_ms=T0 + i)]) for i in range(5)]
        result = engine.evaluate_pending(batch_entries=2)
        assert (result.entries, result.fired, result.batches, result.stream_id) == (5, 5, 3, ids[-1])
        assert statuses(*alerts) == ["triggered"] * 5

    def test_one_entry_with_many_symbols(self, alice):
        btc = make_alert(alice, "70000")
        eth = make_alert(alice, "2000", direction="below", symbol="ETHUSDT")
        store.write_windows([window("70001"), window("2100", low="1999", symbol="ETHUSDT")])
        assert engine.evaluate_pending().fired == 2
        assert statuses(btc, eth) == ["triggered", "triggered"]

    def test_a_crash_before_commit_rereads_the_windows_and_fires_once(self, alice, monkeypatch):
        alert = make_alert(alice, "100")
        store.write_windows([window("101")])
        real = evaluation.notifications_written

        def crash(written, users):
            real(written, users)
            raise RuntimeError("worker killed mid-transaction")

        monkeypatch.setattr(evaluation, "notifications_written", crash)
        with pytest.raises(RuntimeError):
            engine.evaluate_pending()
        assert statuses(alert) == ["created"]
        assert not Notification.objects.exists()
        assert not EvaluationCheckpoint.objects.exists()  # its creation rolled back too: start over

        monkeypatch.setattr(evaluation, "notifications_written", real)
        assert engine.evaluate_pending().fired == 1
        assert engine.evaluate_pending().fired == 0
        assert statuses(alert) == ["triggered"]
        assert Notification.objects.filter(alert=alert).count() == 1

    def test_a_stream_restarted_behind_the_checkpoint_is_read_from_its_start(self, alice, clean_redis):
        alert = make_alert(alice, "100")
        EvaluationCheckpoint.objects.create(name="default", stream_id="99999999999999-0")
        store.write_windows([window("101")])  # a new Redis: ids from its own clock, behind the checkpoint
        assert engine.evaluate_pending().entries == 0  # noticed: nothing after the checkpoint
        assert EvaluationCheckpoint.objects.get(name="default").stream_id == "0"
        assert engine.evaluate_pending().fired == 1
        assert statuses(alert) == ["triggered"]

    def test_separate_checkpoints_each_read_the_whole_stream(self, alice):
        store.write_windows([window("1")])
        assert engine.evaluate_pending(name="a").entries == 1
        assert engine.evaluate_pending(name="b").entries == 1
        assert engine.evaluate_pending(name="a").entries == 0


@pytest.mark.django_db
class TestAfterCommit:
    def test_each_notification_is_enqueued_once_the_transaction_commits(
        self, alice, bob, clean_redis, django_capture_on_commit_callbacks
    ):
        make_alert(alice, "100")
        make_alert(bob, "100")
        with django_capture_on_commit_callbacks() as callbacks:
            assert engine.evaluate_windows([window("100")]) == 2
            assert clean_redis.llen("celery") == 0  # nothing is sent before the commit
        for callback in callbacks:
            callback()
        ids = sorted(Notification.objects.values_list("id", flat=True))
        [(name, (batch, expected_attempts))] = queued_tasks(clean_redis)
        assert (name, sorted(batch), expected_attempts) == ("alerts.tasks.send_notifications", ids, 0)

    def test_triggering_invalidates_the_users_alert_list_cache(
        self, alice, bob, django_capture_on_commit_callbacks
    ):
        make_alert(alice, "100")

        def page(user):
            return cached_alert_page(user.pk, "", lambda: list(user.alerts.values_list("status", flat=True)))

        assert page(alice) == ["created"]
        assert page(bob) == []
        with django_capture_on_commit_callbacks(execute=True):
            engine.evaluate_windows([window("100")])
        assert page(alice) == ["triggered"]


@pytest.mark.django_db
def test_health_shows_when_the_engine_last_evaluated(anon_client):
    before = anon_client.get("/health").json()["evaluation"]
    assert (before["last_evaluated_at"], before["age_seconds"]) == (None, None)
    engine.evaluate_pending()
    evaluation = anon_client.get("/health").json()["evaluation"]
    checkpoint = EvaluationCheckpoint.objects.get(name="default")
    assert evaluation["last_evaluated_at"] == checkpoint.evaluated_at.isoformat()
    assert 0 <= evaluation["age_seconds"] < 60
