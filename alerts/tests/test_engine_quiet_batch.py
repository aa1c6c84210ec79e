"""A quiet batch is one statement on PostgreSQL; anything else, or a checkpoint moved meanwhile, runs locked.

``alerts.engine.tick._quiet_batch`` reads the stream from the checkpoint this
process last committed and moves it, compare-and-set, in the probes' own
statement when they find nothing to do. These tests pin the three ways out of
it: quiet (one statement), work (the locked transaction fires it, once), and a
checkpoint that is not where this process left it (never moved over).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection

from alerts import engine
from alerts.engine import tick
from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds import store
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
