"""Two evaluators racing on PostgreSQL fire each alert exactly once.

Real threads, each with its own database connection, against the committed
database (transactional tests). SQLite has no row locks and lets one writer in
at a time, so it cannot show the race: skipped there.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from alerts import engine
from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds import store
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

pytestmark = [
    # serialized_rollback: the flush afterwards must not re-create content types under new ids,
    # which later serialized-rollback tests (feeds) would then fail to restore.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises writers, so evaluators cannot overlap there",
    ),
]

T0 = 1_790_000_000_000


def waiting_alerts(users, symbols, per_symbol):
    alerts = [
        Alert(
            user=users[i % len(users)],
            symbol=symbol,
            direction="above" if i % 2 else "below",
            target_price=Decimal(100 + i) if i % 2 else Decimal(100 - i),
        )
        for symbol in symbols
        for i in range(1, per_symbol + 1)
    ]
    Alert.objects.bulk_create(alerts)
    Alert.objects.update(created_at=ms_to_datetime(T0 - 60_000), armed_at=ms_to_datetime(T0 - 60_000))
    return len(alerts)


def run_in_threads(*targets):
    """Run each target in its own thread (own connection); re-raise the first error."""
    errors = []

    def wrap(target):
        def run():
            try:
                target()
            except Exception as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "an evaluator hung"
    if errors:
        raise errors[0]


def blocked_on_a_lock(timeout=20.0) -> bool:
    """Wait until some other backend waits on a row lock."""
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction the activity view is a snapshot: refresh it.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


def test_two_evaluators_on_the_same_windows_fire_each_alert_once(make_user):
    users = [make_user(f"user{i}@example.com") for i in range(10)]
    symbols = [f"SYM{i}USDT" for i in range(20)]
    total = waiting_alerts(users, symbols, per_symbol=20)
    windows = [PriceWindow(s, Decimal("1000"), Decimal("1"), Decimal("500"), T0 - 100, T0) for s in symbols]
    first_updated = threading.Event()
    fired = {}

    def first():
        # Triggers everything, then holds its transaction open until the second
        # evaluator is provably waiting on the same rows.
        with transaction.atomic():
            fired["first"] = engine.evaluate_windows(windows)
            first_updated.set()
            assert blocked_on_a_lock(), "the second evaluator never reached the locked rows"

    def second():
        assert first_updated.wait(20)
        fired["second"] = engine.evaluate_windows(windows)

    run_in_threads(first, second)
    assert fired == {"first": total, "second": 0}
    assert Alert.objects.filter(status="triggered").count() == total
    assert Notification.objects.count() == total
    assert Notification.objects.values("alert").distinct().count() == total


def test_evaluators_racing_on_the_stream_fire_each_alert_once(make_user):
    users = [make_user(f"user{i}@example.com") for i in range(10)]
    symbols = [f"SYM{i}USDT" for i in range(50)]
    total = waiting_alerts(users, symbols, per_symbol=20)
    # 15 flushes, each moving every symbol a step further: alerts fire throughout.
    for step in range(15):
        store.write_windows(
            [
                PriceWindow(s, Decimal(100 + step), Decimal(100 - step), Decimal(100), T0 + step, T0 + step)
                for s in symbols
            ]
        )
    start = threading.Barrier(4)
    results = []

    def evaluator():
        start.wait(10)
        while True:
            result = engine.evaluate_pending(batch_entries=2)
            results.append(result)
            if result.entries == 0:
                return

    run_in_threads(*[evaluator] * 4)
    expected = Alert.objects.filter(status="triggered").count()
    # Highs reach 114 and lows 86: 7 of the 10 targets on each side are crossed.
    assert expected == total * 14 // 20
    assert sum(r.fired for r in results) == expected
    assert sum(r.entries for r in results) == 15  # every entry read exactly once
    assert Notification.objects.count() == expected
    assert Notification.objects.values("alert").distinct().count() == expected
    assert (
        EvaluationCheckpoint.objects.get(name="default").stream_id
        == store.read_windows("0", count=100)[-1][0]
    )
