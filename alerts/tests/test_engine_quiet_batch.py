"""A quiet batch is one statement on PostgreSQL; anything else, or a checkpoint moved meanwhile, runs locked.

``alerts.engine.tick._quiet_batch`` reads the stream from the checkpoint this
process last committed and moves it, compare-and-set, in the probes' own
statement when they find nothing to do. These tests pin the three ways out of
it: quiet (one statement), work (the locked transaction fires it, once), and a
checkpoint that is not where this process left it (never moved over).
"""

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection

from alerts import engine
from alerts.engine import tick, windows
from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds import aggregates, history, store
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs every batch locked"),
]

T0 = 1_790_000_000_000


def window(price: str, at_ms: int, symbol: str = "BTCUSDT") -> PriceWindow:
    return PriceWindow(symbol, Decimal(price), Decimal(price), Decimal(price), at_ms - 100, at_ms)


def checkpoint() -> str:
    return EvaluationCheckpoint.objects.get(name=EvaluationCheckpoint.DEFAULT).stream_id


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL of every statement run meanwhile on the default connection, in order."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


@pytest.fixture
def waiting(alice):
    """An alert above 70,000 armed before every window here, and a first tick done (this process knows
    the checkpoint it committed)."""
    alert = Alert.objects.create(
        user=alice, symbol="BTCUSDT", direction="above", target_price=Decimal("70000")
    )
    Alert.objects.filter(pk=alert.pk).update(armed_at=ms_to_datetime(T0 - 60_000))
    store.write_windows([window("60000", T0)])
    assert engine.evaluate_pending().fired == 0
    assert tick._last_committed[EvaluationCheckpoint.DEFAULT] == checkpoint()
    return alert


class TestQuietBatch:
    def test_a_batch_that_crosses_nothing_is_one_statement_that_moves_the_checkpoint(self, waiting):
        quiet = (("65000", T0 + 1000), ("69999", T0 + 2000))  # under the target
        ids = [store.write_windows([window(price, at_ms)]) for price, at_ms in quiet]
        with statements() as queries:
            result = engine.evaluate_pending()
        assert (result.entries, result.fired, result.batches) == (2, 0, 1)
        assert [sql.split()[0] for sql in queries] == ["WITH"]
        assert checkpoint() == ids[-1] == result.stream_id

    def test_a_batch_with_a_crossing_runs_locked_and_fires_once(self, waiting):
        last = store.write_windows([window("70000", T0 + 1000)])
        with statements() as queries:
            result = engine.evaluate_pending()
        assert (result.entries, result.fired) == (1, 1)
        assert any("RETURNING stream_id" in sql for sql in queries)  # the lock
        # The probes were asked once, before the lock: their answer stood (the checkpoint had not moved).
        assert sum(sql.split()[:2] == ["WITH", "moved(symbol,"] for sql in queries) == 1
        assert checkpoint() == last
        waiting.refresh_from_db()
        assert waiting.status == Alert.Status.TRIGGERED
        assert Notification.objects.filter(alert=waiting).count() == 1
        # Read again from an older guess: nothing fires twice.
        tick._last_committed[EvaluationCheckpoint.DEFAULT] = "0"
        assert engine.evaluate_pending().fired == 0
        assert Notification.objects.filter(alert=waiting).count() == 1

    def test_an_expiry_within_the_batch_runs_locked(self, waiting):
        Alert.objects.filter(pk=waiting.pk).update(expires_at=ms_to_datetime(T0 + 500))
        store.write_windows([window("60000", T0 + 1000)])
        assert engine.evaluate_pending().fired == 0
        waiting.refresh_from_db()
        assert waiting.status == Alert.Status.EXPIRED

    def test_a_checkpoint_moved_by_another_evaluator_is_not_moved_over(self, waiting):
        """This process's guess is stale (another process read on): its read is thrown away, not its
        checkpoint's."""
        guessed = checkpoint()
        skipped = [store.write_windows([window("60000", T0 + 1000 * n)]) for n in (1, 2)]
        # Another process evaluated these two and moved on.
        EvaluationCheckpoint.objects.filter(name=EvaluationCheckpoint.DEFAULT).update(stream_id=skipped[-1])
        assert tick._last_committed[EvaluationCheckpoint.DEFAULT] == guessed
        last = store.write_windows([window("60000", T0 + 3000)])
        result = engine.evaluate_pending()
        assert (result.entries, result.fired) == (1, 0)  # only the entry after the real checkpoint
        assert checkpoint() == last == tick._last_committed[EvaluationCheckpoint.DEFAULT]


# --- window alerts: the quiet statement compares them with the window pass's bound ----------------

SECOND = 1000


def now_second() -> int:
    ms = int(time.time() * 1000)
    return ms - ms % SECOND


def trade(symbol: str, price: str, at_ms: int) -> str:
    """As the feeder writes a trade: into the history, and as a window into the stream."""
    history.record_trades(symbol, [(Decimal(price), Decimal(1), at_ms)])
    return store.write_windows(
        [PriceWindow(symbol, Decimal(price), Decimal(price), Decimal(price), at_ms, at_ms)]
    )


def move_alert(user, percent: str, window_seconds: int, armed_ms: int, symbol: str = "WINUSDT") -> Alert:
    return Alert.objects.create(
        user=user,
        symbol=symbol,
        direction="above",
        target_price=None,
        kind=Alert.Kind.MOVE,
        window_seconds=window_seconds,
        move_percent=Decimal(percent),
        move_direction="up",
        armed_at=ms_to_datetime(armed_ms),
    )


@pytest.fixture
def hour_move(alice):
    """A "5 % up within 1h" alert armed a minute ago, history at 100, a first (locked) tick done: this
    process knows its checkpoint and the pairs with window alerts."""
    windows._hint.clear()
    windows._hint_read_at = None
    start = now_second() - 60 * SECOND
    alert = move_alert(alice, "5", 3600, start)
    trade("WINUSDT", "100", start + SECOND)
    assert engine.evaluate_pending().fired == 0
    return alert


class TestQuietWindowBatch:
    def test_window_alerts_out_of_reach_leave_a_batch_one_statement(self, hour_move):
        at = now_second()
        last = trade("WINUSDT", "104.99", at)  # 4.99 % over the hour's low: under the threshold
        with statements() as queries:
            result = engine.evaluate_pending()
        assert (result.entries, result.fired) == (1, 0)
        assert [sql.split()[0] for sql in queries] == ["WITH"]
        assert checkpoint() == last
        # The window pass's mark moved as the locked way moves it: this batch's newest second.
        assert store.redis_client().hget(windows.LAST_JUDGED_KEY, "WINUSDT") == str(at)

    def test_a_window_alert_reached_runs_locked_and_fires_once(self, hour_move):
        trade("WINUSDT", "105", now_second())
        with statements() as queries:
            assert engine.evaluate_pending().fired == 1
        assert any("RETURNING stream_id" in sql for sql in queries)  # the lock
        assert Notification.objects.filter(alert=hour_move).count() == 1
        assert engine.evaluate_pending().fired == 0

    def test_a_window_alert_on_a_pair_the_process_has_not_learnt_is_never_skipped(self, alice, hour_move):
        fresh = move_alert(alice, "1", 300, now_second() - 30 * SECOND)  # a new pair: (WINUSDT, 5m)
        assert ("WINUSDT", 300) not in windows.hinted_pairs(["WINUSDT"])
        trade("WINUSDT", "101.5", now_second())  # 1.5 %: reaches the new alert, not the hour's 5 %
        assert engine.evaluate_pending().fired == 1
        assert Notification.objects.filter(alert=fresh).count() == 1
        assert ("WINUSDT", 300) in windows.hinted_pairs(["WINUSDT"])  # learnt from the locked probe


@pytest.mark.parametrize("seed", range(4))
def test_a_float_reach_is_never_under_the_exact_bound(seed):
    """``windows.reach_rows`` (floats, for the database) against the exact bound of ``needing_exact``
    (decimals), on random histories and batches: a threshold the exact bound reaches is always one the
    float reach reaches, so the quiet statement never skips a pair the window pass would judge."""
    rng = random.Random(seed)
    symbol = f"REACH{seed}USDT"
    end = now_second()
    trades = [
        (Decimal(rng.randint(1, 10**7)) / 10 ** rng.randint(0, 8), Decimal(rng.randint(1, 10**6)) / 10**3,
         end - rng.randint(0, 23 * 3600 * SECOND))
        for _ in range(400)
    ]  # fmt: skip
    history.record_trades(symbol, [t for t in trades if t[2] <= end])
    for _ in range(20):
        first = end - rng.randint(0, 600) * SECOND
        seconds = {symbol: sorted({first, *(first + rng.randint(0, 5) * SECOND for _ in range(3))})}
        prepared = windows.Prepared(frozenset([symbol]), seconds, aggregates.read_heads(seconds))
        pairs = [(symbol, w) for w in (60, 300, 900, 3600, 14400, 86400)]
        for (_, window_seconds), row in zip(pairs, windows.reach_rows(pairs, prepared), strict=True):
            touched = seconds[symbol]
            own = history.combine(prepared.heads.bucket(symbol, ms) for ms in touched)
            if own is None:
                assert row[2:5] == (windows.NOTHING,) * 3
                continue
            resolution, oldest = windows.bound_span(window_seconds, touched[0])
            chunks = prepared.heads.aggregates[(resolution, symbol)]
            around = history.combine([chunks.since(oldest), own])
            assert Decimal(repr(row[2])) >= windows.percent_above(own.high, around.low)
            assert Decimal(repr(row[3])) >= windows.percent_below(around.high, own.low)
            assert Decimal(repr(row[4])) >= around.quote_volume
            assert row[5] == touched[-1]
