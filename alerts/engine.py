"""The alert engine: turn price windows from the stream into triggered alerts, exactly once.

A tick reads the feeder's windows after the checkpoint, asks the database which
moved symbols have an alert whose watched price the windows reached (one
statement of two index probes per symbol: the no-fire tick costs almost
nothing), and only for those runs a conditional
``UPDATE ... WHERE status = 'created' ... RETURNING``, one per direction for all
such symbols.
Notification rows and the new checkpoint are written in the same transaction,
and the sends are enqueued once it commits.

Why this is exactly once:
- the status change is conditional, so a row already triggered (or deleted) by
  anyone else is never changed again, whatever races or retries happen;
- the checkpoint moves in the transaction that fires, so a crash before the
  commit re-reads the same windows (and fires what it had not), a crash after
  it does not re-read them;
- the checkpoint row is locked first, so two evaluators queue up instead of
  reading the same windows (on SQLite the write lock does the same).

An alert fires only on prices seen after it was armed (``armed_at``: its
creation, a change of target or direction, a re-arm): a window counts for an
alert only if the window's last event is later. The windows of a batch are not
merged blindly across stream entries (a merged high could come from before an
alert that was armed mid-batch): each trigger statement carries each symbol's
windows as a staircase of (last event, high) pairs, so every alert is judged on
exactly the windows that came after it.

Repeating alerts (issue 7) go from ``created`` to ``rearming`` when they fire;
a second set-based UPDATE puts them back to ``created`` once a window after
their cooldown passed the re-arm price (the hysteresis band). One partial index
serves both: a waiting alert watches its target in its direction, a fired one
its re-arm price the other way (the generated columns ``watch_direction`` and
``watch_price``). Re-arming and firing alternate within a batch until nothing
moves, so the result does not depend on how windows are split into ticks.
Expiry is exact in event time too: a batch is cut at every expiry inside its
span, and alerts expire between the pieces (``evaluate_with_expiry``).
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from alerts.cache import invalidate_alert_lists
from alerts.models import Alert, Channel, EvaluationCheckpoint, Notification
from feeds import store
from feeds.windows import PriceWindow

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = "default"
# Stream entries read per transaction: a tick is ~5 entries; a catch-up after
# downtime commits every batch, so a crash loses at most one batch of work.
BATCH_ENTRIES = 1000

# Alert ids per notification INSERT on SQLite: well under its bound-parameter
# limit. PostgreSQL takes them all as one array parameter.
NOTIFICATION_CHUNK = 5000

ALERT_TABLE = Alert._meta.db_table
CHECKPOINT_TABLE = EvaluationCheckpoint._meta.db_table
NOTIFICATION_TABLE = Notification._meta.db_table
USER_TABLE = get_user_model()._meta.db_table
CHANNEL_TABLE = Channel._meta.db_table
ALERT_CHANNELS_TABLE = Alert.channels.through._meta.db_table
# Alerts the engine still works on: waiting to fire, or fired and waiting to re-arm.
ACTIVE_STATUSES = (Alert.Status.CREATED, Alert.Status.REARMING)
# With nothing in the stream, alerts expire by the wall clock less this much: a
# trade made just before an expiry may still be on its way through the feeder.
EXPIRY_GRACE = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one evaluation tick did."""

    entries: int  # stream entries read
    fired: int  # alerts triggered
    batches: int  # transactions committed
    stream_id: str  # the checkpoint after the tick


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a crossing staircase: alerts armed before ``before_ms`` saw ``price``."""

    before_ms: int
    price: Decimal


def staircase(windows: Sequence[PriceWindow], direction: str) -> list[Step]:
    """The windows that matter for one direction, oldest first.

    For an alert created at T the windows it saw are those whose last event is
    after T: a suffix of the windows in event order. The best price in a suffix
    (highest for ``above``, lowest for ``below``) is always a window that beats
    every later window, so keeping only those ("records from the right") loses
    nothing, and the prices on the kept steps strictly worsen with time. The
    first step an alert is older than gives the best price it saw.
    """
    ordered = sorted(windows, key=lambda w: w.last_event_ms)
    steps: list[Step] = []
    best: Decimal | None = None
    for window in reversed(ordered):
        price = window.high if direction == Alert.Direction.ABOVE else window.low
        if best is None or (price > best if direction == Alert.Direction.ABOVE else price < best):
            best = price
            steps.append(Step(window.last_event_ms, price))
    steps.reverse()
    return steps


def _db_datetime(ms: int):
    return connection.ops.adapt_datetimefield_value(store.ms_to_datetime(ms))


def _db_decimal(value: Decimal):
    return connection.ops.adapt_decimalfield_value(value)


def _number_array(values: Iterable[Decimal | int]) -> str:
    """A PostgreSQL array literal of numbers, for a ``%s::numeric[]`` or ``%s::bigint[]`` parameter.

    Exact (a Decimal's own digits) and several times cheaper than adapting each
    element: a tick binds hundreds of them.
    """
    return "{" + ",".join(map(str, values)) + "}"


def _probe(watch: str, compare: str, price: str) -> str:
    """One index probe on alert_watch_idx: does any alert of the moved symbol watch a price reached?"""
    return f"""EXISTS (SELECT 1 FROM {ALERT_TABLE} a
            WHERE a.status IN ('created', 'rearming') AND a.symbol = moved.symbol
              AND a.watch_direction = '{watch}' AND a.watch_price {compare} moved.{price}
              AND (a.status = 'created' OR a.rearm_after_ms < moved.last_ms))"""


def crossing_query(extremes: dict[str, tuple[Decimal, Decimal, int]]) -> tuple[str, list]:
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
    if connection.vendor == "postgresql":
        # Four array parameters instead of four per symbol: building and
        # sending the statement stays cheap however many symbols moved.
        moved = "SELECT * FROM unnest(%s::text[], %s::numeric[], %s::numeric[], %s::bigint[])"
        params: list = [
            list(extremes),
            _number_array(high for high, _, _ in extremes.values()),
            _number_array(low for _, low, _ in extremes.values()),
            _number_array(last_ms for _, _, last_ms in extremes.values()),
        ]
    else:
        moved = "VALUES " + ", ".join(
            ["(%s, CAST(%s AS NUMERIC), CAST(%s AS NUMERIC), CAST(%s AS INTEGER))"] * len(extremes)
        )
        params = []
        for symbol, (high, low, last_ms) in extremes.items():
            params += [symbol, _db_decimal(high), _db_decimal(low), last_ms]
    sql = f"""
        WITH moved(symbol, high, low, last_ms) AS ({moved})
        SELECT moved.symbol, {_probe("above", "<=", "high")}, {_probe("below", ">=", "low")},
            CASE WHEN moved.symbol = %s THEN (SELECT MIN(a.expires_at) FROM {ALERT_TABLE} a
                WHERE a.status IN ('created', 'rearming') AND a.expires_at IS NOT NULL) END
        FROM moved
    """
    return sql, [*params, next(iter(extremes))]


@dataclass(frozen=True, slots=True)
class Reach:
    """What the probes found for one set of windows."""

    by_symbol: dict[str, list[PriceWindow]]
    extremes: dict[str, tuple[Decimal, Decimal, int]]
    # (symbol, direction) whose waiting alerts may have been crossed: a watch hit
    crossed: list[tuple[str, str]]
    first_expiry: datetime | None  # the earliest expiry of any active alert

    @property
    def rearm(self) -> list[tuple[str, str]]:
        """(symbol, direction) whose fired repeating alerts may re-arm: each watch hit
        also stands for a re-arm price passed by alerts of the other direction."""
        other = {Alert.Direction.ABOVE: Alert.Direction.BELOW, Alert.Direction.BELOW: Alert.Direction.ABOVE}
        return [(symbol, other[direction]) for symbol, direction in self.crossed]


def _reached(by_symbol: dict[str, list[PriceWindow]]) -> Reach:
    extremes = _extremes(by_symbol)
    with connection.cursor() as cursor:
        cursor.execute(*crossing_query(extremes))
        rows = cursor.fetchall()
    crossed = []
    first_expiry = None
    for symbol, watched_above, watched_below, expiry in rows:
        first_expiry = first_expiry or expiry
        if watched_above:
            crossed.append((symbol, Alert.Direction.ABOVE))
        if watched_below:
            crossed.append((symbol, Alert.Direction.BELOW))
    if isinstance(first_expiry, str):  # SQLite returns the raw column for a computed value
        first_expiry = connection.ops.convert_datetimefield_value(first_expiry, None, connection)
    return Reach(by_symbol, extremes, crossed, first_expiry)


def _extremes(by_symbol: dict[str, list[PriceWindow]]) -> dict[str, tuple[Decimal, Decimal, int]]:
    return {
        symbol: (max(w.high for w in ws), min(w.low for w in ws), max(w.last_event_ms for w in ws))
        for symbol, ws in by_symbol.items()
    }


def _by_symbol(windows: Iterable[PriceWindow]) -> dict[str, list[PriceWindow]]:
    by_symbol: dict[str, list[PriceWindow]] = defaultdict(list)
    for window in windows:
        by_symbol[window.symbol].append(window)
    return by_symbol


# A rung's range of arming times when it has no bound on that side.
BEGINNING_OF_TIME = datetime(1, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rung:
    """Work for alerts of ``symbol`` armed in ``[since_ms, before_ms)`` (None: unbounded), up to ``price``.

    ``first`` and ``last`` delimit the symbol's windows (1-based, inclusive) in
    the statement's window list, for the alerts that look for their own window.
    """

    symbol: str
    since_ms: int | None
    before_ms: int | None
    price: Decimal
    first: int
    last: int


def _window_points(by_symbol: dict[str, Sequence[PriceWindow]], price):
    """The windows as one list of (last event ms, price), symbol by symbol in event order.

    Returns the list and, per symbol, (symbol, its windows in order, first index, last index).
    """
    points: list[tuple[int, Decimal]] = []
    spans = []
    for symbol, windows in by_symbol.items():
        ordered = sorted(windows, key=lambda w: w.last_event_ms)
        first = len(points) + 1
        points += [(w.last_event_ms, price(w)) for w in ordered]
        spans.append((symbol, ordered, first, len(points)))
    return points, spans


def trigger_rungs(direction: str, by_symbol: dict[str, Sequence[PriceWindow]]):
    """(rungs, window points) for a trigger: each symbol's staircase (see ``staircase``) as rungs.

    An alert armed between a step and the one before it saw exactly the windows
    from that step on, and the step's price is the best of them.
    """
    above = direction == Alert.Direction.ABOVE
    points, spans = _window_points(by_symbol, lambda w: w.high if above else w.low)
    rungs: list[Rung] = []
    for symbol, ordered, first, last in spans:
        since = None
        for step in staircase(ordered, direction):
            rungs.append(Rung(symbol, since, step.before_ms, step.price, first, last))
            since = step.before_ms
    return rungs, points


def rearm_rungs(direction: str, by_symbol: dict[str, Sequence[PriceWindow]]):
    """(rungs, window points) for a re-arm: one rung per symbol, at the price furthest back.

    Fired "above" alerts re-arm on a low under their re-arm price, "below" ones
    on a high over it.
    """
    above = direction == Alert.Direction.ABOVE
    points, spans = _window_points(by_symbol, lambda w: w.low if above else w.high)
    rungs = []
    for symbol, _, first, last in spans:
        prices = [price for _, price in points[first - 1 : last]]
        rungs.append(Rung(symbol, None, None, min(prices) if above else max(prices), first, last))
    return rungs, points


@dataclass(frozen=True, slots=True)
class RungTables:
    """The SQL pieces shared by the trigger and re-arm UPDATEs."""

    ctes: str  # ``rung`` (and the windows) as CTEs
    params: list
    windows: str  # FROM item of the windows of the ``hit`` row's symbol: ``w(t, at, p, n)``
    in_rung: str  # the condition that keeps them to that symbol
    # PostgreSQL only (None on SQLite): FROM items joining each rung to its alerts
    # (placeholders {alert} and {found}), and the condition on {alert}.id that it is one of them.
    hits: str | None = None
    fired_ids: str | None = None

    def first(self, column: str, condition: str) -> str:
        """SQL: ``column`` of the earliest window of the alert's symbol that meets ``condition``."""
        return (
            f"(SELECT w.{column} FROM {self.windows} WHERE {self.in_rung} AND {condition}"
            " ORDER BY w.n LIMIT 1)"
        )


def rung_tables(rungs: Sequence[Rung], points: Sequence[tuple[int, Decimal]]) -> RungTables:
    """PostgreSQL: every array once as a parameter, sliced per rung; SQLite: VALUES lists."""
    adapt = connection.ops.adapt_datetimefield_value
    since = [_db_datetime(r.since_ms) if r.since_ms is not None else adapt(BEGINNING_OF_TIME) for r in rungs]
    before = [_db_datetime(r.before_ms) if r.before_ms is not None else adapt(END_OF_TIME) for r in rungs]
    if connection.vendor == "postgresql":
        ctes = """
            w AS (SELECT %s::bigint[] AS t, %s::timestamptz[] AS at, %s::numeric[] AS p),
            rung AS (
                SELECT r.symbol, r.since, r.before, r.price,
                       w.t[r.first:r.last] AS ts, w.at[r.first:r.last] AS ats, w.p[r.first:r.last] AS ps
                FROM w, unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::numeric[],
                               %s::int[], %s::int[]) r(symbol, since, before, price, first, last))
        """
        params: list = [
            _number_array(ms for ms, _ in points),
            [store.ms_to_datetime(ms) for ms, _ in points],
            _number_array(price for _, price in points),
            [r.symbol for r in rungs],
            since,
            before,
            _number_array(r.price for r in rungs),
            _number_array(r.first for r in rungs),
            _number_array(r.last for r in rungs),
        ]
        # LATERAL with OFFSET 0 (kept as a subquery, not flattened into a join): one index
        # range per rung. As a join the planner, who cannot know how far each rung's price
        # reaches, may scan the whole table instead. ANY(ARRAY(...)): the rows are then
        # fetched by primary key.
        return RungTables(
            ctes,
            params,
            windows="unnest(hit.ts, hit.ats, hit.ps) WITH ORDINALITY w(t, at, p, n)",
            in_rung="true",
            hits="rung CROSS JOIN LATERAL (SELECT a.id FROM {alert} a WHERE {found} OFFSET 0) a",
            fired_ids="{alert}.id = ANY(ARRAY(SELECT id FROM hit))",
        )
    window_rows = ", ".join(["(%s, CAST(%s AS INTEGER), %s, CAST(%s AS NUMERIC))"] * len(points))
    rung_rows = ", ".join(["(%s, %s, %s, CAST(%s AS NUMERIC), %s, %s)"] * len(rungs))
    params = []
    for n, (ms, price) in enumerate(points, start=1):
        params += [n, ms, _db_datetime(ms), _db_decimal(price)]
    for rung, rung_since, rung_before in zip(rungs, since, before, strict=True):
        params += [rung.symbol, rung_since, rung_before, _db_decimal(rung.price), rung.first, rung.last]
    return RungTables(
        f"""
            w(n, t, at, p) AS (VALUES {window_rows}),
            rung(symbol, since, before, price, first, last) AS (VALUES {rung_rows})
        """,
        params,
        windows="w",
        in_rung="w.n BETWEEN hit.first AND hit.last",
    )


def _rung_update(
    tables: RungTables, found, found_param: str, set_clause: str, extra_where: str, returning: str
) -> tuple[str, list]:
    """UPDATE the alerts ``found`` joins to a rung. ``found(row, rung)``: the index condition.

    PostgreSQL first collects the alerts rung by rung, then updates them by id;
    it repeats the conditions, so a row changed since the statement's snapshot (a
    concurrent edit) is judged again as it is now. SQLite (one writer, one symbol
    at a time) joins the rungs directly. Right-hand sides of SET read the row as
    it was before this UPDATE (SQL semantics on both databases); ``hit`` names the
    alert's rung.
    """
    alert = ALERT_TABLE
    if tables.hits is None:
        sql = f"""
            WITH {tables.ctes}
            UPDATE {alert}
            SET {set_clause}
            FROM rung AS hit
            WHERE {found(alert, "hit")} {extra_where}
            RETURNING {returning}
        """
        return sql, [*tables.params, found_param]
    hits = tables.hits.format(alert=alert, found=found("a", "rung"))
    sql = f"""
        WITH {tables.ctes},
        hit AS MATERIALIZED (SELECT a.id, rung.* FROM {hits})
        UPDATE {alert}
        SET {set_clause}
        FROM hit
        WHERE {tables.fired_ids.format(alert=alert)} AND {alert}.id = hit.id AND {found(alert, "hit")}
          {extra_where}
        RETURNING {returning}
    """
    return sql, [*tables.params, found_param, found_param]


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
    are batched; it alone reads the symbol's windows.
    """
    compare = "<=" if direction == Alert.Direction.ABOVE else ">="
    tables = rung_tables(*trigger_rungs(direction, by_symbol))
    alert = ALERT_TABLE

    def first(column: str) -> str:
        return tables.first(column, f"w.at > {alert}.armed_at AND {alert}.target_price {compare} w.p")

    def found(row: str, rung: str) -> str:
        # The status IN (...) term repeats the index's condition, as SQLite needs to use it.
        return (
            f"{row}.status IN ('created', 'rearming') AND {row}.status = 'created'"
            f" AND {row}.symbol = {rung}.symbol AND {row}.watch_direction = %s"
            f" AND {row}.watch_price {compare} {rung}.price"
            f" AND {row}.armed_at >= {rung}.since AND {row}.armed_at < {rung}.before"
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
    returning = f"{alert}.id, {alert}.user_id, {alert}.symbol, {alert}.rearm_after_ms"
    return _rung_update(tables, found, direction, set_clause, "", returning)


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
    tables = rung_tables(*rearm_rungs(direction, by_symbol))
    alert = ALERT_TABLE

    def first(column: str) -> str:
        return tables.first(column, f"w.t > {alert}.rearm_after_ms AND {alert}.rearm_price {compare} w.p")

    def found(row: str, rung: str) -> str:
        return (
            f"{row}.status IN ('created', 'rearming') AND {row}.status = 'rearming'"
            f" AND {row}.symbol = {rung}.symbol AND {row}.watch_direction = %s"
            f" AND {row}.watch_price {compare} {rung}.price"
        )

    return _rung_update(
        tables,
        found,
        watch,
        f"status = 'created', rearm_after_ms = NULL, armed_at = {first('at')}",
        f"AND {first('t')} IS NOT NULL",
        f"{alert}.id, {alert}.user_id, {alert}.symbol",
    )


# Windows per re-arm statement on SQLite (four bound parameters each, under its limit).
SQLITE_WINDOWS_PER_STATEMENT = 5000


def _statement_groups(by_symbol: dict[str, Sequence[PriceWindow]], *, search_per_row: bool):
    """The symbols per UPDATE: all at once on PostgreSQL; on SQLite, see below.

    SQLite has no round trip to save, and cannot index the windows list that the
    UPDATE searches per row: a trigger (whose repeating alerts all search it)
    goes symbol by symbol, keeping that list a few rows long; a re-arm (only the
    few alerts that may re-arm search it) takes as many symbols as the
    bound-parameter limit allows.
    """
    if connection.vendor == "postgresql":
        yield by_symbol
        return
    if search_per_row:
        for symbol, windows in by_symbol.items():
            yield {symbol: windows}
        return
    group: dict[str, Sequence[PriceWindow]] = {}
    size = 0
    for symbol, windows in by_symbol.items():
        if group and size + len(windows) > SQLITE_WINDOWS_PER_STATEMENT:
            yield group
            group, size = {}, 0
        group[symbol] = windows
        size += len(windows)
    if group:
        yield group


def _run(query, direction: str, by_symbol: dict[str, Sequence[PriceWindow]], *, search_per_row: bool):
    rows = []
    with connection.cursor() as cursor:
        for group in _statement_groups(by_symbol, search_per_row=search_per_row):
            cursor.execute(*query(direction, group))
            rows += cursor.fetchall()
    return rows


def _trigger(
    direction: str, by_symbol: dict[str, Sequence[PriceWindow]]
) -> list[tuple[int, int, str, int | None]]:
    """(alert id, user id, symbol, re-arm after ms or None) of exactly the rows these statements changed.

    The ``status = 'created'`` condition makes a concurrent or repeated
    evaluation change nothing twice.
    """
    return _run(trigger_query, direction, by_symbol, search_per_row=True)


def _rearm(direction: str, by_symbol: dict[str, Sequence[PriceWindow]]) -> list[tuple[int, int, str]]:
    """(alert id, user id, symbol) of the alerts re-armed (conditional on ``rearming``, like a trigger)."""
    return _run(rearm_query, direction, by_symbol, search_per_row=False)


def _enqueue_sends(notification_ids: list[int]) -> None:
    # Imported here: tasks imports this module.
    from alerts.tasks import enqueue_notifications

    enqueue_notifications(notification_ids)


def _id_match(column: str, ids: Sequence[int]) -> tuple[str, list]:
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [_number_array(ids)]
    if not ids:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _chunks(ids: Sequence[int]):
    size = max(len(ids), 1) if connection.vendor == "postgresql" else NOTIFICATION_CHUNK
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _suppressed(fired: Sequence[tuple[int, int]]) -> list[int]:
    """The fired alerts over their owner's notifications-per-hour cap: recorded, never sent.

    The cap counts firings (an alert notifying three channels once is one),
    excluding suppressed ones, over the last hour; within one tick a user's
    alerts are let through in id order.
    """
    cap = settings.ALERTS_MAX_NOTIFICATIONS_PER_HOUR
    if cap <= 0:
        return []
    user_ids = sorted({user_id for _, user_id in fired})
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(hours=1))
    used: dict[int, int] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(user_ids):
            match, params = _id_match("user_id", chunk)
            cursor.execute(
                f"""
                SELECT user_id, COUNT(*) FROM (
                    SELECT DISTINCT user_id, alert_id, firing FROM {NOTIFICATION_TABLE}
                    WHERE {match} AND created_at > %s AND status <> 'suppressed'
                ) recent GROUP BY user_id
                """,
                [*params, since],
            )
            used.update(dict(cursor.fetchall()))
    suppressed = []
    for alert_id, user_id in sorted(fired):
        if used.get(user_id, 0) >= cap:
            suppressed.append(alert_id)
        else:
            used[user_id] = used.get(user_id, 0) + 1
    return suppressed


def _insert_notifications(fired: Sequence[tuple[int, int]]) -> list[int]:
    """Notification rows for these firings; returns the ids of those to send.

    One row per enabled channel the alert notifies (the ones it names, else all
    of its owner's), carrying the firing's number, price and time as the alert
    row holds them now. A user without any channel (made outside the API) gets
    email to the account's address; a user whose channels are all disabled gets
    one "failed" row saying so, and a user over the hourly cap "suppressed"
    rows: a firing is never silently lost. Set-based (INSERT ... SELECT):
    thousands of firings cost one statement, not thousands of model instances.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    qn = connection.ops.quote_name
    suppressed = _suppressed(fired)
    alert_ids = sorted({alert_id for alert_id, _ in fired})
    has_channels = f"EXISTS (SELECT 1 FROM {CHANNEL_TABLE} c2 WHERE c2.user_id = a.user_id)"
    ids: list[int] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(alert_ids):
            match, params = _id_match("a.id", chunk)
            quiet, quiet_params = _id_match("a.id", suppressed) if suppressed else ("1 = 0", [])
            cursor.execute(
                f"""
                INSERT INTO {NOTIFICATION_TABLE}
                    (alert_id, user_id, via_id, channel, {qn("to")}, status, attempts, last_error,
                     created_at, firing, triggered_price, triggered_at)
                SELECT a.id, a.user_id, c.id, COALESCE(c.kind, 'email'),
                    CASE WHEN c.kind IN ('webhook', 'apprise') THEN c.name ELSE u.email END,
                    CASE WHEN c.id IS NULL AND {has_channels} THEN 'failed'
                         WHEN {quiet} THEN 'suppressed' ELSE 'pending' END,
                    0,
                    CASE WHEN c.id IS NULL AND {has_channels} THEN 'No enabled channel to notify.'
                         WHEN {quiet} THEN 'Over the notifications-per-hour limit.' ELSE '' END,
                    %s, a.trigger_count, a.triggered_price, a.triggered_at
                FROM {ALERT_TABLE} a
                JOIN {USER_TABLE} u ON u.id = a.user_id
                LEFT JOIN {CHANNEL_TABLE} c ON c.user_id = a.user_id AND c.enabled = %s AND (
                    NOT EXISTS (SELECT 1 FROM {ALERT_CHANNELS_TABLE} ac WHERE ac.alert_id = a.id)
                    OR EXISTS (SELECT 1 FROM {ALERT_CHANNELS_TABLE} ac
                               WHERE ac.alert_id = a.id AND ac.channel_id = c.id))
                WHERE {match}
                RETURNING id, status
                """,
                [*quiet_params, *quiet_params, now, True, *params],
            )
            ids += [row_id for row_id, status in cursor.fetchall() if status == "pending"]
    return ids


def _write_notifications(fired: Sequence[tuple[int, int]]) -> list[int]:
    """The outbox: notification rows in this transaction, their sends enqueued once it commits."""
    ids = _insert_notifications(fired)
    invalidate_alert_lists({user_id for _, user_id in fired})
    if ids:
        transaction.on_commit(lambda: _enqueue_sends(ids))
    return ids


def evaluate_windows(windows: Iterable[PriceWindow], *, reach: Reach | None = None) -> int:
    """Trigger every waiting alert these windows crossed; returns how many firings.

    ``windows`` may hold several windows per symbol (several stream entries);
    each alert is judged only on the windows whose last event is after it was
    armed. Fired repeating alerts whose cooldown ends within these windows and
    that the price lets re-arm are re-armed, and may fire again, in the same
    pass: the result is the same however the windows are split into ticks.
    Runs in the caller's transaction if there is one. ``reach``: the probes'
    answer for exactly these windows, if the caller already asked.
    """
    by_symbol = reach.by_symbol if reach else _by_symbol(windows)
    if not by_symbol:
        return 0
    fired_total = 0
    with transaction.atomic(savepoint=False):
        reach = reach or _reached(by_symbol)
        extremes = reach.extremes
        crossed, rearm = reach.crossed, reach.rearm
        if not crossed and not rearm:
            return 0
        if connection.vendor == "postgresql":
            # The firing statements' estimates (thousands of rows, correlated probes) pass
            # jit_above_cost: compiling them took longer than running them.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        # Re-arm first (an earlier window may re-arm what a later one fires), then
        # fire; repeat for the pairs that fired a repeating alert, until nothing
        # re-arms. Each round moves every re-armed alert's cooldown past a window,
        # so the loop ends.
        while crossed or rearm:
            rearmed: set[tuple[str, str]] = set()
            for direction in Alert.Direction.values:
                symbols = dict.fromkeys(s for s, d in rearm if d == direction)
                if not symbols:
                    continue
                rows = _rearm(direction, {s: by_symbol[s] for s in symbols})
                rearmed.update((symbol, direction) for _, _, symbol in rows)
                if rows:
                    invalidate_alert_lists({user_id for _, user_id, _ in rows})
            fired: list[tuple[int, int]] = []
            repeating: set[tuple[str, str]] = set()
            for direction in Alert.Direction.values:
                symbols = dict.fromkeys(s for s, d in [*crossed, *rearmed] if d == direction)
                if not symbols:
                    continue
                for alert_id, user_id, symbol, after in _trigger(
                    direction, {s: by_symbol[s] for s in symbols}
                ):
                    fired.append((alert_id, user_id))
                    # Another round only if a cooldown that just started ends within these
                    # windows (a catch-up batch): in a live tick, never.
                    if after is not None and after < extremes[symbol][2]:
                        repeating.add((symbol, direction))
            if fired:
                _write_notifications(fired)
                fired_total += len(fired)
            crossed, rearm = [], sorted(repeating)
    if fired_total:
        logger.info("Triggered %d alerts", fired_total)
    return fired_total


def expiry_times(until: datetime) -> list[datetime]:
    """The distinct expiry times, up to ``until``, of alerts that can still expire (index-served)."""
    return list(
        Alert.objects.filter(status__in=ACTIVE_STATUSES, expires_at__isnull=False, expires_at__lte=until)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .distinct()
    )


def expire_alerts(until: datetime) -> int:
    """Expire every waiting or re-arming alert whose ``expires_at`` is at or before ``until``."""
    with transaction.atomic(savepoint=False):
        expiring = Alert.objects.filter(
            status__in=ACTIVE_STATUSES, expires_at__isnull=False, expires_at__lte=until
        )
        users = set(expiring.values_list("user_id", flat=True).distinct())
        if not users:
            return 0
        expired = expiring.update(status=Alert.Status.EXPIRED, rearm_after_ms=None)
        invalidate_alert_lists(users)
    logger.info("Expired %d alerts", expired)
    return expired


def evaluate_with_expiry(windows: Sequence[PriceWindow]) -> int:
    """``evaluate_windows``, with alerts expiring exactly at their ``expires_at`` in event time.

    A window counts for an alert only if its last event is at or before the
    alert's expiry. The probes say whether any expiry falls by the last window
    (usually not: no other statement). If some do, the windows are evaluated in
    segments cut at each expiry time, expiring those alerts between segments;
    then every alert due by the last window expires.
    """
    if not windows:
        return 0
    with transaction.atomic(savepoint=False):
        reach = _reached(_by_symbol(windows))
        end = store.ms_to_datetime(max(last_ms for _, _, last_ms in reach.extremes.values()))
        if reach.first_expiry is None or reach.first_expiry > end:
            return evaluate_windows(windows, reach=reach)
        ordered = sorted(windows, key=lambda w: w.last_event_ms)
        fired = start = 0
        for boundary in expiry_times(end):
            stop = start
            while stop < len(ordered) and store.ms_to_datetime(ordered[stop].last_event_ms) <= boundary:
                stop += 1
            if stop > start:
                fired += evaluate_windows(ordered[start:stop])
                start = stop
            expire_alerts(boundary)
        return fired + evaluate_windows(ordered[start:])


def _lock_checkpoint(name: str, now: datetime) -> str:
    """Lock this evaluator's checkpoint row for the transaction and return its stream id.

    A write first: on PostgreSQL it takes the row lock (a second evaluator waits
    here, then sees the committed checkpoint); on SQLite it takes the database
    write lock before anything is read, so the transaction never has to upgrade
    a read lock (which SQLite refuses under contention).
    """
    sql = f"UPDATE {CHECKPOINT_TABLE} SET evaluated_at = %s WHERE name = %s RETURNING stream_id"
    params = [connection.ops.adapt_datetimefield_value(now), name]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            EvaluationCheckpoint.objects.get_or_create(name=name)
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return row[0]


def _save_checkpoint(name: str, stream_id: str, *, fired: int) -> None:
    with connection.cursor() as cursor:
        if not fired and connection.vendor == "postgresql":
            # Nothing fired: this commit only moves the checkpoint. Losing it in a
            # database crash just re-reads windows that fired nothing (alerts made
            # since are younger than them), so it need not wait for the WAL flush,
            # which is most of a quiet tick's cost. A commit that fires stays durable.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(f"UPDATE {CHECKPOINT_TABLE} SET stream_id = %s WHERE name = %s", [stream_id, name])


def _entry_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _behind_a_new_stream(after_id: str) -> str:
    """The checkpoint to keep when nothing was read: "0" if the stream now ends before it.

    Stream ids are the Redis server's clock. A replaced Redis (or one whose
    clock went back) would otherwise leave the checkpoint ahead of every new
    entry and the engine reading nothing, silently, for ever.
    """
    if after_id == "0":
        return after_id
    newest = store.redis_client().xrevrange(store.WINDOW_STREAM, count=1)
    if newest and _entry_key(newest[0][0]) < _entry_key(after_id):
        logger.warning("The price stream restarted behind checkpoint %s: reading it from the start", after_id)
        return "0"
    return after_id


def _evaluate_batch(name: str, batch_entries: int, now: datetime) -> tuple[int, int, str]:
    """One transaction: lock the checkpoint, read a batch, fire and expire, move the checkpoint."""
    with transaction.atomic():
        after_id = _lock_checkpoint(name, now)
        entries = store.read_windows(after_id, count=batch_entries)
        if not entries:
            after_id = _behind_a_new_stream(after_id)
            # Caught up: what is past its expiry (less the grace) expires by the clock.
            expire_alerts(now - EXPIRY_GRACE)
            _save_checkpoint(name, after_id, fired=0)
            return 0, 0, after_id
        fired = evaluate_with_expiry([window for _, windows in entries for window in windows])
        last_id = entries[-1][0]
        _save_checkpoint(name, last_id, fired=fired)
    return len(entries), fired, last_id


def evaluate_pending(
    *,
    name: str = DEFAULT_CHECKPOINT,
    batch_entries: int = BATCH_ENTRIES,
    max_seconds: float = 2.0,
    now: datetime | None = None,
) -> TickResult:
    """One evaluation tick: read the stream from the checkpoint until caught up.

    Each batch of up to ``batch_entries`` entries is its own transaction.
    Stops after ``max_seconds`` even if not caught up (a long backlog after
    downtime), so one tick never outlives its lock; the next tick goes on.
    """
    started = time.monotonic()
    total_entries = total_fired = batches = 0
    while True:
        entries, fired, stream_id = _evaluate_batch(name, batch_entries, now or timezone.now())
        batches += 1
        total_entries += entries
        total_fired += fired
        if entries < batch_entries or time.monotonic() - started >= max_seconds:
            break
    return TickResult(entries=total_entries, fired=total_fired, batches=batches, stream_id=stream_id)


def last_evaluated_at(name: str = DEFAULT_CHECKPOINT) -> datetime | None:
    """When this evaluator last ran a tick (shown by /health)."""
    return EvaluationCheckpoint.objects.filter(name=name).values_list("evaluated_at", flat=True).first()
