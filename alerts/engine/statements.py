"""The engine's SQL: the crossing probes, the trigger UPDATE and the re-arm UPDATE.

Each builder returns ``(sql, params)`` for the default connection; the parts
that differ between PostgreSQL and SQLite come from ``alerts.dialect``. All of
them are served by one partial index, alert_watch_idx (``symbol,
watch_direction, watch_price, status, rearm_after_ms`` over the active alerts):
a waiting alert watches its target in its direction, a fired repeating alert
its re-arm price the other way.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from alerts.delivery.outbox import FIRED_COLUMNS, insert_from_fired
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
    moved, params = _moved(extremes)
    sql = f"""
        WITH moved(symbol, high, low, last_ms) AS ({moved})
        {_crossing_select()}
    """
    return sql, [*params, next(iter(extremes))]


# The crossing rows a batch probe returns: only those that say something (a hit, or the first expiry).
# A quiet tick's hundred moved symbols then cost the client no rows to read.
HITS_ONLY = "WHERE p.above OR p.below OR p.expiry IS NOT NULL"
# Both probes' rows in one shape (symbol, window, ...), from the CTEs of ``_probe_ctes``.
CROSSING_ROWS = (
    f"SELECT p.symbol, NULL, p.above, p.below, p.expiry, NULL, NULL, NULL, NULL FROM p {HITS_ONLY}"
)
WINDOW_ROWS = (
    "SELECT w.symbol, w.window_seconds, NULL, NULL, NULL, w.up, w.down, w.volume, w.rearm_due FROM w"
)
PROBE_ROWS = f"{CROSSING_ROWS} UNION ALL {WINDOW_ROWS}"


def _probe_ctes() -> str:
    """The probes over the CTE ``moved`` as CTEs: ``p`` (crossing, a row per moved symbol), ``w`` (window)."""
    return f"p AS ({_crossing_select()}), w AS ({_window_select('moved')})"


def batch_probe_query(
    extremes: dict[str, Extremes], also: tuple[str, list] | None = None
) -> tuple[str, list]:
    """SQL: the crossing probes and the window probe of a batch's moved symbols, in one round trip.

    A no-fire tick is this statement and nothing else, so one statement (one
    plan, one round trip) instead of two is a third of its database time. Rows
    of both answers share one shape (``symbol, window, ...``): a crossing row
    (``crossing_query``: window NULL, above, below, first expiry) per moved
    symbol with a hit or the first expiry (``HITS_ONLY``), then a window row
    (``window_probe_query``: window seconds, lowest thresholds, first re-arm)
    per (symbol, window) with active window alerts.
    ``also``: a CTE (``name AS (...)``, its params) to run in the same statement
    (PostgreSQL: the tick's checkpoint UPDATE).
    """
    moved, params = _moved(extremes)
    also, also_params = ("", []) if also is None else (f"{also[0]},", also[1])
    sql = f"""
        WITH {also} moved(symbol, high, low, last_ms) AS ({moved}), {_probe_ctes()}
        {PROBE_ROWS}
    """
    return sql, [*also_params, *params, next(iter(extremes))]


# windows.reach_rows: symbol, window seconds, up, down, volume, newest judged second ms.
REACH_TYPES = ("text", "bigint", "numeric", "numeric", "numeric", "bigint")


def idle_probe_query(
    extremes: dict[str, Extremes],
    move: Callable[[str, list], tuple[str, list]],
    reach: Sequence[tuple[str, int, float, float, float, int]] = (),
) -> tuple[str, list]:
    """SQL: ``batch_probe_query``'s rows, and ``move`` run only where they say there is nothing to do.

    ``move(condition, params)`` builds an UPDATE ... RETURNING one bigint column
    (the checkpoint's compare-and-set move) with ``condition`` in its WHERE:
    true when no moved symbol has a crossing or re-arm hit, no window alert may
    fire or re-arm (``_window_work``), and no expiry falls by the batch's last
    event, i.e. exactly when the tick's passes would write nothing. A quiet
    tick is then this one statement, in autocommit (``alerts.engine.tick``).
    ``reach``: for (symbol, window) pairs of the batch, how far its bound
    reaches (``windows.reach_rows``). The UPDATE's row, when it ran, comes last
    with a NULL symbol and its column in the last place; the window probe's
    rows come only when it did not run.
    """
    moved, params = _moved(extremes)
    columns = list(zip(*reach, strict=True)) or [()] * len(REACH_TYPES)
    reached, reach_params = dialect().rows(REACH_TYPES, columns)
    end = ms_to_datetime(max(last_ms for _, _, last_ms in extremes.values()))
    idle = (
        "NOT EXISTS (SELECT 1 FROM p WHERE p.above OR p.below OR p.expiry <= %s)"
        f" AND NOT EXISTS ({_window_work()})"
    )
    update, update_params = move(idle, [end])
    sql = f"""
        WITH moved(symbol, high, low, last_ms) AS ({moved}),
        reach(symbol, win, up, down, vol, last_ms) AS ({reached}), {_probe_ctes()},
        also(others) AS ({update})
        {CROSSING_ROWS}
        UNION ALL
        {WINDOW_ROWS} WHERE NOT EXISTS (SELECT 1 FROM also)
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, also.others FROM also
    """
    return sql, [*params, *reach_params, next(iter(extremes)), *update_params]


def _window_work() -> str:
    """SQL: a moved symbol's window alert that may fire or re-arm in this batch, given ``reach``.

    The same test as the window pass's bound (``windows.needing_exact``), alert
    by alert instead of on each pair's lowest thresholds: a waiting alert whose
    threshold its pair's reach attains, a re-arming one whose cooldown ends by
    the symbol's newest judged second, or any window alert of a pair without a
    reach (the engine did not know the pair had alerts: the window pass
    decides). One index-only scan of alert_window_idx per moved symbol.
    """
    return f"""SELECT 1 FROM moved m JOIN {ALERT_TABLE} a ON a.symbol = m.symbol
            LEFT JOIN reach r ON r.symbol = a.symbol AND r.win = a.window_seconds
            WHERE a.status IN {ACTIVE} AND a.kind IN {WINDOW_KINDS} AND CASE
                WHEN r.symbol IS NULL THEN true
                WHEN a.status = 'rearming' THEN a.rearm_after_ms <= r.last_ms
                WHEN a.kind = 'volume' THEN a.volume_quote <= r.vol
                WHEN a.move_direction = 'up' THEN a.move_percent <= r.up
                WHEN a.move_direction = 'down' THEN a.move_percent <= r.down
                ELSE a.move_percent <= GREATEST(r.up, r.down) END"""


def _moved(extremes: dict[str, Extremes]) -> tuple[str, list]:
    return dialect().rows(
        ("text", "numeric", "numeric", "bigint"),
        (
            list(extremes),
            [high for high, _, _ in extremes.values()],
            [low for _, low, _ in extremes.values()],
            [last_ms for _, _, last_ms in extremes.values()],
        ),
    )


def _crossing_select() -> str:
    """The crossing probes over ``moved`` (one placeholder: the symbol whose row carries the first expiry)."""
    return f"""SELECT moved.symbol,
            {_probe("above", "<=", "high")} AS above,
            {_probe("below", ">=", "low")} AS below,
            CASE WHEN moved.symbol = %s THEN (SELECT MIN(a.expires_at) FROM {ALERT_TABLE} a
                WHERE a.status IN {ACTIVE} AND a.expires_at IS NOT NULL) END AS expiry
        FROM moved"""


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


def trigger_query(
    direction: str, by_symbol: dict[str, Sequence[PriceWindow]], *, with_notifications: bool = False
) -> tuple[str, list]:
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

    Rows: (alert id, user id, symbol, re-arm after ms). ``with_notifications``
    (where ``Dialect.updates_in_with``): the same statement writes the fired
    alerts' Notification rows (``outbox.insert_from_fired``), and every row
    starts with what it is: ('alert', alert id, user id, symbol, re-arm after
    ms) or ('notification', notification id, user id, status, NULL).
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

    returned = TRIGGER_RETURNS + (
        tuple(c for c in FIRED_COLUMNS if c not in TRIGGER_RETURNS) if with_notifications else ()
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
            returning=", ".join(f"{alert}.{column}" for column in returned),
            then=_written(with_notifications),
        )
    )


# What a trigger UPDATE returns; with its notifications, also what the outbox's INSERT reads.
TRIGGER_RETURNS = ("id", "user_id", "symbol", "rearm_after_ms")


def _written(with_notifications: bool) -> tuple[str, list, str] | None:
    """The outbox's INSERT over the fired rows, and the final SELECT of both kinds of row."""
    if not with_notifications:
        return None
    insert, params = insert_from_fired("fired")
    final = """
        SELECT 'alert', f.id, f.user_id, f.symbol, f.rearm_after_ms FROM fired f
        UNION ALL
        SELECT 'notification', w.id, w.user_id, w.status, NULL FROM written w
    """
    return f"written AS ({insert})", params, final


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


# --- Window kinds (issue 18): moves within a window, volume spikes -------------------------------
# Served by alert_window_idx (symbol, window_seconds, ... over the active window alerts); the
# judged seconds come from alerts.engine.windows.

WINDOW_KINDS = "('move', 'volume')"
JUDGED_TYPES = (
    "text", "bigint", "timestamptz", "timestamptz", "bigint", "numeric", "numeric", "numeric", "numeric",
    "numeric", "numeric", "bigint",
)  # fmt: skip
JUDGED_COLUMNS = "symbol, win, at, next_at, at_ms, up, down, vol, hi, lo, cl, settled"


def window_pairs_query() -> str:
    """SQL: every (symbol, window) with active window alerts (``windows.hinted_pairs``)."""
    return f"""SELECT DISTINCT symbol, window_seconds FROM {ALERT_TABLE}
        WHERE status IN {ACTIVE} AND kind IN {WINDOW_KINDS}"""


def window_probe_query(symbols: Sequence[str]) -> tuple[str, list]:
    """SQL: per (moved symbol, window) with active window alerts, the lowest thresholds and first re-arm.

    One index-only scan of alert_window_idx over the moved symbols' window
    alerts; symbols without any cost one index probe. (A tick asks this within
    ``batch_probe_query``.)
    """
    moved, params = dialect().rows(("text",), (list(symbols),))
    return f"WITH s(symbol) AS ({moved}) {_window_select('s')}", params


def _window_select(moved: str) -> str:
    """The window probe over the symbols of ``moved`` (a CTE with a ``symbol`` column)."""
    return f"""SELECT a.symbol, a.window_seconds,
            MIN(CASE WHEN a.status = 'created' AND a.kind = 'move' AND a.move_direction <> 'down'
                THEN a.move_percent END) AS up,
            MIN(CASE WHEN a.status = 'created' AND a.kind = 'move' AND a.move_direction <> 'up'
                THEN a.move_percent END) AS down,
            MIN(CASE WHEN a.status = 'created' AND a.kind = 'volume' THEN a.volume_quote END) AS volume,
            MIN(CASE WHEN a.status = 'rearming' THEN a.rearm_after_ms END) AS rearm_due
        FROM {moved} JOIN {ALERT_TABLE} a ON a.symbol = {moved}.symbol
        WHERE a.status IN {ACTIVE} AND a.kind IN {WINDOW_KINDS}
        GROUP BY a.symbol, a.window_seconds"""


def _judged(rows) -> tuple[str, list]:
    return dialect().rows(
        JUDGED_TYPES,
        (
            [r.symbol for r in rows],
            [r.window_seconds for r in rows],
            [ms_to_datetime(r.start_ms) for r in rows],
            [ms_to_datetime(r.start_ms + 1000) for r in rows],
            [r.start_ms for r in rows],
            [r.up for r in rows],
            [r.down for r in rows],
            [r.volume for r in rows],
            [r.high for r in rows],
            [r.low for r in rows],
            [r.close for r in rows],
            [int(r.settled) for r in rows],
        ),
    )


def _reached(kind: str, alert: str) -> str:
    """SQL: judged second ``c`` reaches the threshold of window alert ``alert`` of ``kind``."""
    if kind == Alert.Kind.VOLUME:
        return f"c.vol >= {alert}.volume_quote"
    return (
        f"(({alert}.move_direction <> 'down' AND c.up >= {alert}.move_percent)"
        f" OR ({alert}.move_direction <> 'up' AND c.down >= {alert}.move_percent))"
    )


def _reported_price(kind: str, alert: str) -> str:
    if kind == Alert.Kind.VOLUME:
        return "c.cl"
    return (
        f"CASE WHEN {alert}.move_direction <> 'down' AND c.up >= {alert}.move_percent THEN c.hi ELSE c.lo END"
    )


def _first(column: str, where: str) -> str:
    return f"(SELECT {column} FROM c WHERE {where} ORDER BY c.at_ms LIMIT 1)"


def window_trigger_query(kind: str, rows) -> tuple[str, list]:
    """SQL: fire the waiting window alerts of ``kind`` that a judged second reached, at the first such second.

    A second counts if it starts at or after the alert was armed and at or
    before its expiry. Conditional on ``status = 'created'``: exactly once.
    """
    alert = ALERT_TABLE
    judged, params = _judged(rows)
    match = (
        f"c.symbol = {alert}.symbol AND c.win = {alert}.window_seconds AND c.at >= {alert}.armed_at"
        f" AND ({alert}.expires_at IS NULL OR c.at <= {alert}.expires_at) AND {_reached(kind, alert)}"
    )
    every = f"{alert}.repeat = 'every'"
    sql = f"""
        WITH c({JUDGED_COLUMNS}) AS ({judged})
        UPDATE {alert} SET
            status = CASE WHEN {every} THEN 'rearming' ELSE 'triggered' END,
            trigger_count = {alert}.trigger_count + 1,
            triggered_price = {_first(_reported_price(kind, alert), match)},
            triggered_at = {_first("c.at", match)},
            last_triggered_at = {_first("c.at", match)},
            rearm_after_ms = CASE WHEN {every}
                THEN {_first("c.at_ms", match)} + {alert}.cooldown_seconds * 1000 END
        WHERE {alert}.status IN {ACTIVE} AND {alert}.kind IN {WINDOW_KINDS}
          AND {alert}.symbol IN (SELECT symbol FROM c)
          AND {alert}.status = 'created' AND {alert}.kind = %s
          AND EXISTS (SELECT 1 FROM c WHERE {match})
        RETURNING {alert}.id, {alert}.user_id
    """
    return sql, [*params, kind]


def window_rearm_query(kind: str, rows) -> tuple[str, list]:
    """SQL: re-arm fired repeating window alerts whose cooldown is over, at the first judged second
    after it that is back under the threshold; they count seconds from the next one on."""
    alert = ALERT_TABLE
    judged, params = _judged(rows)
    match = (
        f"c.symbol = {alert}.symbol AND c.win = {alert}.window_seconds AND c.at_ms >= {alert}.rearm_after_ms"
        f" AND c.settled = 1 AND NOT {_reached(kind, alert)}"
    )
    sql = f"""
        WITH c({JUDGED_COLUMNS}) AS ({judged})
        UPDATE {alert} SET
            status = 'created', rearm_after_ms = NULL, armed_at = {_first("c.next_at", match)}
        WHERE {alert}.status IN {ACTIVE} AND {alert}.kind IN {WINDOW_KINDS}
          AND {alert}.symbol IN (SELECT symbol FROM c)
          AND {alert}.status = 'rearming' AND {alert}.kind = %s
          AND EXISTS (SELECT 1 FROM c WHERE {match})
        RETURNING {alert}.id, {alert}.user_id
    """
    return sql, [*params, kind]
