"""One WebSocket to Binance's combined-stream endpoint, a thread: connect, subscribe, fold trades, reconnect.

It keeps its subscriptions equal to the streams it is told to follow
(``Subscriptions``), answers pings (websocket-client's ``recv_data_frame``
pongs them; the pongs count against the rate limit), folds every trade into a
``PriceWindow`` per symbol, and hands its windows to the flusher every
``flush_interval``, or at once after a trade past the frontier
(``frontier.py``). After a drop it reconnects with exponential backoff and
full jitter (capped, reset once a connection stayed healthy) and resubscribes
everything. With a backfiller, trades are folded in aggregate-id order: a
frame that is not the next id of its symbol, and every (re)subscription, go
through the ``Sequencer`` (``sequencing.py``), which backfills what was missed.
"""

import decimal
import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterable

import websocket
from websocket import (
    ABNF,
    WebSocketConnectionClosedException,
    WebSocketException,
    WebSocketTimeoutException,
)

from feeds import history
from feeds.backfill import Backfiller
from feeds.binance import (
    Ack,
    ErrorReply,
    ServerShutdown,
    Skipped,
    Trade,
    combined_stream_url,
    parse_message,
    symbol_of,
)
from feeds.feeder.config import FeederConfig
from feeds.feeder.flusher import Flusher, merge_windows
from feeds.feeder.pacing import Backoff
from feeds.feeder.sequencing import Sequencer
from feeds.feeder.subscriptions import ReconnectNeeded, Subscriptions
from feeds.windows import PriceWindow

# One logger for the whole feeder: its log lines keep the name operators know.
logger = logging.getLogger("feeds.feeder")


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


class Connection(threading.Thread):
    """One WebSocket to Binance's combined-stream endpoint, kept alive and subscribed."""

    def __init__(
        self,
        name: str,
        config: FeederConfig,
        flusher: Flusher,
        streams: Iterable[str] = (),
        backfiller: Backfiller | None = None,
    ):
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
        # Without a backfiller (no REST URL) trades are folded as they come, gaps unseen.
        self.sequencer = Sequencer(name, backfiller) if backfiller is not None else None
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
        # Quote volumes (sums of price x quantity) stay exact past the default 28 digits.
        decimal.getcontext().prec = history.WIDE.prec
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
        first_trade = PriceWindow.first_trade
        crossed = self.flusher.frontier.crossed
        messages = trades = 0
        messages_at_last_tick = 0
        next_tick = next_flush = 0.0
        sequencer = self.sequencer
        if sequencer is not None:
            last_ids, held = sequencer.last_ids, sequencer.pending
        try:
            while not self._stopping.is_set():
                now = monotonic()
                if now >= next_tick:
                    next_tick = now + tick
                    if sequencer is not None and self._crossed_in(sequencer.drain(windows), windows):
                        # A backfilled trade past the frontier wakes the engine like a live one.
                        self.flusher.submit(windows, urgent=True)
                        windows = self._windows = {}
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
                        symbol, price, event_ms, agg_id, quantity = result
                        if sequencer is not None and agg_id is not None:
                            # In id order only: a held symbol or an id that is not the next goes the slow way.
                            if symbol in held or (
                                (last := last_ids.get(symbol)) is not None and agg_id != last + 1
                            ):
                                sequencer.accept(result, windows)
                                continue
                            last_ids[symbol] = agg_id
                        window = windows.get(symbol)
                        if window is None:
                            windows[symbol] = first_trade(symbol, price, event_ms, agg_id, quantity)
                        else:
                            window.add(price, event_ms, quantity)
                            window.last_id = agg_id
                        if crossed(symbol, price):  # may fire an alert: to Redis now, and wake the engine
                            self.flusher.submit(windows, urgent=True)
                            windows = self._windows = {}
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

    def _crossed_in(self, symbols: set[str], windows: dict[str, PriceWindow]) -> bool:
        """Whether a window of these symbols reaches past the frontier (each side tested)."""
        crossed = self.flusher.frontier.crossed
        hits = [
            crossed(symbol, window.high) | crossed(symbol, window.low)
            for symbol in symbols
            if (window := windows.get(symbol)) is not None
        ]
        return any(hits)

    def _on_control(self, result, subscriptions: Subscriptions) -> None:
        kind = type(result)
        if kind is Ack:
            if subscriptions.on_ack(result):
                before = self.subscribed_streams
                self.subscribed_streams = frozenset(subscriptions.subscribed)
                if self.sequencer is not None:
                    self.sequencer.subscribed(symbol_of(s) for s in self.subscribed_streams - before)
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
                    if self.sequencer is not None:
                        self.sequencer.accept(result, self._windows)
                        continue
                    symbol, price, event_ms, _, quantity = result
                    opened = PriceWindow.first_trade(symbol, price, event_ms, None, quantity)
                    merge_windows(self._windows, {symbol: opened})

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
