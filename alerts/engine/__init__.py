"""The alert engine: turn price windows from the stream into triggered alerts, exactly once.

A tick (``tick.evaluate_pending``) reads the feeder's windows after the
checkpoint, asks the database which moved symbols have an alert whose watched
price the windows reached (one statement of two index probes per symbol: the
no-fire tick costs almost nothing), and only for those runs a conditional
``UPDATE ... WHERE status = 'created' ... RETURNING``, one per direction for all
such symbols. Notification rows and the new checkpoint are written in the same
transaction, and the sends are enqueued once it commits.

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

Repeating alerts go from ``created`` to ``rearming`` when they fire; a second
set-based UPDATE puts them back to ``created`` once a window after their
cooldown passed the re-arm price (the hysteresis band). One partial index
serves both: a waiting alert watches its target in its direction, a fired one
its re-arm price the other way (the generated columns ``watch_direction`` and
``watch_price``). Re-arming and firing alternate within a batch until nothing
moves, so the result does not depend on how windows are split into ticks.
Expiry is exact in event time too: a batch is cut at every expiry inside its
span, and alerts expire between the pieces (``evaluate_with_expiry``).

The rooms: ``tick`` (the story of a tick), ``probe`` (a batch's probes, price
and window kinds, in one statement), ``evaluation`` (one pass over a set of
windows, and expiry), ``windows`` (the window kinds), ``statements`` (the SQL),
``rungs`` (the pure maths); the PostgreSQL/SQLite differences are in
``alerts.dialect``, the outbox in ``alerts.delivery.outbox`` (on PostgreSQL its
INSERT runs inside the trigger statement).
"""

# What the rest of the project uses: the tick (Celery, benchmarks), one pass over
# given windows (tests), the staircase (tests) and the statements (benchmarks' EXPLAIN).
from alerts.engine.evaluation import evaluate_windows, evaluate_with_expiry
from alerts.engine.rungs import staircase
from alerts.engine.statements import crossing_query, trigger_query
from alerts.engine.tick import TickResult, evaluate_pending

__all__ = [
    "TickResult",
    "crossing_query",
    "evaluate_pending",
    "evaluate_windows",
    "evaluate_with_expiry",
    "staircase",
    "trigger_query",
]
