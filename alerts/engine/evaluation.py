"""One evaluation pass over a set of windows: probe, re-arm, fire, write the outbox; and expiry.

``evaluate_windows`` runs the statements of ``alerts.engine.statements`` in the
caller's transaction: the probes first (usually the whole cost: nothing moved
far enough), then, only for the (symbol, direction) pairs they hit, the re-arm
and trigger UPDATEs, and the Notification rows of what fired
(``alerts.delivery.outbox``). ``evaluate_with_expiry`` cuts the windows at every
expiry inside them, so alerts expire exactly in event time.
"""

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import connection, transaction

from alerts.cache import invalidate_alert_lists
from alerts.delivery.outbox import insert_notifications, notifications_written
from alerts.dialect import dialect
from alerts.engine.rungs import Extremes, group_by_symbol, symbol_extremes
from alerts.engine.statements import crossing_query, rearm_query, trigger_query
from alerts.models import Alert, Notification
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

logger = logging.getLogger(__name__)

OTHER_DIRECTION = {Alert.Direction.ABOVE: Alert.Direction.BELOW, Alert.Direction.BELOW: Alert.Direction.ABOVE}


@dataclass(frozen=True, slots=True)
class Reach:
    """What the probes found for one set of windows."""

    by_symbol: dict[str, list[PriceWindow]]
    extremes: dict[str, Extremes]
    # (symbol, direction) whose waiting alerts may have been crossed: a watch hit
    crossed: list[tuple[str, str]]
    first_expiry: datetime | None  # the earliest expiry of any active alert

    @property
    def rearm(self) -> list[tuple[str, str]]:
        """(symbol, direction) whose fired repeating alerts may re-arm: each watch hit
        also stands for a re-arm price passed by alerts of the other direction."""
        return [(symbol, OTHER_DIRECTION[direction]) for symbol, direction in self.crossed]


def reached(by_symbol: dict[str, list[PriceWindow]]) -> Reach:
    """Ask the probes (one statement) which moved symbols have work, and the first expiry."""
    extremes = symbol_extremes(by_symbol)
    with connection.cursor() as cursor:
        cursor.execute(*crossing_query(extremes))
        rows = cursor.fetchall()
    return reach_of(by_symbol, extremes, rows)


def reach_of(by_symbol: dict[str, list[PriceWindow]], extremes: dict[str, Extremes], rows) -> Reach:
    """The ``Reach`` that the crossing probes' rows (symbol, above, below, first expiry) say."""
    crossed = []
    first_expiry = None
    for symbol, watched_above, watched_below, expiry in rows:
        first_expiry = first_expiry or expiry
        if watched_above:
            crossed.append((symbol, Alert.Direction.ABOVE))
        if watched_below:
            crossed.append((symbol, Alert.Direction.BELOW))
    return Reach(by_symbol, extremes, crossed, dialect().computed_datetime(first_expiry))


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
    by_symbol = reach.by_symbol if reach else group_by_symbol(windows)
    if not by_symbol:
        return 0
    fired_total = 0
    with transaction.atomic(savepoint=False):
        reach = reach or reached(by_symbol)
        extremes = reach.extremes
        crossed, rearm = reach.crossed, reach.rearm
        if not crossed and not rearm:
            return 0
        dialect().before_firing()
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
            # Where the firing statements write the Notification rows themselves: their rows to send.
            written: list[tuple[int, int]] | None = [] if dialect().updates_in_with else None
            repeating: set[tuple[str, str]] = set()
            for direction in Alert.Direction.values:
                symbols = dict.fromkeys(s for s, d in [*crossed, *rearmed] if d == direction)
                if not symbols:
                    continue
                rows, sends = _trigger(direction, {s: by_symbol[s] for s in symbols})
                if written is not None:
                    written += sends
                for alert_id, user_id, symbol, after in rows:
                    fired.append((alert_id, user_id))
                    # Another round only if a cooldown that just started ends within these
                    # windows (a catch-up batch): in a live tick, never.
                    if after is not None and after < extremes[symbol][2]:
                        repeating.add((symbol, direction))
            if fired:
                # Written per round: each firing's row reads the alert's price and time as
                # this round left them (a later round may fire the same alert again).
                if written is None:
                    written = insert_notifications(fired)
                notifications_written(written, {user_id for _, user_id in fired})
                fired_total += len(fired)
            crossed, rearm = [], sorted(repeating)
    if fired_total:
        logger.info("Triggered %d alerts", fired_total)
    return fired_total


def _run(query, direction: str, by_symbol: dict[str, Sequence[PriceWindow]], *, search_per_row: bool):
    rows = []
    with connection.cursor() as cursor:
        for group in dialect().statement_groups(by_symbol, search_per_row=search_per_row):
            cursor.execute(*query(direction, group))
            rows += cursor.fetchall()
    return rows


def _trigger(
    direction: str, by_symbol: dict[str, Sequence[PriceWindow]]
) -> tuple[list[tuple[int, int, str, int | None]], list[tuple[int, int]]]:
    """(alert id, user id, symbol, re-arm after ms or None) of exactly the rows these statements changed,
    and, where the statements also wrote their Notification rows, the (id, user id) of those to send.

    The ``status = 'created'`` condition makes a concurrent or repeated
    evaluation change nothing twice.
    """
    if not dialect().updates_in_with:
        return _run(trigger_query, direction, by_symbol, search_per_row=True), []
    rows = _run(partial(trigger_query, with_notifications=True), direction, by_symbol, search_per_row=True)
    fired = [
        (alert_id, user_id, symbol, after)
        for kind, alert_id, user_id, symbol, after in rows
        if kind == "alert"
    ]
    sends = [
        (row_id, user_id)
        for kind, row_id, user_id, status, _ in rows
        if kind == "notification" and status == Notification.Status.PENDING
    ]
    return fired, sends


def _rearm(direction: str, by_symbol: dict[str, Sequence[PriceWindow]]) -> list[tuple[int, int, str]]:
    """(alert id, user id, symbol) of the alerts re-armed (conditional on ``rearming``, like a trigger)."""
    return _run(rearm_query, direction, by_symbol, search_per_row=False)


def expiry_times(until: datetime) -> list[datetime]:
    """The distinct expiry times, up to ``until``, of alerts that can still expire (index-served)."""
    return list(
        Alert.objects.filter(
            status__in=Alert.ACTIVE_STATUSES, expires_at__isnull=False, expires_at__lte=until
        )
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .distinct()
    )


def expire_alerts(until: datetime, symbols: Collection[str] | None = None) -> int:
    """Expire every waiting or re-arming alert whose ``expires_at`` is at or before ``until``.

    ``symbols``: only alerts on these (None: every symbol).
    """
    if symbols is not None and not symbols:
        return 0
    with transaction.atomic(savepoint=False):
        expiring = Alert.objects.filter(
            status__in=Alert.ACTIVE_STATUSES, expires_at__isnull=False, expires_at__lte=until
        )
        if symbols is not None:
            expiring = expiring.filter(symbol__in=sorted(symbols))
        users = set(expiring.values_list("user_id", flat=True).distinct())
        if not users:
            return 0
        expired = expiring.update(status=Alert.Status.EXPIRED, rearm_after_ms=None)
        invalidate_alert_lists(users)
    logger.info("Expired %d alerts", expired)
    return expired


def evaluate_with_expiry(
    windows: Sequence[PriceWindow], *, complete_through: datetime | None = None, reach: Reach | None = None
) -> int:
    """``evaluate_windows``, with alerts expiring exactly at their ``expires_at`` in event time.

    A window counts for an alert only if its last event is at or before the
    alert's expiry. The probes say whether any expiry falls by the last window
    (usually not: no other statement). If some do, the windows are evaluated in
    segments cut at each expiry time, expiring those alerts between segments.

    An alert expires at a cut only once every trade of its symbol before the
    cut is known to be in: the batch holds a window of that symbol ending at
    or after the cut (the feeder writes each symbol's trades in event order,
    backfills first), or the cut is at or before ``complete_through`` (the
    feeder's watermark, read before the batch). Any other alert stays active
    and cannot fire late: no window of its symbol after the cut is in the
    batch; it expires on a later tick, when its symbol's trades are in.
    ``reach``: the probes' answer for exactly these windows, if the caller already asked.
    """
    if not windows:
        return 0
    with transaction.atomic(savepoint=False):
        reach = reach or reached(group_by_symbol(windows))
        end = ms_to_datetime(max(last_ms for _, _, last_ms in reach.extremes.values()))
        if reach.first_expiry is None or reach.first_expiry > end:
            return evaluate_windows(windows, reach=reach)
        ordered = sorted(windows, key=lambda w: w.last_event_ms)
        latest = {symbol: ms_to_datetime(last_ms) for symbol, (_, _, last_ms) in reach.extremes.items()}
        fired = start = 0
        for boundary in expiry_times(end):
            stop = start
            while stop < len(ordered) and ms_to_datetime(ordered[stop].last_event_ms) <= boundary:
                stop += 1
            if stop > start:
                fired += evaluate_windows(ordered[start:stop])
                start = stop
            if complete_through is not None and boundary <= complete_through:
                expire_alerts(boundary)
            else:
                expire_alerts(boundary, [symbol for symbol, at in latest.items() if at >= boundary])
        return fired + evaluate_windows(ordered[start:])
