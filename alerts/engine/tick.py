"""One evaluation tick, top to bottom: checkpoint, batch, windows, evaluate, outbox.

``evaluate_pending`` is the whole story; the functions under it are its
chapters, in the order a batch runs them:

1. checkpoint: lock this evaluator's checkpoint row (``_lock_checkpoint``);
2. batch: read the stream entries after it (``feeds.store.read_windows``);
3. windows: every window of every entry, each keeping its own event times;
4. evaluate: the window kinds on the seconds those windows traded in
   (``alerts.engine.windows``), then fire and expire on exactly those windows
   (``alerts.engine.evaluation.evaluate_with_expiry``); both write the
   Notification rows of what fired in the same transaction (the outbox);
5. move the checkpoint and commit (``_save_checkpoint``); on commit the outbox
   enqueues the sends.

On PostgreSQL a batch first tries the short way (``_quiet_batch``): read from
the checkpoint this process last committed, and probe and move the checkpoint
(compare-and-set) in one statement that moves it only if there is nothing to
do; otherwise the chapters above run, with what that attempt read and learnt.

After the tick, the stream is trimmed up to the oldest committed checkpoint of
all evaluators (``_trim_read_entries``), never past it. A checkpoint entry
found gone means entries were lost unread: logged and recorded for operators
(``_report_loss``), and the span is refetched from REST by the feeder
(``feeds.refetch``). With nothing to read, alerts expire by the clock, but
never past the feeder's event-time watermark (``expiry_horizon``).
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from alerts.dialect import dialect
from alerts.engine.evaluation import evaluate_with_expiry, expire_alerts
from alerts.engine.probe import BatchProbe, probe_batch, probe_unless_idle
from alerts.engine.windows import (
    Prepared,
    evaluate_window_alerts,
    hinted_pairs,
    learn_pairs,
    prepare,
    reach_rows,
)
from alerts.models import EvaluationCheckpoint
from alerts.selectors import oldest_checkpoint
from feeds import store

logger = logging.getLogger(__name__)

# Stream entries read per transaction: a tick is ~5 entries; a catch-up after
# downtime commits every batch, so a crash loses at most one batch of work.
BATCH_ENTRIES = 1000
# With nothing in the stream, alerts expire by the wall clock less this much: a
# trade made just before an expiry may still be on its way through the feeder.
EXPIRY_GRACE = timedelta(seconds=5)
CHECKPOINT_TABLE = EvaluationCheckpoint._meta.db_table
# A stream entry holds trades made up to a flush (and a Redis retry) before it was written.
REFETCH_MARGIN_MS = 5_000
# Per evaluator name, the checkpoint this process last committed: where its next batch starts reading,
# before the database confirms it (``_quiet_batch``; a wrong guess only costs that read).
_last_committed: dict[str, str] = {}


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
        batch = _evaluate_batch(name, batch_entries, now or timezone.now())
        batches += 1
        total_entries += batch.entries
        total_fired += batch.fired
        if batch.entries < batch_entries or time.monotonic() - started >= max_seconds:
            break
    _trim_read_entries(batch.stream_id if batch.alone else None)
    return TickResult(entries=total_entries, fired=total_fired, batches=batches, stream_id=batch.stream_id)


@dataclass(frozen=True, slots=True)
class _Batch:
    entries: int
    fired: int
    stream_id: str  # the checkpoint it committed
    alone: bool  # no other evaluator's checkpoint existed when it locked its own


def _trim_read_entries(own_checkpoint: str | None) -> None:
    """Drop the stream entries every evaluator has read (committed), keeping the oldest checkpoint's own.

    Kept, it tells a later read that nothing was lost from under it. An
    evaluator at "0" (never read) keeps everything; the feeder's MAXLEN safety
    bound still applies. ``own_checkpoint``: the one just committed, when this
    is the only evaluator (the lock said so): no query needed.
    """
    oldest = own_checkpoint if own_checkpoint is not None else oldest_checkpoint()
    if oldest is not None:
        store.trim_stream_before(oldest)


def expiry_horizon(now: datetime, watermark: datetime | None) -> datetime:
    """How far alerts may expire by the clock: ``now`` less the grace, but not past the feeder's watermark.

    The watermark is when the feeder last collected what it has written, held
    back while a window waits in a Redis retry or a followed symbol's trades
    may still be missing (a connection down, a backfill running): the alert
    such a window crosses is still waiting when it lands. No watermark (no
    feeder for ``store.WATERMARK_TTL_SECONDS``): the clock alone.
    """
    until = now if watermark is None else min(now, watermark)
    return until - EXPIRY_GRACE


def _evaluate_batch(name: str, batch_entries: int, now: datetime) -> _Batch:
    """One batch: as one statement where it is quiet (``_quiet_batch``), else in a locked transaction."""
    checkpoint = _last_committed.get(name)
    prefetched = None
    if checkpoint is not None and dialect().updates_in_with:
        read = store.read_batch(checkpoint, count=batch_entries)
        quiet = _quiet_batch(name, checkpoint, read, now)
        if isinstance(quiet, _Batch):
            _last_committed[name] = quiet.stream_id
            return quiet
        prefetched = _Prefetched(checkpoint, read, *quiet)
    batch = _locked_batch(name, batch_entries, now, prefetched)
    _last_committed[name] = batch.stream_id
    return batch


@dataclass(frozen=True, slots=True)
class _Prefetched:
    """What a batch learnt before it took the lock: the read from ``checkpoint``, and the probes'
    answer for exactly its entries (None: not asked)."""

    checkpoint: str
    read: store.Batch
    probe: BatchProbe | None
    prepared: Prepared | None  # what the window pass's bound read, for some of the symbols


def _quiet_batch(
    name: str, checkpoint: str, read: store.Batch, now: datetime
) -> _Batch | tuple[BatchProbe | None, Prepared | None]:
    """The batch read after ``checkpoint`` (this process's last commit), if it is quiet: one statement.

    Most ticks fire nothing, and then the transaction around them (BEGIN, the
    lock, COMMIT: three of a quiet tick's five round trips) guards nothing. The
    probes run with the checkpoint's move in one statement, in autocommit
    (``statements.idle_probe_query``), and the move is a compare-and-set: it
    happens only if the probes find nothing to do and the checkpoint is still
    the one the read started from. The probes' snapshot is one the locked
    path's probe statement could have had as well: exactly the same alerts are
    judged on the same windows.

    Window alerts: the window pass's bound (``windows.reach_rows``) is
    computed first for the pairs known to have window alerts (``hinted_pairs``)
    and the statement compares every window alert of the moved symbols with it.

    Otherwise nothing was written, and the locked transaction runs the batch:
    with the probes' answer and what the bound read (returned) if they found
    work, to be used if the lock finds the checkpoint unmoved; with nothing if
    entries were lost or there were none.
    """
    _, entries, first_left = read
    if first_left is not None or not entries:
        return None, None
    last_id = entries[-1][0]

    def move(condition: str, params: list) -> tuple[str, list]:
        sql = (
            f"UPDATE {CHECKPOINT_TABLE} SET stream_id = %s, evaluated_at = %s"
            f" WHERE name = %s AND stream_id = %s AND {condition} AND {dialect().quiet_commit()}"
            f" RETURNING (SELECT COUNT(*) FROM {CHECKPOINT_TABLE} other WHERE other.name <> %s)"
        )
        return sql, [last_id, connection.ops.adapt_datetimefield_value(now), name, checkpoint, *params, name]

    windows = [window for _, batch in entries for window in batch]
    pairs = hinted_pairs(sorted({window.symbol for window in windows}))
    prepared = prepare(windows, {symbol for symbol, _ in pairs}) if pairs else None
    reach = reach_rows(pairs, prepared) if prepared is not None else []
    probe, others = probe_unless_idle(windows, move, reach)
    if others is None:
        return probe, prepared
    return _Batch(len(entries), 0, last_id, others == 0)


def _locked_batch(name: str, batch_entries: int, now: datetime, prefetched: _Prefetched | None) -> _Batch:
    """One transaction: lock the checkpoint, read a batch, fire and expire, move the checkpoint.

    ``prefetched``: what was learnt from some checkpoint before the lock, used
    if the lock finds the checkpoint there. Its read's watermark was read before
    its entries all the same. Its probes' answer may be older than the lock, and
    that is safe: no evaluator committed work meanwhile (the checkpoint would
    have moved, but for clock expiry, which only takes alerts away, and a probe
    hit is a superset of the work anyway), and an alert made or changed
    meanwhile is armed after these windows' trades, as it would be against a
    probe made after the lock.
    """
    with transaction.atomic():
        after_id, alone = _lock_checkpoint(name, now)
        known = prefetched if prefetched is not None and prefetched.checkpoint == after_id else None
        # The watermark is read before the stream (same round trip): every trade before it is in
        # what the read returns (unless cut short).
        if known is not None:
            watermark, entries, first_left = known.read
        else:
            watermark, entries, first_left = store.read_batch(after_id, count=batch_entries)
        if first_left is not None:
            _report_loss(name, after_id, first_left)
            if not first_left:
                # Nothing at or after the checkpoint: a replaced Redis (or one whose clock went
                # back) writes ids behind it; read the stream from its start, not never again.
                after_id = "0"
        if not entries:
            # Caught up: what is past its expiry (less the grace, up to the watermark) expires.
            expired = expire_alerts(expiry_horizon(now, watermark))
            _save_checkpoint(name, after_id, durable=bool(expired))
            return _Batch(0, 0, after_id, alone)
        windows = [window for _, batch in entries for window in batch]
        complete = (
            expiry_horizon(now, watermark) if watermark is not None and len(entries) < batch_entries else None
        )
        last_id = entries[-1][0]
        # Both probes in one statement (unless asked before the lock), with the checkpoint's move where
        # the database can; window kinds first: expiry below must not end an alert a second before its
        # expiry reached. Quiet (no wait for the WAL flush) until something fires: then ``durable_commit``.
        asked = known.probe if known is not None else None
        moving = dialect().updates_in_with and asked is None
        move = _checkpoint_move(name, last_id, durable=False) if moving else None
        probe = asked if asked is not None else probe_batch(windows, also=move)
        if dialect().updates_in_with:  # where quiet batches run (``_quiet_batch``)
            learn_pairs(probe.window_pairs)
        prepared = known.prepared if known is not None else None
        fired = evaluate_window_alerts(
            windows, pairs=probe.window_pairs, prepared=prepared
        ) + evaluate_with_expiry(windows, complete_through=complete, reach=probe.reach)
        if not moving:
            _save_checkpoint(name, last_id, durable=bool(fired))
        elif fired:
            dialect().durable_commit()
    return _Batch(len(entries), fired, last_id, alone)


def _lock_checkpoint(name: str, now: datetime) -> tuple[str, bool]:
    """Lock this evaluator's checkpoint row for the transaction: its stream id, and whether it is alone.

    A write first: on PostgreSQL it takes the row lock (a second evaluator waits
    here, then sees the committed checkpoint); on SQLite it takes the database
    write lock before anything is read, so the transaction never has to upgrade
    a read lock (which SQLite refuses under contention). The count of the
    others (in the same round trip) spares the stream trim a query when there
    are none, the usual case.
    """
    sql = (
        f"UPDATE {CHECKPOINT_TABLE} SET evaluated_at = %s WHERE name = %s"
        f" RETURNING stream_id, (SELECT COUNT(*) FROM {CHECKPOINT_TABLE} other WHERE other.name <> %s)"
    )
    params = [connection.ops.adapt_datetimefield_value(now), name, name]
    rows = dialect().fetch_prepared(sql, params)
    if not rows:
        EvaluationCheckpoint.objects.get_or_create(name=name)
        rows = dialect().fetch_prepared(sql, params)
    stream_id, others = rows[0]
    return stream_id, others == 0


def _report_loss(name: str, checkpoint: str, first_left: str) -> None:
    """Entries after the checkpoint may have gone unread: say so, and ask the feeder to refetch them.

    The lost trades were made between the checkpoint entry's time (less
    ``REFETCH_MARGIN``: an entry holds trades made a little before it was
    written) and the first entry left (or now). The feeder's backfill worker
    fetches that span from REST and writes it to the stream again
    (``feeds.refetch``); reading a window twice fires nothing twice.
    """
    where = f"the stream now starts at {first_left}" if first_left else "nothing is left at or after it"
    description = f"checkpoint {checkpoint} was gone, {where}: entries after it may be lost"
    logger.error("Evaluator %s: %s (Redis lost its data, or the safety bound trimmed it)", name, description)
    from_ms = store.stream_id_ms(checkpoint) - REFETCH_MARGIN_MS
    until_ms = store.stream_id_ms(first_left) if first_left else int(time.time() * 1000)
    try:
        store.record_stream_loss(name, f"{description}; refetch from REST requested")
        store.request_refetch(from_ms, until_ms, name)
    except Exception as exc:  # the log line stands; the tick goes on
        logger.warning("could not record the stream loss: %s", exc)


def _save_checkpoint(name: str, stream_id: str, *, durable: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(*_checkpoint_move(name, stream_id, durable=durable))


def _checkpoint_move(name: str, stream_id: str, *, durable: bool) -> tuple[str, list]:
    """SQL: move the checkpoint. Not ``durable``: a commit that changed nothing else need not wait for the
    WAL flush (``Dialect.quiet_commit``, in the same statement). Run alone (``_save_checkpoint``), or as
    a CTE of the batch's probe where the database runs UPDATE inside WITH."""
    quiet = "" if durable else f" AND {dialect().quiet_commit()}"
    return f"UPDATE {CHECKPOINT_TABLE} SET stream_id = %s WHERE name = %s{quiet}", [stream_id, name]
