"""The feeder loop: Binance connections in, per-symbol windows out to the Redis price store.

Three kinds of objects, each with one job:

- ``Connection`` (a thread per WebSocket): connects to the combined-stream
  endpoint, keeps its subscriptions equal to the streams it is told to follow
  (SUBSCRIBE/UNSUBSCRIBE in batches, within Binance's control-message rate),
  answers pings (websocket-client's ``recv_data_frame`` pongs them; we count
  the pongs against the rate limit), folds every trade into a ``PriceWindow``
  per symbol, and hands its windows to the flusher every ``flush_interval``.
  After a drop it reconnects with exponential backoff and full jitter (capped,
  reset once a connection stayed healthy) and resubscribes everything.
- ``Flusher`` (one thread): merges the windows it is handed and writes them
  with ``store.write_windows`` (one stream entry per flush, plus the latest
  prices), and the connections' heartbeats. When Redis fails it keeps merging
  and retries with backoff, so no window is ever dropped; receiving never
  waits for Redis. If Redis comes back empty (a restart without persistence),
  it writes the last ``replay_seconds`` of windows again: the engine may not
  have read them yet.
- ``Feeder``: the controller. ``follow(symbols)`` shards the streams over
  connections (at most ``max_streams_per_connection`` each); ``maintain()``
  replaces a connection before Binance's 24-hour limit or after a
  ``serverShutdown`` event, make-before-break: the successor subscribes first,
  then the old one closes (duplicate trades fold idempotently into windows).

``manage.py runfeeder`` drives a ``Feeder``; tests and the benchmark do too.
"""

import copy
import itertools
import logging
import random
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis
import websocket
from websocket import (
    ABNF,
    WebSocketConnectionClosedException,
    WebSocketException,
    WebSocketTimeoutException,
)

from feeds import store
from feeds.binance import (
    MAX_STREAMS_PER_CONNECTION,
    Ack,
    ErrorReply,
    ServerShutdown,
    Skipped,
    Trade,
    combined_stream_url,
    control_frame,
    parse_message,
    stream_name,
)
from feeds.windows import PriceWindow

logger = logging.getLogger("feeds.feeder")

TWENTY_FOUR_HOURS_LESS_TEN_MINUTES = 23 * 3600 + 50 * 60


@dataclass(frozen=True)
class FeederConfig:
    ws_url: str
    # How often windows go to Redis (and subscriptions are reconciled).
    flush_interval: float = 0.2
    max_streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    # Binance answers "too many parameters" past some undocumented size: stay well below it.
    max_params_per_request: int = 200
    # Binance allows 5 incoming messages per second, pongs included; one is kept as margin.
    control_messages_per_second: int = 4
    reconnect_base: float = 1.0
    reconnect_max: float = 60.0
    # A connection that lived this long resets the backoff.
    healthy_after: float = 60.0
    max_connection_age: float = TWENTY_FOUR_HOURS_LESS_TEN_MINUTES
    ack_timeout: float = 10.0
    connect_timeout: float = 10.0
    redis_retry_max: float = 5.0
    heartbeat_interval: float = 1.0
    # Seconds the flusher keeps retrying Redis at shutdown before giving up.
    shutdown_flush_timeout: float = 5.0
    # Windows written in this many seconds are written again if Redis comes back
    # empty: the engine may not have read them yet (far more than a tick's lag).
    replay_seconds: float = 30.0
    # Connection names (heartbeats) are "<name>/<shard>".
    name: str = socket.gethostname()


class RateLimiter:
    """At most ``limit`` messages in any ``period``-second window, paced ``period / limit`` apart.

    Pacing (rather than bursts of ``limit``) keeps a margin against network
    jitter bunching messages up on Binance's side of the count.
    """

    def __init__(self, limit: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.period = period
        self.spacing = period / limit
        self.clock = clock
        self._sent: deque[float] = deque()

    def available(self) -> int:
        now = self.clock()
        while self._sent and self._sent[0] <= now - self.period:
            self._sent.popleft()
        if self._sent and now - self._sent[-1] < self.spacing:
            return 0
        return self.limit - len(self._sent)

    def record(self) -> None:
        self._sent.append(self.clock())


class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""

    def __init__(self, base: float, cap: float, rng: Callable[[], float] = random.random):
        self.base = base
        self.cap = cap
        self.rng = rng
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempt)
        self.attempt = min(self.attempt + 1, 32)
        return self.rng() * ceiling

    def reset(self) -> None:
        self.attempt = 0


class ReconnectNeeded(Exception):
    pass


class BufferedReceive:
    """A read-ahead buffer under websocket-client's frame parser.

    websocket-client reads every frame with two or three exact-size
    ``socket.recv`` calls (header, extended length, payload), each a system
    call plus a poll because the socket has a timeout: that was most of the
    feeder's CPU (bench/feeder.py --profile). Reading up to 64 KiB at once and
    serving those small reads from memory cuts it to one call per many frames.
    Timeouts and closes raise the same exceptions websocket-client raises.
    """

    __slots__ = ("buffer", "position", "sock")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.position = 0

    def __call__(self, size: int) -> bytes:
        position = self.position
        if position >= len(self.buffer):
            try:
                data = self.sock.recv(65536)
            except TimeoutError as exc:
                raise WebSocketTimeoutException("Connection timed out") from exc
            except ssl.SSLError as exc:
                if "timed out" in str(exc):
                    raise WebSocketTimeoutException(str(exc)) from exc
                raise
            if not data:
                raise WebSocketConnectionClosedException("Connection to remote host was lost.")
            self.buffer = data
            position = 0
        self.position = position + size
        return self.buffer[position : position + size]


class Flusher(threading.Thread):
    """Merges handed-over windows and writes them to Redis; never drops a window on a Redis failure."""

    def __init__(
        self,
        config: FeederConfig,
        heartbeat_source: Callable[[], dict[str, float]],
        client: redis.Redis | None = None,
    ):
        super().__init__(name="feeder-flusher", daemon=True)
        self.config = config
        self.heartbeat_source = heartbeat_source
        self.client = client
        self._lock = threading.Lock()
        self._incoming: dict[str, PriceWindow] = {}
        self._unsent: dict[str, PriceWindow] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.flushes = 0
        self.windows_written = 0
        self.last_entry_id: str | None = None
        self._failing_since: float | None = None
        # Replay after Redis lost its data: our marker in Redis, and what we wrote lately.
        self._marker = uuid.uuid4().hex
        self._recent: deque[tuple[float, list[PriceWindow]]] = deque()
        self._replay_due = False
        self.replays = 0

    def submit(self, windows: dict[str, PriceWindow]) -> None:
        with self._lock:
            merge_windows(self._incoming, windows)
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
            merge_windows(self._unsent, incoming)
            now = time.monotonic()
            if self._unsent and now >= retry_at:
                if self._write_unsent():
                    backoff.reset()
                else:
                    retry_at = now + backoff.next_delay()
            if now >= next_heartbeat:
                next_heartbeat = now + self.config.heartbeat_interval
                self._write_heartbeats()
            if stopping:
                self._flush_before_exit()
                return

    def _write_unsent(self) -> bool:
        windows = list(self._unsent.values())
        try:
            written = store.write_windows_marked(windows, self._marker, client=self.client)
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
            store.write_windows(windows, client=self.client, latest_prices=False)
        logger.warning(
            "Redis lost its data (restarted empty?): wrote the last %d flushes (%.0fs) again",
            len(self._recent),
            self.config.replay_seconds,
        )
        self._replay_due = False
        self.replays += 1

    def _write_heartbeats(self) -> None:
        beats = self.heartbeat_source()
        if not beats:
            return
        try:
            store.write_heartbeats(beats, client=self.client)
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


def merge_windows(into: dict[str, PriceWindow], windows: dict[str, PriceWindow]) -> None:
    for symbol, window in windows.items():
        held = into.get(symbol)
        if held is None:
            into[symbol] = window
        else:
            held.merge(window)


class Subscriptions:
    """What one socket has subscribed, what is in flight, and what to send next.

    A SUBSCRIBE that Binance rejects is split in halves and retried, so one
    bad stream (or a batch past Binance's parameter limit) cannot hold back
    the others; a single stream that is rejected stays out until it leaves
    the wanted set and comes back, or the connection is replaced.
    """

    def __init__(self, name: str, config: FeederConfig, request_ids: Iterable[int]):
        self.name = name
        self.config = config
        self.request_ids = iter(request_ids)
        self.limiter = RateLimiter(config.control_messages_per_second)
        self.subscribed: set[str] = set()
        self.in_flight: dict[int, tuple[str, list[str], float]] = {}
        self.rejected: set[str] = set()
        self.retry_batches: list[list[str]] = []

    def reconcile(self, ws: websocket.WebSocket, desired: frozenset[str], now: float) -> None:
        """Send SUBSCRIBE/UNSUBSCRIBE messages, as many as the rate limit allows right now."""
        pending_sub, pending_unsub = set(), set()
        for method, streams, _ in self.in_flight.values():
            (pending_sub if method == "SUBSCRIBE" else pending_unsub).update(streams)
        self.rejected &= desired
        to_unsubscribe = sorted(self.subscribed - desired - pending_unsub)
        retry_batches = [
            [s for s in batch if s in desired and s not in self.subscribed] for batch in self.retry_batches
        ]
        retry_batches = [batch for batch in retry_batches if batch]
        retrying = {s for batch in retry_batches for s in batch}
        to_subscribe = sorted(desired - self.subscribed - pending_sub - self.rejected - retrying)
        size = self.config.max_params_per_request
        batches = [("UNSUBSCRIBE", to_unsubscribe[i : i + size]) for i in range(0, len(to_unsubscribe), size)]
        batches += [("SUBSCRIBE", batch) for batch in retry_batches]
        batches += [("SUBSCRIBE", to_subscribe[i : i + size]) for i in range(0, len(to_subscribe), size)]
        sent = 0
        for method, batch in batches:
            if self.limiter.available() <= 0:
                break
            request_id = next(self.request_ids)
            ws.send(control_frame(method, batch, request_id))
            self.limiter.record()
            self.in_flight[request_id] = (method, batch, now)
            sent += 1
            logger.debug("%s: %s %d streams (id %s)", self.name, method, len(batch), request_id)
        self.retry_batches = [batch for method, batch in batches[sent:] if batch in retry_batches]

    def check_replies(self, now: float) -> None:
        for request_id, (method, streams, sent_at) in self.in_flight.items():
            if now - sent_at > self.config.ack_timeout:
                raise ReconnectNeeded(
                    f"no reply to {method} of {len(streams)} streams (id {request_id}) "
                    f"within {self.config.ack_timeout:.0f}s"
                )

    def on_ack(self, ack: Ack) -> bool:
        """Record an acknowledged request; returns whether it changed the subscriptions."""
        request = self.in_flight.pop(ack.request_id, None)
        if request is None:
            logger.debug("%s: reply to an unknown request: %r", self.name, ack)
            return False
        method, streams, _ = request
        if method == "SUBSCRIBE":
            self.subscribed.update(streams)
        else:
            self.subscribed.difference_update(streams)
        logger.info(
            "%s: %s %d streams; %d subscribed on this connection",
            self.name,
            "subscribed" if method == "SUBSCRIBE" else "unsubscribed",
            len(streams),
            len(self.subscribed),
        )
        return True

    def on_error(self, error: ErrorReply) -> None:
        request = self.in_flight.pop(error.request_id, None)
        if request is None:
            logger.warning(
                "%s: Binance error %s: %s (id %s)", self.name, error.code, error.message, error.request_id
            )
            return
        method, streams, _ = request
        logger.warning(
            "%s: Binance rejected %s of %d streams (%s): error %s: %s",
            self.name,
            method,
            len(streams),
            ", ".join(streams[:3]) + (", ..." if len(streams) > 3 else ""),
            error.code,
            error.message,
        )
        if method != "SUBSCRIBE":
            return  # the streams stay subscribed; the next reconcile asks again
        if len(streams) == 1:
            self.rejected.update(streams)
        else:
            half = len(streams) // 2
            self.retry_batches += [streams[:half], streams[half:]]


class Connection(threading.Thread):
    """One WebSocket to Binance's combined-stream endpoint, kept alive and subscribed."""

    def __init__(self, name: str, config: FeederConfig, flusher: Flusher, streams: Iterable[str] = ()):
        super().__init__(name=f"feeder-{name}", daemon=True)
        self.connection_name = name
        self.config = config
        self.flusher = flusher
        self.desired: frozenset[str] = frozenset(streams)
        # A retiring connection (replaced by a successor) ends instead of reconnecting.
        self.retiring = False
        self._stopping = threading.Event()
        self._request_ids = itertools.count(1)
        self._windows: dict[str, PriceWindow] = {}
        # Read by the controller and the flusher (published snapshots, replaced whole).
        self.connected = False
        self.connected_at = 0.0
        self.subscribed_streams: frozenset[str] = frozenset()
        self.shutdown_announced = False
        self.last_message_at: float | None = None
        self.messages_received = 0
        self.trades_received = 0
        self.messages_skipped = 0
        self.reconnects = 0
        self._skips_unlogged = 0
        self._skip_logged_at = -1e9

    # --- controller side ---------------------------------------------------

    def set_streams(self, streams: Iterable[str]) -> None:
        self.desired = frozenset(streams)

    def stop(self) -> None:
        self._stopping.set()

    @property
    def socket_age(self) -> float:
        return time.monotonic() - self.connected_at if self.connected else 0.0

    def needs_replacement(self) -> bool:
        return self.connected and (
            self.shutdown_announced or self.socket_age >= self.config.max_connection_age
        )

    def is_fully_subscribed(self) -> bool:
        return self.connected and self.desired <= self.subscribed_streams

    # --- thread -----------------------------------------------------------------

    def run(self) -> None:
        backoff = Backoff(self.config.reconnect_base, self.config.reconnect_max)
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                ws = self._connect()
            except Exception as exc:
                delay = backoff.next_delay()
                logger.warning(
                    "%s: cannot connect to %s (%s); retrying in %.1fs",
                    self.connection_name,
                    self.url,
                    exc,
                    delay,
                )
                self._stopping.wait(delay)
                continue
            try:
                reason = self._serve(ws)
            except Exception as exc:  # a bug must not end the feed: log it, reconnect
                logger.exception("%s: unexpected error", self.connection_name)
                reason = f"unexpected error {exc!r}"
            finally:
                self._close(ws)
            if self._stopping.is_set() or self.retiring:
                break
            lived = time.monotonic() - started
            if lived >= self.config.healthy_after or self.shutdown_announced:
                backoff.reset()
            delay = backoff.next_delay()
            self.reconnects += 1
            logger.warning(
                "%s: connection lost (%s) after %.0fs; reconnecting in %.1fs to resubscribe %d streams",
                self.connection_name,
                reason,
                lived,
                delay,
                len(self.desired),
            )
            self._stopping.wait(delay)
        self._hand_over_windows()

    @property
    def url(self) -> str:
        return combined_stream_url(self.config.ws_url)

    def _connect(self) -> websocket.WebSocket:
        ws = websocket.create_connection(
            self.url,
            timeout=self.config.connect_timeout,
            # Frames are ASCII JSON and orjson rejects invalid UTF-8 anyway; the
            # pure-Python validation would cost most of the receive loop's CPU.
            skip_utf8_validation=True,
            enable_multithread=False,
        )
        ws.frame_buffer.recv = BufferedReceive(ws.sock)
        self.shutdown_announced = False
        self.subscribed_streams = frozenset()
        self.connected_at = time.monotonic()
        self.last_message_at = time.time()
        self.connected = True
        logger.info(
            "%s: connected to %s; subscribing %d streams", self.connection_name, self.url, len(self.desired)
        )
        return ws

    def _serve(self, ws: websocket.WebSocket) -> str:
        """Receive until the connection drops or we are stopped; returns why it ended."""
        config = self.config
        subscriptions = Subscriptions(self.connection_name, config, self._request_ids)
        # Subscriptions are reconciled at least every 0.1 s even when windows flush less often.
        tick = min(config.flush_interval, 0.1)
        ws.settimeout(tick)
        recv = ws.recv_data_frame
        parse = parse_message
        opcode_text = ABNF.OPCODE_TEXT
        monotonic = time.monotonic
        windows = self._windows
        messages = trades = 0
        messages_at_last_tick = 0
        next_tick = next_flush = 0.0
        try:
            while not self._stopping.is_set():
                now = monotonic()
                if now >= next_tick:
                    next_tick = now + tick
                    if now >= next_flush:
                        next_flush = now + config.flush_interval
                        if windows:
                            self.flusher.submit(windows)
                            windows = self._windows = {}
                    if messages != messages_at_last_tick:
                        messages_at_last_tick = messages
                        self.last_message_at = time.time()
                        self.messages_received = messages
                        self.trades_received = trades
                    subscriptions.check_replies(now)
                    subscriptions.reconcile(ws, self.desired, now)
                try:
                    opcode, frame = recv(True)
                except WebSocketTimeoutException:
                    continue
                if opcode == opcode_text:
                    messages += 1
                    result = parse(frame.data)
                    if type(result) is Trade:
                        trades += 1
                        symbol, price, event_ms = result
                        window = windows.get(symbol)
                        if window is None:
                            windows[symbol] = PriceWindow(symbol, price, price, price, event_ms, event_ms)
                        else:
                            window.add(price, event_ms)
                    else:
                        self._on_control(result, subscriptions)
                elif opcode == ABNF.OPCODE_PING:
                    subscriptions.limiter.record()  # websocket-client has already sent the pong
                    self.last_message_at = time.time()
                elif opcode == ABNF.OPCODE_CLOSE:
                    return f"closed by the server: {close_status(frame.data)}"
                elif opcode != ABNF.OPCODE_PONG:
                    messages += 1
                    self._note_skipped(f"unexpected opcode {opcode}")
            return "stopped"
        except ReconnectNeeded as exc:
            return str(exc)
        except (WebSocketException, OSError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            self._windows = windows
            self.messages_received = messages
            self.trades_received = trades

    def _on_control(self, result, subscriptions: Subscriptions) -> None:
        kind = type(result)
        if kind is Ack:
            if subscriptions.on_ack(result):
                self.subscribed_streams = frozenset(subscriptions.subscribed)
        elif kind is ErrorReply:
            subscriptions.on_error(result)
        elif kind is ServerShutdown:
            self.shutdown_announced = True
            logger.warning(
                "%s: Binance announced a server shutdown; replacing the connection", self.connection_name
            )
        elif kind is Skipped:
            self._note_skipped(result.reason)

    def _close(self, ws: websocket.WebSocket) -> None:
        self.connected = False
        try:
            if self._stopping.is_set() or self.retiring:
                self._close_cleanly(ws)
        except Exception as exc:
            logger.debug("%s: closing: %s", self.connection_name, exc)
        finally:
            self._hand_over_windows()
            ws.shutdown()

    def _close_cleanly(self, ws: websocket.WebSocket) -> None:
        """Send a close frame and keep folding trades until the server's close arrives.

        Everything the server sent before it saw our close reaches the windows,
        so a shutdown loses no trade that was already on the wire.
        """
        ws.send_close(websocket.STATUS_NORMAL, b"")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                frame = ws.recv_frame()
            except WebSocketTimeoutException:
                continue
            if frame.opcode == ABNF.OPCODE_CLOSE:
                return
            if frame.opcode == ABNF.OPCODE_TEXT:
                result = parse_message(frame.data)
                if type(result) is Trade:
                    symbol, price, event_ms = result
                    merge_windows(self._windows, {symbol: PriceWindow.opened_by(symbol, price, event_ms)})

    def _hand_over_windows(self) -> None:
        if self._windows:
            windows, self._windows = self._windows, {}
            self.flusher.submit(windows)

    def _note_skipped(self, reason: str) -> None:
        """Log skipped messages without flooding: the first one, then a count at most every 10 s."""
        self.messages_skipped += 1
        now = time.monotonic()
        if now - self._skip_logged_at >= 10.0:
            more = (
                f" (and {self._skips_unlogged} more skipped since the last report)"
                if self._skips_unlogged
                else ""
            )
            logger.warning("%s: skipped a message: %s%s", self.connection_name, reason, more)
            self._skip_logged_at = now
            self._skips_unlogged = 0
        else:
            self._skips_unlogged += 1


def close_status(data: bytes) -> str:
    if len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        reason = data[2:].decode("utf-8", "replace")
        return f"code {code}" + (f" {reason!r}" if reason else "")
    return "no close code"


class _Shard:
    """A slice of at most max_streams_per_connection streams and the connection(s) carrying it."""

    def __init__(self, index: int, name: str):
        self.index = index
        self.name = name
        self.streams: set[str] = set()
        self.connection: Connection | None = None
        self.successor: Connection | None = None

    def connections(self) -> list[Connection]:
        return [c for c in (self.connection, self.successor) if c is not None]

    def push_streams(self) -> None:
        frozen = frozenset(self.streams)
        for connection in self.connections():
            connection.set_streams(frozen)


class Feeder:
    """Follows a set of symbols over as many connections as Binance's limits require."""

    def __init__(self, config: FeederConfig, redis_client: redis.Redis | None = None):
        self.config = config
        self.flusher = Flusher(config, self.heartbeats, client=redis_client)
        self._shards: list[_Shard] = []
        self._assigned: dict[str, _Shard] = {}
        self._retired: list[Connection] = []
        self._started = False

    def start(self) -> "Feeder":
        self.flusher.start()
        self._started = True
        for connection in self.connections:  # shards made by a follow() before start()
            connection.start()
        self._shard_with_room()  # one connection even with nothing to follow: pings keep the heartbeat fresh
        return self

    @property
    def symbols(self) -> set[str]:
        return {stream.partition("@")[0].upper() for stream in self._assigned}

    @property
    def connections(self) -> list[Connection]:
        return [c for shard in self._shards for c in shard.connections()]

    def follow(self, symbols: Iterable[str]) -> bool:
        """Follow exactly these symbols from now on; returns whether anything changed."""
        wanted = {stream_name(symbol) for symbol in symbols}
        removed = self._assigned.keys() - wanted
        added = sorted(wanted - self._assigned.keys())
        if not removed and not added:
            return False
        touched: set[int] = set()
        for stream in removed:
            shard = self._assigned.pop(stream)
            shard.streams.discard(stream)
            touched.add(shard.index)
        for stream in added:
            shard = self._shard_with_room()
            shard.streams.add(stream)
            self._assigned[stream] = shard
            touched.add(shard.index)
        for shard in list(self._shards):
            if shard.index in touched:
                shard.push_streams()
            if not shard.streams and shard.index != 0:
                self._remove_shard(shard)
        logger.info(
            "following %d symbols (+%d, -%d) on %d connection(s)",
            len(self._assigned),
            len(added),
            len(removed),
            len(self._shards),
        )
        return True

    def maintain(self) -> None:
        """Replace connections near Binance's 24-hour limit or after serverShutdown (make-before-break)."""
        for shard in self._shards:
            current, successor = shard.connection, shard.successor
            if successor is None:
                if current.needs_replacement():
                    reason = (
                        "server shutdown announced" if current.shutdown_announced else "24-hour limit near"
                    )
                    logger.info("%s: %s: opening a successor connection", shard.name, reason)
                    current.retiring = True
                    shard.successor = self._start_connection(shard)
            elif successor.is_fully_subscribed() or not current.is_alive():
                logger.info("%s: successor subscribed; closing the old connection", shard.name)
                current.stop()
                self._retired.append(current)
                shard.connection, shard.successor = successor, None
        self._retired = [c for c in self._retired if c.is_alive()]

    def heartbeats(self) -> dict[str, float]:
        beats = {}
        for shard in self._shards:
            times = [c.last_message_at for c in shard.connections() if c.last_message_at is not None]
            if times:
                beats[shard.name] = max(times)
        return beats

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, flush what they hold, clear the heartbeats."""
        connections = self.connections + self._retired
        for connection in connections:
            connection.stop()
        deadline = time.monotonic() + timeout
        for connection in connections:
            connection.join(max(0.0, deadline - time.monotonic()))
        if self._started:
            self.flusher.stop(max(1.0, deadline - time.monotonic()) + self.config.shutdown_flush_timeout)
        for shard in self._shards:
            self._clear_heartbeat(shard.name)
        logger.info("feeder stopped")

    def _shard_with_room(self) -> _Shard:
        for shard in self._shards:
            if len(shard.streams) < self.config.max_streams_per_connection:
                return shard
        used = {shard.index for shard in self._shards}
        index = next(i for i in itertools.count() if i not in used)
        shard = _Shard(index, f"{self.config.name}/{index}")
        self._shards.append(shard)
        self._shards.sort(key=lambda s: s.index)
        shard.connection = self._start_connection(shard)
        return shard

    def _start_connection(self, shard: _Shard) -> Connection:
        connection = Connection(shard.name, self.config, self.flusher, shard.streams)
        if self._started:
            connection.start()
        return connection

    def _remove_shard(self, shard: _Shard) -> None:
        for connection in shard.connections():
            connection.stop()
            self._retired.append(connection)
        self._shards.remove(shard)
        self._clear_heartbeat(shard.name)

    def _clear_heartbeat(self, name: str) -> None:
        try:
            store.clear_heartbeat(name, client=self.flusher.client)
        except redis.RedisError as exc:
            logger.debug("heartbeat %s not cleared: %s", name, exc)
