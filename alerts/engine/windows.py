"""The window kinds' pass: moves within a trailing window and volume spikes, from the price history.

Exactness (README "Moves within a window and volume spikes"): the engine
judges every traded second ``s`` (a 1-second bucket of ``feeds.history``, in
exchange trade time) of a symbol that the batch's windows touched, against
the trailing window of ``s``:

- 1m, 5m, 15m: the 1-second buckets from ``s - W + 1 s`` through ``s``;
- 1h, 4h, 24h: the whole minutes from ``m - W + 1 min`` through ``m - 1 min``
  (``m``: the minute of ``s``), then the seconds of ``m`` through ``s``.

So the window holds every trade from its start through the end of ``s``
(spanning between ``W - 59 s`` and ``W``), nothing later. A move "up" fires
at ``s`` when the highest price of ``s`` is at least ``move_percent`` above
the window's lowest (``high_s >= low_W * (1 + p/100)``), "down" when the lowest
of ``s`` is at least that far below the window's highest; a volume alert when
the window's quote volume reaches ``volume_quote``. Trades inside one second
are not ordered against each other (the resolution is one second). A second
counts for an alert if it starts at or after the alert was armed and at or
before its expiry. The first such second fires it (its high for "up", its low
for "down", its close for volume, and its start time are reported).

Set-based: one probe per batch says which (symbol, window) pairs have active
window alerts and their lowest thresholds; a bound from the history's chunk
aggregates (``prepare``: one Redis script call, the closed chunks kept between
ticks, ``feeds.aggregates``) rules out the pairs that cannot reach them (the
no-fire tick ends there: on PostgreSQL inside the quiet tick's one statement,
which compares every window alert with the bound's reach, ``reach_rows``); the
others are judged exactly (one more round trip) and their seconds go into one UPDATE per kind
(``statements.window_trigger_query``), conditional on
``status = 'created'`` like every trigger. Repeating window alerts re-arm
after their cooldown at the first whole judged second whose value is back
under the threshold (``statements.window_rearm_query``): they fire again on
a new move, not on the same one every cooldown. A symbol's newest second in a
batch may still grow (a later flush adds trades to it): it is judged again in
the next batch (``LAST_JUDGED_KEY``) and only then may it re-arm anything, so
the outcome does not depend on how the trades were split into ticks.
"""

import decimal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from alerts.cache import invalidate_alert_lists
from alerts.delivery.outbox import write_notifications
from alerts.engine.statements import (
    window_pairs_query,
    window_probe_query,
    window_rearm_query,
    window_trigger_query,
)
from alerts.models import Alert
from feeds import aggregates, history
from feeds.windows import PriceWindow

SECOND_MS = 1000
MINUTE_MS = 60_000
# Seconds of a symbol judged per batch at most: the seconds' history is kept 15 minutes.
MAX_SECONDS = history.SECOND_RETENTION_S
# Percentages are compared rounded down to this many decimals: move_percent has 4, so
# "rounded down >= threshold" is exactly "true value >= threshold".
PERCENT_PLACES = Decimal("0.00000001")
EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_FLOOR)
# Symbol -> the newest second (ms) the engine judged: the next batch judges it again, whole.
LAST_JUDGED_KEY = "engine:window_last_second"


@dataclass(frozen=True, slots=True)
class Judged:
    """One traded second of a symbol, judged against one trailing window."""

    symbol: str
    window_seconds: int
    start_ms: int
    up: Decimal  # percent the second's high is above the window's low (rounded down)
    down: Decimal  # percent the second's low is below the window's high (rounded down)
    volume: Decimal  # the window's quote volume
    high: Decimal
    low: Decimal
    close: Decimal
    # False for the newest second of its symbol in the batch: more trades may still land in it.
    settled: bool = True


@dataclass(frozen=True, slots=True)
class Thresholds:
    up: Decimal | None  # lowest move_percent of waiting "up"/"either" alerts
    down: Decimal | None
    volume: Decimal | None
    rearm_due_ms: int | None  # earliest end of cooldown of re-arming window alerts


def touched_seconds(windows: Sequence[PriceWindow]) -> dict[str, list[int]]:
    """Symbol -> the second starts (ms) its windows span, oldest first (at most MAX_SECONDS, newest)."""
    spans: dict[str, set[int]] = {}
    for window in windows:
        first = window.first_event_ms - window.first_event_ms % SECOND_MS
        last = window.last_event_ms - window.last_event_ms % SECOND_MS
        first = max(first, last - (MAX_SECONDS - 1) * SECOND_MS)
        spans.setdefault(window.symbol, set()).update(range(first, last + SECOND_MS, SECOND_MS))
    return {symbol: sorted(seconds)[-MAX_SECONDS:] for symbol, seconds in spans.items()}


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the bound of a batch's window pass reads, for some of its symbols (``prepare``)."""

    symbols: frozenset[str]  # the symbols it was read for
    seconds: dict[str, list[int]]  # symbol -> the seconds to judge (ms), oldest first
    heads: aggregates.Heads


def prepare(windows: Sequence[PriceWindow], symbols: Iterable[str]) -> Prepared:
    """The seconds these symbols' windows traded in, with each symbol's newest second of the previous
    batch (judged then while it could still grow, it is judged again now, whole: re-arming counts only
    whole seconds), and what their bound reads: one script call (``feeds.aggregates.read_heads``), which
    also remembers this batch's newest seconds."""
    wanted = frozenset(symbols)
    seconds = touched_seconds([window for window in windows if window.symbol in wanted])
    heads = aggregates.read_heads(seconds, mark_key=LAST_JUDGED_KEY)
    for symbol, before in heads.previous.items():
        seconds[symbol] = [before, *seconds[symbol]]
    return Prepared(wanted, seconds, heads)


def _joined(first: Prepared, second: Prepared) -> Prepared:
    heads = aggregates.Heads(
        {**first.heads.aggregates, **second.heads.aggregates},
        {**first.heads.bucket_texts, **second.heads.bucket_texts},
        {**first.heads.previous, **second.heads.previous},
    )
    return Prepared(first.symbols | second.symbols, {**first.seconds, **second.seconds}, heads)


def window_requests(symbol: str, window_seconds: int, second_ms: int) -> list[tuple[str, int, int, int]]:
    """The history ranges (``feeds.history.window_summaries``) of the trailing window of one second."""
    width = window_seconds * 1000
    if window_seconds <= history.SECOND_RETENTION_S:
        return [(symbol, 1, second_ms - width + SECOND_MS, second_ms)]
    minute = second_ms - second_ms % MINUTE_MS
    return [(symbol, 60, minute - width + MINUTE_MS, minute - MINUTE_MS), (symbol, 1, minute, second_ms)]


def percent_above(high: Decimal, low: Decimal) -> Decimal:
    """How far ``high`` is above ``low``, in percent of ``low``, rounded down."""
    return EXACT.divide(EXACT.multiply(high - low, 100), low).quantize(
        PERCENT_PLACES, rounding=decimal.ROUND_FLOOR
    )


def percent_below(high: Decimal, low: Decimal) -> Decimal:
    """How far ``low`` is below ``high``, in percent of ``high``, rounded down."""
    return EXACT.divide(EXACT.multiply(high - low, 100), high).quantize(
        PERCENT_PLACES, rounding=decimal.ROUND_FLOOR
    )


def judge(pairs: dict[tuple[str, int], Thresholds], seconds: dict[str, list[int]]) -> list[Judged]:
    """Read the history for every (symbol, window) pair and touched second (one round trip)."""
    plan = []
    requests: list[tuple[str, int, int, int]] = []
    for symbol, window_seconds in pairs:
        for second_ms in seconds.get(symbol, ()):
            ranges = window_requests(symbol, window_seconds, second_ms)
            plan.append((symbol, window_seconds, second_ms, len(ranges)))
            requests.append((symbol, 1, second_ms, second_ms))
            requests += ranges
    summaries = iter(history.window_summaries(requests)) if requests else iter(())
    judged = []
    newest = {symbol: ms[-1] for symbol, ms in seconds.items() if ms}
    for symbol, window_seconds, second_ms, count in plan:
        own = next(summaries)
        window = history.combine([next(summaries) for _ in range(count)])
        if own is None or window is None:
            continue  # no trade in that second (or its history is gone)
        judged.append(
            Judged(
                symbol,
                window_seconds,
                second_ms,
                percent_above(own.high, window.low),
                percent_below(window.high, own.low),
                window.quote_volume,
                own.high,
                own.low,
                own.close if own.close is not None else own.high,
                second_ms != newest[symbol],
            )
        )
    return judged


def needing_exact(pairs: dict[tuple[str, int], Thresholds], prepared: Prepared) -> set[tuple[str, int]]:
    """The (symbol, window) pairs that may fire or re-arm anything in this batch.

    A bound first, from the chunk aggregates only (``feeds.aggregates``, shared
    by all of a symbol's windows): every chunk from the oldest one a window of
    any judged second reaches up to the newest holds every trade of those
    windows and maybe more, so its low is at most a window's, its high at
    least, its volume at least; the judged seconds' highest high and lowest
    low stand for each second's. A move or volume that the bound does not reach
    cannot be reached: the no-fire tick stops here, reading no bucket.
    """
    needed = set()
    own_of: dict[str, history.Summary | None] = {}
    for (symbol, window_seconds), limits in pairs.items():
        touched = prepared.seconds.get(symbol) or []
        if limits.rearm_due_ms is not None and touched and touched[-1] >= limits.rearm_due_ms:
            needed.add((symbol, window_seconds))
            continue
        if symbol not in own_of:
            # The judged seconds' own buckets, the same for each of the symbol's windows: their highest
            # high and lowest low stand for each second's.
            own_of[symbol] = history.combine(prepared.heads.bucket(symbol, ms) for ms in touched)
        own = own_of[symbol]
        if own is None:
            continue
        resolution, oldest = bound_span(window_seconds, touched[0])
        chunks = prepared.heads.aggregates.get((resolution, symbol))
        around = history.combine([chunks.since(oldest) if chunks else None, own])
        if _bound_may_matter(own.high, own.low, around, limits):
            needed.add((symbol, window_seconds))
    return needed


def bound_span(window_seconds: int, first_second_ms: int) -> tuple[int, int]:
    """(resolution s, start ms of the oldest chunk) the bound of a window reads, for judged seconds from
    ``first_second_ms`` on: the chunk holding the start of the first second's window."""
    if window_seconds <= history.SECOND_RETENTION_S:
        oldest = first_second_ms - window_seconds * 1000 + SECOND_MS
        return 1, oldest - oldest % (history.SECOND_CHUNK_S * 1000)
    minute = first_second_ms - first_second_ms % MINUTE_MS
    oldest = minute - window_seconds * 1000 + MINUTE_MS
    return 60, oldest - oldest % (history.MINUTE_CHUNK_S * 1000)


# A float reach is raised by this much (relative, and absolute) to stand above the exact one: a float's
# error here is a few units in its 16th digit.
FLOAT_MARGIN = 1e-9
MARGIN_UP = 1 + FLOAT_MARGIN  # the reaches are never negative
# A reach for a symbol that traded no second (its buckets gone): no threshold is at or under it.
NOTHING = -1.0
# (symbol, window seconds, up, down, volume, the symbol's newest judged second ms)
ReachRow = tuple[str, int, float, float, float, int]


def reach_rows(pairs: Iterable[tuple[str, int]], prepared: Prepared) -> list[ReachRow]:
    """(symbol, window, up, down, volume, newest second ms) for these pairs: each reach at least the
    bound ``needing_exact`` computes exactly (``FLOAT_MARGIN`` above it), for the database to compare
    with every window alert's threshold (``statements.idle_probe_query``): a threshold above it is
    one the exact bound cannot reach either. Floats: a few hundred pairs a tick, each in about a
    microsecond, where exact decimals take several."""
    rows = []
    heads, seconds = prepared.heads, prepared.seconds
    symbol = own = touched = None
    for pair_symbol, window_seconds in pairs:
        if pair_symbol != symbol:  # pairs come grouped by symbol (``hinted_pairs``)
            symbol, touched = pair_symbol, seconds.get(pair_symbol)
            own = heads.extremes(symbol, touched) if touched else None
        if not touched:
            continue
        if own is None:
            rows.append((symbol, window_seconds, NOTHING, NOTHING, NOTHING, touched[-1]))
            continue
        high, low, volume = own
        resolution, oldest = bound_span(window_seconds, touched[0])
        chunks = heads.aggregates.get((resolution, symbol))
        around = chunks.since_floats(oldest) if chunks is not None else None
        if around is None:
            around_high, around_low, around_volume = high, low, volume
        else:
            around_high, around_low = max(high, around[0]), min(low, around[1])
            around_volume = around[2] + volume
        up = (high - around_low) * 100 / around_low
        down = (around_high - low) * 100 / around_high
        rows.append(
            (
                symbol,
                window_seconds,
                up * MARGIN_UP + FLOAT_MARGIN,
                down * MARGIN_UP + FLOAT_MARGIN,
                around_volume * MARGIN_UP + FLOAT_MARGIN,
                touched[-1],
            )
        )
    return rows


def _bound_may_matter(high: Decimal, low: Decimal, around: history.Summary, limits: Thresholds) -> bool:
    """``may_matter`` for the bound (its re-arm case already handled): the judged seconds' highest high
    and lowest low against ``around``, each comparison computed only for a threshold that is set."""
    return (
        (limits.up is not None and percent_above(high, around.low) >= limits.up)
        or (limits.down is not None and percent_below(around.high, low) >= limits.down)
        or (limits.volume is not None and around.quote_volume >= limits.volume)
    )


def may_matter(row: Judged, limits: Thresholds) -> bool:
    """Whether this second could fire a waiting alert or re-arm a fired one (else no statement runs)."""
    if limits.rearm_due_ms is not None and row.start_ms >= limits.rearm_due_ms:
        return True
    return (
        (limits.up is not None and row.up >= limits.up)
        or (limits.down is not None and row.down >= limits.down)
        or (limits.volume is not None and row.volume >= limits.volume)
    )


# Symbol -> the windows with active window alerts, as this process last learnt them: the pairs a quiet
# batch computes a reach for (alerts.engine.tick). A hint only: a pair it lacks sends its batch the
# locked way (``statements.idle_probe_query`` finds a window alert without a reach), whose probe
# teaches it (``learn_pairs``), and which reads it whole from the database every HINT_SECONDS
# (forgetting pairs whose alerts are gone). A process's first batch runs locked.
_hint: dict[str, set[int]] = {}
_hint_read_at: float | None = None
HINT_SECONDS = 300.0


def hinted_pairs(symbols: Iterable[str]) -> list[tuple[str, int]]:
    """The (symbol, window) pairs of these symbols that had active window alerts, last this process knew."""
    return [(symbol, window) for symbol in symbols for window in _hint.get(symbol, ())]


def learn_pairs(pairs: Iterable[tuple[str, int]]) -> None:
    """Pairs a probe found with active window alerts, for ``hinted_pairs``; and every pair, read from the
    database, when the hint is older than HINT_SECONDS."""
    global _hint, _hint_read_at
    now = time.monotonic()
    if _hint_read_at is None or now - _hint_read_at >= HINT_SECONDS:
        hint: dict[str, set[int]] = {}
        with connection.cursor() as cursor:
            cursor.execute(window_pairs_query())
            for symbol, window_seconds in cursor.fetchall():
                hint.setdefault(symbol, set()).add(window_seconds)
        _hint, _hint_read_at = hint, now
    for symbol, window_seconds in pairs:
        _hint.setdefault(symbol, set()).add(window_seconds)


def probe(symbols: Sequence[str]) -> dict[tuple[str, int], Thresholds]:
    """(symbol, window) -> thresholds, for the moved symbols' active window alerts (one statement)."""
    with connection.cursor() as cursor:
        cursor.execute(*window_probe_query(symbols))
        rows = cursor.fetchall()
    return thresholds_of(rows)


def thresholds_of(rows) -> dict[tuple[str, int], Thresholds]:
    """(symbol, window) -> thresholds from the window probe's rows."""
    return {
        (symbol, window_seconds): Thresholds(_decimal(up), _decimal(down), _decimal(volume), rearm_due)
        for symbol, window_seconds, up, down, volume, rearm_due in rows
    }


def _decimal(value) -> Decimal | None:
    # SQLite hands numeric columns back as int or float: their shortest repr is the stored value.
    return None if value is None else value if isinstance(value, Decimal) else Decimal(repr(value))


def evaluate_window_alerts(
    windows: Sequence[PriceWindow],
    *,
    pairs: dict[tuple[str, int], Thresholds] | None = None,
    prepared: Prepared | None = None,
) -> int:
    """Fire (and re-arm) the window alerts the batch's traded seconds reach; returns the firings.

    Runs in the caller's transaction (the tick's). Re-arming and firing
    alternate until nothing changes, as for price alerts, so the result does
    not depend on how the trades were split into ticks. ``pairs``: the window
    probe's answer for these windows' symbols, if the caller already asked;
    ``prepared``: what ``prepare`` read for some of them (for exactly these
    windows), if the caller already did.
    """
    if pairs is None:
        symbols = sorted({window.symbol for window in windows})
        pairs = probe(symbols) if symbols else {}
    if not pairs:
        return 0
    with_alerts = {symbol for symbol, _ in pairs}
    missing = with_alerts - (prepared.symbols if prepared is not None else frozenset())
    if missing:
        more = prepare(windows, missing)
        prepared = more if prepared is None else _joined(prepared, more)
    seconds = {symbol: ms for symbol, ms in prepared.seconds.items() if symbol in with_alerts}
    if not seconds:
        return 0
    needed = needing_exact(pairs, prepared)
    if not needed:
        return 0
    rows = judge({pair: pairs[pair] for pair in needed}, seconds)
    # The no-fire tick ends here. Otherwise every judged second goes in: one under the
    # threshold may re-arm an alert that fires earlier in the same batch.
    if not any(may_matter(row, pairs[(row.symbol, row.window_seconds)]) for row in rows):
        return 0
    fired_total = 0
    for _ in range(len(rows) + 1):
        rearmed = _run(window_rearm_query, rows)
        fired = _run(window_trigger_query, rows)
        if rearmed:
            invalidate_alert_lists({user_id for _, user_id in rearmed})
        if fired:
            write_notifications(fired)
            fired_total += len(fired)
        if not rearmed and not any_repeating(fired):
            break
    return fired_total


def any_repeating(fired: list[tuple[int, int]]) -> bool:
    """A repeating alert that fired may re-arm and fire again on later seconds of the same batch."""
    if not fired:
        return False
    return Alert.objects.filter(
        pk__in=[alert_id for alert_id, _ in fired], repeat=Alert.Repeat.EVERY
    ).exists()


def _run(query, rows: list[Judged]) -> list[tuple[int, int]]:
    changed = []
    with connection.cursor() as cursor:
        for kind in Alert.WINDOW_KINDS:
            cursor.execute(*query(kind, rows))
            changed += [(alert_id, user_id) for alert_id, user_id in cursor.fetchall()]
    return changed
