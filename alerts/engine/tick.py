"""One evaluation tick, top to bottom: checkpoint, batch, windows, evaluate, outbox.

``evaluate_pending`` is the whole story; the functions under it are its
chapters, in the order a batch runs them:

1. checkpoint: lock this evaluator's checkpoint row (``_lock_checkpoint``);
2. batch: read the stream entries after it (``feeds.store.read_windows``);
3. windows: every window of every entry, each keeping its own event times;
4. evaluate: fire and expire on exactly those windows
   (``alerts.engine.evaluation.evaluate_with_expiry``), which writes the
   Notification rows of what fired in the same transaction (the outbox);
5. move the checkpoint and commit (``_save_checkpoint``); on commit the outbox
   enqueues the sends.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from alerts.dialect import dialect
from alerts.engine.evaluation import evaluate_with_expiry, expire_alerts
from alerts.models import EvaluationCheckpoint
from feeds import store

logger = logging.getLogger(__name__)

# Stream entries read per transaction: a tick is ~5 entries; a catch-up after
# downtime commits every batch, so a crash loses at most one batch of work.
BATCH_ENTRIES = 1000
# With nothing in the stream, alerts expire by the wall clock less this much: a
# trade made just before an expiry may still be on its way through the feeder.
EXPIRY_GRACE = timedelta(seconds=5)
CHECKPOINT_TABLE = EvaluationCheckpoint._meta.db_table


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one evaluation tick did."""

    entries: int  # stream entries read
    fired: int  # alerts triggered
    batches: int  # transactions committed
    stream_id: str  # the checkpoint after the tick


def evaluate_pending(
    *,
    name: str = EvaluationCheckpoint.DEFAULT,
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


def _entry_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _save_checkpoint(name: str, stream_id: str, *, fired: int) -> None:
    if not fired:
        dialect().before_checkpoint_only_commit()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {CHECKPOINT_TABLE} SET stream_id = %s WHERE name = %s", [stream_id, name])
