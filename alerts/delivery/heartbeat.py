"""The heartbeat of a sending batch: its claims' leases renewed while its process lives.

A claim's lease is short (ALERTS_NOTIFY_LEASE_SECONDS, default 10 s) so that a
worker that dies (SIGKILL, out of memory, the machine lost) lets go of what it
held within seconds: the lease sweeper hands an expired lease on. A live
worker must therefore keep renewing what it holds, however long one send
blocks (an SMTP server that answers slowly): a thread of the worker process
renews every third of a lease, and dies with it.

The thread has a database connection of its own. A batch with a webhook or
Apprise send has it opened before it sends anything (``connect``): the egress
guard (``alerts.delivery.egress.guarded``) checks every connect in the process
while such a send runs, and must not meet ours. A batch of emails only (a crash
day's) leaves it to the first beat, which a batch sent within a third of a
lease never reaches: on PostgreSQL a connection is a server process started
and ended, about 4 CPU-ms, for a batch of 100 emails that costs about 100
(docs/BENCHMARKS.md). On SQLite (a file opened) the thread connects as it
starts, as it always did.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import connection

from alerts.delivery.claims import renew_leases
from alerts.models import Notification

logger = logging.getLogger(__name__)


class Heartbeat:
    """``with Heartbeat() as heartbeat: heartbeat.hold(claimed) ... heartbeat.release(one)``."""

    def __init__(self, interval: float | None = None):
        self.interval = interval or settings.ALERTS_NOTIFY_LEASE_SECONDS / 3
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by ``connect`` and by the batch's end
        self._connected = threading.Event()
        self._connect_first = connection.vendor != "postgresql"
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def hold(self, notifications: list[Notification]) -> None:
        with self._lock:
            self._held.update((n.id, n.attempts) for n in notifications)

    def release(self, notification: Notification) -> None:
        with self._lock:
            self._held.pop(notification.id, None)

    def connect(self) -> None:
        """Have the thread open its connection now, and wait until it has (or could not)."""
        self._wake.set()
        self._connected.wait(timeout=10)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        if self._connect_first:
            self.connect()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            first_beat = time.monotonic() + self.interval
            # Until the first beat is due, only ``connect`` or the batch's end wakes the thread.
            if self._wake.wait(self.interval) and not self._stop.is_set():
                self._connect()
                self._stop.wait(max(0.0, first_beat - time.monotonic()))
            while not self._stop.is_set():
                if not self._connected.is_set():  # nothing asked sooner: the first beat connects
                    self._connect()
                self._beat()
                self._stop.wait(self.interval)
        finally:
            connection.close()  # this thread's own connection (none opened: nothing to close)

    def _connect(self) -> None:
        try:
            connection.ensure_connection()
        except Exception:  # each beat tries again
            logger.warning("The lease heartbeat could not reach the database", exc_info=True)
        finally:
            self._connected.set()

    def _beat(self) -> None:
        with self._lock:
            held = dict(self._held)
        try:
            renew_leases(held)
        except Exception:  # the database blinked: the next beat tries again, well inside the lease
            logger.warning("Could not renew %d send leases", len(held), exc_info=True)
            connection.close()
