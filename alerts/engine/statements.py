"""The engine's SQL: the crossing probes, the trigger UPDATE and the re-arm UPDATE.

Each builder returns ``(sql, params)`` for the default connection; the parts
that differ between PostgreSQL and SQLite come from ``alerts.dialect``. All of
them are served by one partial index, alert_watch_idx (``symbol,
watch_direction, watch_price, status, rearm_after_ms`` over the active alerts):
a waiting alert watches its target in its direction, a fired repeating alert
its re-arm price the other way.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from alerts.dialect import RungTables, RungUpdate, dialect
from alerts.engine.rungs import Extremes, Rung, rearm_rungs, trigger_rungs
from alerts.models import Alert
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

ALERT_TABLE = Alert._meta.db_table
# The index's condition, repeated literally in every statement: SQLite uses a
# partial index only for a query that states its condition.
ACTIVE = "(" + ", ".join(f"'{status}'" for status in Alert.ACTIVE_STATUSES) + ")"
# A rung's range of arming times when it has no bound on that side.
BEGINNING_OF_TIME = datetime(1, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


def _probe(watch: str, compare: str, price: str) -> str:
    """One index probe on alert_watch_idx: does any alert of the moved symbol watch a price reached?"""
    return f"""EXISTS (SELECT 1 FROM {ALERT_TABLE} a
            WHERE a.status IN {ACTIVE} AND a.symbol = moved.symbol
              AND a.watch_direction = '{watch}' AND a.watch_price {compare} moved.{price}
              AND (a.status = 'created' OR a.rearm_after_ms < moved.last_ms))"""


def crossing_query(extremes: dict[str, Extremes]) -> tuple[str, list]:
    """SQL: for each moved symbol (high, low, last event ms), is there work on either side?

    Two probes per moved symbol on alert_watch_idx: does any alert watch a price
    at or under the high ("above"), or at or over the low ("below")? A waiting
    alert watches its target; a fired repeating alert, once its cooldown is over
    (the probe reads the end of cooldown from the index), its re-arm price the
    other way. Each probe stops at its first index entry and never reads the
    table. A hit is a superset of the work (a re-arm needs the price strictly
    past, and the UPDATEs then compare exactly), never a subset. The last column,
    on the first symbol's row only (a timestamp costs the client more to read
    than the probes cost), is the earliest expiry of any active alert (the first
    entry of alert_expiring_idx), so a batch learns whether an expiry falls
    within its windows without another round trip.
    """
    moved, params = dialect().rows(
        ("text", "numeric", "numeric", "bigint"),
        (
            list(extremes),
            [high for high, _, _ in extremes.values()],
            [low for _, low, _ in extremes.values()],
            [last_ms for _, _, last_ms in extremes.values()],
        ),
    )
    sql = f"""
        WITH moved(symbol, high, low, last_ms) AS ({moved})
        SELECT moved.symbol, {_probe("above", "<=", "high")}, {_probe("below", ">=", "low")},
            CASE WHEN moved.symbol = %s THEN (SELECT MIN(a.expires_at) FROM {ALERT_TABLE} a
                WHERE a.status IN {ACTIVE} AND a.expires_at IS NOT NULL) END
        FROM moved
    """
    return sql, [*params, next(iter(extremes))]


def _bound(ms: int | None, unbounded: datetime) -> datetime:
    return unbounded if ms is None else ms_to_datetime(ms)


def rung_tables(rungs: Sequence[Rung], points: Sequence[tuple[int, Decimal]]) -> RungTables:
    """The rungs and the windows they search, as the database takes them (``alerts.dialect``)."""
    windows = (
        [ms for ms, _ in points],
        [ms_to_datetime(ms) for ms, _ in points],
        [price for _, price in points],
    )
    columns = (
        [r.symbol for r in rungs],
        [_bound(r.since_ms, BEGINNING_OF_TIME) for r in rungs],
        [_bound(r.before_ms, END_OF_TIME) for r in rungs],
        [r.price for r in rungs],
        [r.first for r in rungs],
        [r.last for r in rungs],
    )
    return dialect().rung_tables(windows, columns)


def _watching(row: str, rung: str, status: str, compare: str) -> str:
    """SQL: alert ``row`` has ``status`` and watches, on its rung's symbol, a price the rung reached.

    One index range of alert_watch_idx; the watched direction is the statement's
    parameter. The status IN (...) term repeats the index's condition, as SQLite
    needs to use it.
    """
    return (
        f"{row}.status IN {ACTIVE} AND {row}.status = '{status}'"
        f" AND {row}.symbol = {rung}.symbol AND {row}.watch_direction = %s"
        f" AND {row}.watch_price {compare} {rung}.price"
    )


def trigger_query(direction: str, by_symbol: dict[str, Sequence[PriceWindow]]) -> tuple[str, list]:
    """SQL: trigger the waiting alerts of these symbols, in one direction, that their windows crossed.

    Only windows whose last event is after an alert was armed count for it. Each
    waiting alert joins the one rung (see ``trigger_rungs``) its arming time
    falls in, through the index range ``symbol, direction, target`` up to that
    rung's price (alert_watch_idx): one statement for all crossed symbols, the
    same index work as one per symbol.

    A one-shot alert reports the rung's price and time. A repeating alert reports
    the first window after its arming that reached the target and starts its
    cooldown there, so each firing reports its own crossing however the windows
    are batched; it alone reads the symbol's windows. Right-hand sides of SET
    read the row as it was before this UPDATE; ``hit`` names the alert's rung.
    """
    above = direction == Alert.Direction.ABOVE
    compare = "<=" if above else ">="
    tables = rung_tables(*trigger_rungs(by_symbol, above=above))
    alert = ALERT_TABLE

    def first(column: str) -> str:
        return tables.first(column, f"w.at > {alert}.armed_at AND {alert}.target_price {compare} w.p")

    def found(row: str, rung: str) -> str:
        return (
            _watching(row, rung, Alert.Status.CREATED, compare)
            + f" AND {row}.armed_at >= {rung}.since AND {row}.armed_at < {rung}.before"
        )

    every = f"{alert}.repeat = 'every'"
    set_clause = f"""
        status = CASE WHEN {every} THEN 'rearming' ELSE 'triggered' END,
        trigger_count = {alert}.trigger_count + 1,
        triggered_price = CASE WHEN {every} THEN {first("p")} ELSE hit.price END,
        triggered_at = CASE WHEN {every} THEN {first("at")} ELSE hit.before END,
        last_triggered_at = CASE WHEN {every} THEN {first("at")} ELSE hit.before END,
        rearm_after_ms = CASE WHEN {every} THEN {first("t")} + {alert}.cooldown_seconds * 1000 END
    """
    return dialect().rung_update(
        RungUpdate(
            alert,
            tables,
            found,
            found_param=direction,
            set_clause=set_clause,
            returning=f"{alert}.id, {alert}.user_id, {alert}.symbol, {alert}.rearm_after_ms",
        )
    )


def rearm_query(direction: str, by_symbol: dict[str, Sequence[PriceWindow]]) -> tuple[str, list]:
    """SQL: re-arm the fired repeating alerts of these symbols, in one direction, that the windows allow.

    An "above" alert re-arms on the first window after its cooldown whose low
    is strictly under its re-arm price (a "below" alert: whose high is strictly
    over it), and is armed from that window's last event: it fires again only on
    prices seen after the one that re-armed it. The index range is ``symbol``,
    the other direction, re-arm price past the furthest price of the windows
    (alert_watch_idx); each candidate then looks for its window after its cooldown.
    """
    above = direction == Alert.Direction.ABOVE
    compare = ">" if above else "<"
    watch = Alert.Direction.BELOW if above else Alert.Direction.ABOVE
    tables = rung_tables(*rearm_rungs(by_symbol, above=above))
    alert = ALERT_TABLE

    def first(column: str) -> str:
        return tables.first(column, f"w.t > {alert}.rearm_after_ms AND {alert}.rearm_price {compare} w.p")

    def found(row: str, rung: str) -> str:
        return _watching(row, rung, Alert.Status.REARMING, compare)

    return dialect().rung_update(
        RungUpdate(
            alert,
            tables,
            found,
            found_param=watch,
            set_clause=f"status = 'created', rearm_after_ms = NULL, armed_at = {first('at')}",
            extra_where=f"AND {first('t')} IS NOT NULL",
            returning=f"{alert}.id, {alert}.user_id, {alert}.symbol",
        )
    )
