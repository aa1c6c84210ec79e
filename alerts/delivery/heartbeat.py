"""The heartbeat of a sending batch: its claims' leases renewed while its process lives.

A claim's lease is short (ALERTS_NOTIFY_LEASE_SECONDS, default 10 s) so that a
worker that dies (SIGKILL, out of memory, the machine lost) lets go of what it
held within seconds: the lease sweeper hands an expired lease on. A live
worker must therefore keep renewing what it holds, however long one send
blocks (an SMTP server that answers slowly): a thread of the worker process
renews every third of a lease, and dies with it.

The thread opens its own database connection before the batch sends anything:
the egress guard (``alerts.delivery.egress.guarded``) checks every connect in
the process while a webhook or Apprise send runs, and must not meet ours.
"""

import logging
import threading

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
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def hold(self, notifications: list[Notification]) -> None:
        with self._lock:
            self._held.update((n.id, n.attempts) for n in notifications)

    def release(self, notification: Notification) -> None:
        with self._lock:
            self._held.pop(notification.id, None)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        self._connected.wait(timeout=10)
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            try:
                connection.ensure_connection()
            except Exception:  # each beat tries again
                logger.warning("The lease heartbeat could not reach the database", exc_info=True)
            finally:
                self._connected.set()
            while not self._stop.wait(self.interval):
                self._beat()
        finally:
            connection.close()  # this thread's own connection

    def _beat(self) -> None:
        with self._lock:
            held = dict(self._held)
        try:
            renew_leases(held)
        except Exception:  # the database blinked: the next beat tries again, well inside the lease
            logger.warning("Could not renew %d send leases", len(held), exc_info=True)
            connection.close()
