"""The alert engine: turn price windows from the stream into triggered alerts, exactly once.

A tick reads the feeder's windows after the checkpoint, asks the database which
moved symbols have a waiting alert that the windows crossed (one statement of
per-symbol index probes: the no-fire tick costs almost nothing), and only for
those runs a conditional ``UPDATE ... WHERE status = 'created' ... RETURNING``.
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

An alert fires only on prices seen after it was created: a window counts for an
alert only if the window's last event is later than the alert's creation. The
windows of a batch are not merged blindly across stream entries (a merged high
could come from before an alert that was created mid-batch): each crossing
statement carries the symbol's windows as a staircase of (last event, high)
pairs, so every alert is judged on exactly the windows that came after it.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from alerts.cache import invalidate_alert_lists
from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds import store
from feeds.windows import PriceWindow

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = "default"
# Stream entries read per transaction: a tick is ~5 entries; a catch-up after
# downtime commits every batch, so a crash loses at most one batch of work.
BATCH_ENTRIES = 1000

# Alert ids per notification INSERT: well under SQLite's bound-parameter limit.
NOTIFICATION_CHUNK = 5000

ALERT_TABLE = Alert._meta.db_table
CHECKPOINT_TABLE = EvaluationCheckpoint._meta.db_table
NOTIFICATION_TABLE = Notification._meta.db_table
USER_TABLE = get_user_model()._meta.db_table


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one evaluation tick did."""

    entries: int  # stream entries read
    fired: int  # alerts triggered
    batches: int  # transactions committed
    stream_id: str  # the checkpoint after the tick


@dataclass(frozen=True, slots=True)
class Step:
    """One rung of a crossing staircase: alerts created before ``before_ms`` saw ``price``."""

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


def crossing_query(extremes: dict[str, tuple[Decimal, Decimal]]) -> tuple[str, list]:
    """SQL: for each moved symbol (high, low), is any waiting above/below target crossed?

    Two index probes per moved symbol on alert_waiting_target_idx, each stopping
    at its first row. The comparison runs in the database, the same way the
    UPDATE compares, so both always agree.
    """
    if connection.vendor == "postgresql":
        # Three array parameters instead of three per symbol: building and
        # sending the statement stays cheap however many symbols moved.
        moved = "SELECT * FROM unnest(%s::text[], %s::numeric[], %s::numeric[])"
        params: list = [
            list(extremes),
            [high for high, _ in extremes.values()],
            [low for _, low in extremes.values()],
        ]
    else:
        moved = "VALUES " + ", ".join(["(%s, CAST(%s AS NUMERIC), CAST(%s AS NUMERIC))"] * len(extremes))
        params = []
        for symbol, (high, low) in extremes.items():
            params += [symbol, _db_decimal(high), _db_decimal(low)]
    sql = f"""
        WITH moved(symbol, high, low) AS ({moved})
        SELECT moved.symbol,
            EXISTS (SELECT 1 FROM {ALERT_TABLE} a
                    WHERE a.status = 'created' AND a.symbol = moved.symbol
                      AND a.direction = 'above' AND a.target_price <= moved.high),
            EXISTS (SELECT 1 FROM {ALERT_TABLE} a
                    WHERE a.status = 'created' AND a.symbol = moved.symbol
                      AND a.direction = 'below' AND a.target_price >= moved.low)
        FROM moved
    """
    return sql, params


def _crossed_directions(extremes: dict[str, tuple[Decimal, Decimal]]) -> list[tuple[str, str]]:
    """(symbol, direction) pairs where some waiting alert's target is within the windows' range."""
    with connection.cursor() as cursor:
        cursor.execute(*crossing_query(extremes))
        rows = cursor.fetchall()
    crossed = []
    for symbol, above, below in rows:
        if above:
            crossed.append((symbol, Alert.Direction.ABOVE))
        if below:
            crossed.append((symbol, Alert.Direction.BELOW))
    return crossed


def trigger_query(symbol: str, direction: str, steps: list[Step]) -> tuple[str, list]:
    """SQL: trigger the waiting alerts of one symbol and direction that the steps crossed.

    Each alert gets the best price it saw and that window's last event time.
    The index serves ``symbol, direction, target_price`` up to the best price;
    the staircase then keeps only alerts older than a crossing window.
    """
    compare = "<=" if direction == Alert.Direction.ABOVE else ">="
    # Kept step prices worsen with time, so the first step is the best price of all.
    best = steps[0].price
    crossing = " OR ".join([f"(created_at < %s AND target_price {compare} %s)"] * len(steps))
    price_case = " ".join(["WHEN created_at < %s THEN %s"] * len(steps))
    time_case = " ".join(["WHEN created_at < %s THEN %s"] * len(steps))
    price_params, time_params, crossing_params = [], [], []
    for step in steps:
        before = _db_datetime(step.before_ms)
        price_params += [before, _db_decimal(step.price)]
        time_params += [before, before]
        crossing_params += [before, _db_decimal(step.price)]
    sql = f"""
        UPDATE {ALERT_TABLE}
        SET status = 'triggered',
            triggered_price = CASE {price_case} END,
            triggered_at = CASE {time_case} END
        WHERE status = 'created' AND symbol = %s AND direction = %s
          AND target_price {compare} %s AND ({crossing})
        RETURNING id, user_id
    """
    params = [
        *price_params,
        *time_params,
        symbol,
        direction,
        _db_decimal(best),
        *crossing_params,
    ]
    return sql, params


def _trigger(symbol: str, direction: str, steps: list[Step]) -> list[tuple[int, int]]:
    """(alert id, user id) of exactly the rows this statement changed.

    The ``status = 'created'`` condition makes a concurrent or repeated
    evaluation change nothing twice.
    """
    with connection.cursor() as cursor:
        cursor.execute(*trigger_query(symbol, direction, steps))
        return [(alert_id, user_id) for alert_id, user_id in cursor.fetchall()]


def _enqueue_sends(notification_ids: list[int]) -> None:
    # Imported here: tasks imports this module.
    from alerts.tasks import enqueue_notifications

    enqueue_notifications(notification_ids)


def _insert_notifications(alert_ids: list[int]) -> list[int]:
    """One pending email Notification per alert, to its owner's address; returns their ids.

    Set-based (INSERT ... SELECT joining the users): thousands of rows cost one
    statement, not thousands of model instances.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    qn = connection.ops.quote_name
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(alert_ids), NOTIFICATION_CHUNK):
            chunk = alert_ids[start : start + NOTIFICATION_CHUNK]
            if connection.vendor == "postgresql":
                match, params = "a.id = ANY(%s)", [chunk]
            else:
                match, params = f"a.id IN ({', '.join(['%s'] * len(chunk))})", chunk
            cursor.execute(
                f"""
                INSERT INTO {NOTIFICATION_TABLE}
                    (alert_id, channel, {qn("to")}, status, attempts, last_error, created_at)
                SELECT a.id, 'email', u.email, 'pending', 0, '', %s
                FROM {ALERT_TABLE} a JOIN {USER_TABLE} u ON u.id = a.user_id
                WHERE {match}
                RETURNING id
                """,
                [now, *params],
            )
            ids += [row[0] for row in cursor.fetchall()]
    return ids


def _write_notifications(fired: list[tuple[int, int]]) -> list[int]:
    """The outbox: notification rows in this transaction, their sends enqueued once it commits."""
    ids = _insert_notifications([alert_id for alert_id, _ in fired])
    invalidate_alert_lists({user_id for _, user_id in fired})
    transaction.on_commit(lambda: _enqueue_sends(ids))
    return ids


def evaluate_windows(windows: Iterable[PriceWindow]) -> int:
    """Trigger every waiting alert these windows crossed; returns how many fired.

    ``windows`` may hold several windows per symbol (several stream entries);
    each alert is judged only on the windows whose last event is after its
    creation. Runs in the caller's transaction if there is one.
    """
    by_symbol: dict[str, list[PriceWindow]] = defaultdict(list)
    for window in windows:
        by_symbol[window.symbol].append(window)
    if not by_symbol:
        return 0
    extremes = {symbol: (max(w.high for w in ws), min(w.low for w in ws)) for symbol, ws in by_symbol.items()}
    with transaction.atomic(savepoint=False):
        crossed = _crossed_directions(extremes)
        if not crossed:
            return 0
        fired: list[tuple[int, int]] = []
        for symbol, direction in crossed:
            fired += _trigger(symbol, direction, staircase(by_symbol[symbol], direction))
        if fired:
            _write_notifications(fired)
    if fired:
        logger.info("Triggered %d alerts on %d symbol directions", len(fired), len(crossed))
    return len(fired)


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
    """One transaction: lock the checkpoint, read a batch, fire, move the checkpoint."""
    with transaction.atomic():
        after_id = _lock_checkpoint(name, now)
        entries = store.read_windows(after_id, count=batch_entries)
        if not entries:
            after_id = _behind_a_new_stream(after_id)
            _save_checkpoint(name, after_id, fired=0)
            return 0, 0, after_id
        fired = evaluate_windows(window for _, windows in entries for window in windows)
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
