"""The flusher thread: merges the connections' windows and writes them, and their heartbeats, to Redis.

A connection whose trade crossed the frontier (``frontier.py``) hands its
windows over at once, marked urgent: the flusher writes them at once and then
wakes the engine, raising the wake-up flag in Redis (``store.request_wake``)
and, only if it was down, sending the evaluation task by name on the engine
queue through the Celery app. The tick lowers the flag before it reads the
stream, so however many crossings come in a burst, one wake-up is queued at a
time, and the tick it queues reads every window written before the flag went up.

When Redis fails it keeps merging and retries with backoff, so no window is
ever dropped and receiving never waits for Redis. If Redis comes back empty
(a restart without persistence), it writes the last ``replay_seconds`` of
windows again: the engine may not have read them yet.

Each write carries the windows' 1-second buckets into the price history
(``feeds.history``) in the same MULTI: a bucket is written exactly when its
window is, never twice, never lost to a retry.

Each write also moves the event-time watermark (``store.WATERMARK_KEY``) to
the moment the flusher collected what it writes, in the same MULTI; with
nothing held, the heartbeat moves it too. Windows held in a Redis retry hold
the watermark back, and the engine expires alerts only up to it.
"""

import contextlib
import copy
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

import redis
from celery import current_app

from feeds import history, store
from feeds.feeder.config import FeederConfig
from feeds.feeder.frontier import Frontier
from feeds.feeder.pacing import Backoff
from feeds.windows import PriceWindow

# One logger for the whole feeder: its log lines keep the name operators know.
logger = logging.getLogger("feeds.feeder")


class Flusher(threading.Thread):
    """Merges handed-over windows and writes them to Redis; never drops a window on a Redis failure."""

    def __init__(
        self,
        config: FeederConfig,
        heartbeat_source: Callable[[], dict[str, float]],
        client: redis.Redis | None = None,
        wake: Callable[[], None] | None = None,
    ):
        super().__init__(name="feeder-flusher", daemon=True)
        self.config = config
        self.heartbeat_source = heartbeat_source
        self.client = client
        # Shared with the connections, which test every trade against it.
        self.frontier = Frontier()
        self.wake = wake or celery_wake(config)
        self._urgent = False
        self._wake_due = False
        self.wakeups = 0
        self.wakeups_coalesced = 0
        self._lock = threading.Lock()
        self._incoming: dict[str, PriceWindow] = {}
        self._unsent: dict[str, PriceWindow] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.flushes = 0
        self.windows_written = 0
        self.last_entry_id: str | None = None
        self._collected_ms = 0  # wall clock when the windows being written were collected
        self._failing_since: float | None = None
        # Replay after Redis lost its data: our marker in Redis, and what we wrote lately.
        self._marker = uuid.uuid4().hex
        self._recent: deque[tuple[float, list[PriceWindow]]] = deque()
        self._replay_due = False
        self.replays = 0

    def submit(self, windows: dict[str, PriceWindow], *, urgent: bool = False) -> None:
        """Hand windows over; ``urgent``: they crossed the frontier, write them now and wake the engine."""
        with self._lock:
            merge_windows(self._incoming, windows)
            self._urgent = self._urgent or urgent
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout)

    def run(self) -> None:
        backoff = Backoff(0.1, self.config.redis_retry_max, rng=lambda: 1.0)
        retry_at = 0.0
        next_heartbeat = 0.0
        while True:
            self._wake.wait(self.config.heartbeat_interval)
            self._wake.clear()
            stopping = self._stopping.is_set()
            with self._lock:
                incoming, self._incoming = self._incoming, {}
                urgent, self._urgent = self._urgent, False
                self._collected_ms = int(time.time() * 1000)
            merge_windows(self._unsent, incoming)
            self._wake_due = self._wake_due or urgent
            now = time.monotonic()
            if self._unsent and now >= retry_at:
                if self._write_unsent():
                    backoff.reset()
                else:
                    retry_at = now + backoff.next_delay()
            if self._wake_due and not self._unsent:
                self._wake_engine()
            if now >= next_heartbeat:
                next_heartbeat = now + self.config.heartbeat_interval
                self._write_heartbeats()
            if stopping:
                self._flush_before_exit()
                return

    def _write_unsent(self) -> bool:
        windows = list(self._unsent.values())
        try:
            written = store.write_windows_marked(
                windows,
                self._marker,
                client=self.client,
                through_ms=self._collected_ms,
                also=history.queue_windows,
            )
            self.last_entry_id, emptied = written
            self._replay_due = self._replay_due or (emptied and bool(self._recent))
            if self._replay_due:
                self._replay_recent()
        except redis.RedisError as exc:
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                logger.warning(
                    "Redis write failed (%s): holding %d symbols' windows, retrying", exc, len(windows)
                )
            else:
                logger.debug("Redis still failing (%s): holding %d windows", exc, len(windows))
            return False
        if self._failing_since is not None:
            logger.info(
                "Redis is back: wrote %d symbols' windows held for %.1fs",
                len(windows),
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None
        self._unsent = {}
        self._remember(windows)
        self.flushes += 1
        self.windows_written += len(windows)
        return True

    def _remember(self, windows: list[PriceWindow]) -> None:
        now = time.monotonic()
        self._recent.append((now, [copy.copy(w) for w in windows]))
        while self._recent and self._recent[0][0] < now - self.config.replay_seconds:
            self._recent.popleft()

    def _replay_recent(self) -> None:
        """Redis came back empty: write the windows of the last replay_seconds again, oldest first.

        They were flushed, but the engine may not have read them before Redis
        lost them; a crossing in them would otherwise be missed if the price
        never crosses again. Reading a window twice fires nothing twice (the
        engine's conditional trigger), and each keeps its own event times, so
        an alert is still judged only on trades after its creation.
        """
        for _, windows in self._recent:
            # The history was lost with the rest: its buckets of these windows go back too.
            store.write_windows(windows, client=self.client, latest_prices=False, also=history.queue_windows)
        logger.warning(
            "Redis lost its data (restarted empty?): wrote the last %d flushes (%.0fs) again",
            len(self._recent),
            self.config.replay_seconds,
        )
        self._replay_due = False
        self.replays += 1

    def _wake_engine(self) -> None:
        """The crossing windows are in the stream: queue a tick, unless one is already on its way."""
        self._wake_due = False
        try:
            if not store.request_wake(client=self.client):
                self.wakeups_coalesced += 1
                return
        except redis.RedisError as exc:
            logger.debug("engine not woken (%s): the beat tick will evaluate", exc)
            return
        try:
            self.wake()
            self.wakeups += 1
        except Exception as exc:
            # Lowered, so the next crossing tries again; until then the beat tick evaluates.
            logger.warning("could not wake the engine (%s): the beat tick will evaluate", exc)
            with contextlib.suppress(redis.RedisError):
                store.clear_wake(client=self.client)

    def _write_heartbeats(self) -> None:
        beats = self.heartbeat_source()
        # Nothing held: every trade collected so far is written (none followed: expiry by the clock).
        through_ms = None if self._unsent else self._collected_ms
        try:
            store.write_heartbeats(beats, client=self.client, through_ms=through_ms)
        except redis.RedisError as exc:
            logger.debug("heartbeat not written: %s", exc)

    def _flush_before_exit(self) -> None:
        deadline = time.monotonic() + self.config.shutdown_flush_timeout
        with self._lock:
            merge_windows(self._unsent, self._incoming)
            self._incoming = {}
        while self._unsent and not self._write_unsent():
            if time.monotonic() >= deadline:
                logger.error(
                    "shutting down with %d symbols' windows unwritten: Redis unavailable", len(self._unsent)
                )
                return
            time.sleep(0.2)


def celery_wake(config: FeederConfig) -> Callable[[], None]:
    """Sends the engine's evaluation task by name (feeds never imports alerts) through the Celery app."""

    def wake() -> None:
        current_app.send_task(config.wake_task, queue=config.wake_queue, expires=config.wake_expires)

    return wake


def merge_windows(into: dict[str, PriceWindow], windows: dict[str, PriceWindow]) -> None:
    for symbol, window in windows.items():
        held = into.get(symbol)
        if held is None:
            into[symbol] = window
        else:
            held.merge(window)
