"""Crash day: ten thousand alerts on one symbol, one crossing tick; each fires exactly once, and the
firing statements find each alert by primary key however many share its symbol."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from alerts import engine
from alerts.engine.statements import rearm_query, trigger_query
from alerts.models import Alert, Notification
from feeds import store
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

T0 = 1_790_000_000_000
USERS = 200
ALERTS_PER_USER = 50  # 10,000 alerts: under the default cap of 60 notifications per user and hour
PRICE = Decimal("70000")


def crash_day_alerts() -> list[int]:
    """10,000 waiting alerts on BTCUSDT over 200 users, half above and half below the price,
    targets a cent apart within 50 dollars of it; their ids."""
    users = get_user_model().objects.bulk_create(
        # Confirmed addresses: their emails are sent, not held (issue 16).
        get_user_model()(email=f"trader{i}@example.com", password="!", email_verified_at=timezone.now())
        for i in range(USERS)
    )
    armed = ms_to_datetime(T0 - 60_000)
    alerts = []
    for i in range(USERS * ALERTS_PER_USER):
        above = i % 2 == 0
        offset = Decimal(i // 2) / 100
        alerts.append(
            Alert(
                user=users[i % USERS],
                symbol="BTCUSDT",
                direction="above" if above else "below",
                target_price=PRICE + offset if above else PRICE - offset - Decimal("0.01"),
                armed_at=armed,
            )
        )
    return [alert.pk for alert in Alert.objects.bulk_create(alerts, batch_size=2000)]


def crossing_windows() -> list[PriceWindow]:
    """Two windows: the price jumps 60 dollars up, then falls 60 under where it started."""
    up, down = PRICE + 60, PRICE - 60
    return [
        PriceWindow("BTCUSDT", up, PRICE, up, T0 - 200, T0),
        PriceWindow("BTCUSDT", up, down, down, T0 + 800, T0 + 1000),
    ]


@pytest.mark.django_db
def test_a_tick_fires_ten_thousand_alerts_on_one_symbol_each_exactly_once():
    ids = crash_day_alerts()
    for window in crossing_windows():
        store.write_windows([window])

    result = engine.evaluate_pending()

    assert result.fired == len(ids) == 10_000
    assert Alert.objects.filter(status="triggered", trigger_count=1).count() == len(ids)
    notified = list(Notification.objects.values_list("alert_id", flat=True))
    assert sorted(notified) == sorted(ids)  # one notification each, none twice
    assert set(Notification.objects.values_list("status", flat=True)) == {"pending"}
    # The same windows again (a crashed tick re-read, a second evaluator): nothing more.
    assert engine.evaluate_windows(crossing_windows()) == 0
    assert Notification.objects.count() == len(ids)


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL plan")
@pytest.mark.django_db
@pytest.mark.parametrize("query", [trigger_query, rearm_query], ids=["trigger", "rearm"])
@pytest.mark.parametrize("direction", ["above", "below"])
def test_the_firing_statements_join_their_hits_back_by_primary_key_alone(query, direction):
    """The planner estimates the ``hit`` rows at one; given the chance, it joined them back through
    alert_watch_idx (a range scan of the whole symbol per alert) or with ``id = ANY(...)`` (the id
    list sorted again per alert): quadratic in alerts per symbol. Whatever the statistics, the
    only way back to an alert is its primary key."""
    crash_day_alerts()
    windows = {"BTCUSDT": crossing_windows()}
    for statistics in ("none", "analyzed"):
        if statistics == "analyzed":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Alert._meta.db_table}")
        sql, params = query(direction, windows)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            (plan,) = cursor.fetchone()[0]
        join_back = [
            node
            for node in _plan_nodes(plan["Plan"])
            if "Scan" in node["Node Type"]
            and node.get("Relation Name") == Alert._meta.db_table
            and node.get("Alias") != "a"  # the index ranges that collect the hits
        ]
        assert join_back, plan
        for node in join_back:
            assert (node["Node Type"], node.get("Index Name"), node.get("Index Cond")) == (
                "Index Scan",
                "alerts_alert_pkey",
                "(id = hit.id)",
            ), (statistics, node)
