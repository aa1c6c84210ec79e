"""A faithful fake of Binance's spot WebSocket market streams, for tests, benchmarks and demos.

Real sockets, real WebSocket protocol (the ``websockets`` asyncio server in a
background thread), Binance's endpoints, control requests, limits and frame
formats as collected in ../shared/binance/PROTOCOL.md. It needs no Django.

Use from Python (tests, benchmarks, the demo's market simulator)::

    from devtools.fakebinance import FakeBinance

    with FakeBinance(ping_interval=20, pong_timeout=60) as binance:   # or .start() / .stop()
        settings.BINANCE_WS_URL = binance.url          # "ws://127.0.0.1:<port>"
        ... start `manage.py runfeeder` (subprocess) or a feeds.feeder.Feeder ...
        binance.wait_for_subscription("btcusdt@aggTrade", timeout=10)
        binance.publish_trade("BTCUSDT", "70000.01")   # aggTrade/trade/kline_1s to subscribers
        binance.drop_all()                             # every connection cut (TCP reset)
        binance.send_server_shutdown()                 # the serverShutdown event
        binance.subscriptions()                        # [set of streams] per open connection
        binance.rate_violations                        # clients closed for > 5 messages/s

The whole public surface:

- lifecycle: ``start()``, ``stop()``, context manager, ``url``, ``port``;
- events: ``publish_trade(symbol, price, qty="1", event_ms=None, buyer_is_maker=None)``,
  ``publish_trades([(symbol, price), ...], event_ms=None)`` (one write per socket),
  ``prepare_trades(...)`` + ``send_prepared(...)`` (encode first, send later: benchmarks),
  ``publish_raw(text)`` (any frame, e.g. malformed JSON), ``send_server_shutdown(close_after=None)``,
  ``start_random_walk(rate=2.0, step=0.001, start_prices=None, seed=None)``, ``stop_random_walk()``;
- faults: ``drop_all()``;
- observation: ``subscriptions()``, ``all_subscriptions()``, ``connection_count``,
  ``connections_accepted``, ``control_message_counts`` (client id -> requests),
  ``rate_violations``, ``stream_limit_violations``, ``pong_timeouts``, ``close_codes``;
- waiting (no sleeps: woken by every state change): ``wait_until(predicate)``,
  ``wait_for_subscription(stream)``, ``wait_for_unsubscription(stream)``,
  ``wait_for_connections(count)``; each returns False on timeout.

Or from a shell (``make demo``'s market)::

    python -m devtools.fakebinance --port 9443 --random-walk --rate 2 --price BTCUSDT=60000

What it serves (PROTOCOL.md sections 1-4):

- ``/ws`` and ``/ws/<s1>/<s2>`` (raw payloads), ``/stream`` and
  ``/stream?streams=<s1>/<s2>`` (payloads wrapped as ``{"stream","data"}``);
  any other path gets HTTP 404, a malformed stream name in the URL HTTP 400.
- ``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY``,
  ``GET_PROPERTY ["combined"]`` with Binance's replies ``{"result":...,"id":...}``
  and errors ``{"error":{"code","msg"},"id":...}`` (codes 0-3 of the docs'
  table). A well-formed stream of an unknown symbol is acked and stays silent,
  like Binance.
- Limits: a connection that sends more than ``max_messages_per_second``
  (5) messages within one second - text, binary, ping and pong frames all
  count - is closed (code 1008) and recorded in ``rate_violations``. At most
  ``max_streams_per_connection`` (1024) streams: a SUBSCRIBE past that gets
  an error reply and is recorded in ``stream_limit_violations``.
- Keepalive: a ping (random 4-byte payload) every ``ping_interval`` seconds
  (Binance: 20); a client that does not pong within ``pong_timeout``
  (Binance: 60) is dropped and counted in ``pong_timeouts``.
- Events: ``aggTrade``, ``trade`` and ``kline_1s`` with the key order and
  formatting of the recorded frames (prices and quantities as strings with 8
  decimals, e.g. ``"58001.03000000"``). kline_1s updates are sent on trades
  (the candle of the previous second is sent closed, ``"x":true``, when the
  first trade of a new second arrives), not on a timer.

Choices where Binance's docs are silent (documented so tests do not over-trust
them): the close code for a rate violation (1008) and the error message for
too many streams.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import random
import re
import signal
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode
from websockets.protocol import State

logger = logging.getLogger(__name__)

EIGHT_DECIMALS = Decimal("0.00000001")
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_COUNTED_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG})
_INTERVALS = "1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M"
STREAM_PATTERN = re.compile(
    r"^(?:[a-z0-9]+@(?:aggTrade|trade|bookTicker|miniTicker|ticker|avgPrice|ticker_(?:1h|4h|1d)"
    rf"|kline_(?:{_INTERVALS})(?:@\+08:00)?|depth(?:5|10|20)?(?:@100ms|@1000ms)?)"
    r"|!miniTicker@arr|!ticker_(?:1h|4h|1d)@arr)$"
)
# Walk step rounding: coarse ticks for big prices, Binance's 8 decimals for small ones.
_WALK_TICKS = ((Decimal(1000), Decimal("0.01")), (Decimal(1), Decimal("0.0001")))
DEFAULT_START_PRICES = {
    "BTCUSDT": Decimal("60000.00"),
    "ETHUSDT": Decimal("3000.00"),
    "BNBUSDT": Decimal("550.00"),
    "SOLUSDT": Decimal("150.00"),
    "XRPUSDT": Decimal("0.5500"),
    "ETHBTC": Decimal("0.05000000"),
}


def format_decimal(value: Decimal | str | int) -> str:
    """Binance's string form: always 8 decimals (``"58001.03000000"``)."""
    if isinstance(value, float):
        raise TypeError("prices are Decimal, str or int, never float")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    quantized = number.quantize(EIGHT_DECIMALS)
    if quantized != number:
        raise ValueError(f"{value} has more than 8 decimals; Binance prices never do")
    return f"{quantized:f}"


def is_valid_stream(name: object) -> bool:
    return isinstance(name, str) and STREAM_PATTERN.match(name) is not None


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented server-to-client text frame."""
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", 0x81, length) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length) + payload
    return struct.pack("!BBQ", 0x81, 127, length) + payload


@dataclass(frozen=True)
class PreparedFrames:
    frames: dict[int, bytes]  # client id -> its frames, concatenated
    count: int


class RequestError(Exception):
    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code = code
        self.msg = msg


class _Client:
    """Server-side state of one connection."""

    def __init__(self, client_id: int, ws: ServerConnection, combined: bool, streams: list[str]):
        self.id = client_id
        self.ws = ws
        self.combined = combined
        self.streams: dict[str, None] = dict.fromkeys(streams)  # insertion-ordered set
        self.message_times: deque[float] = deque()
        self.messages_received = 0
        self.control_requests = 0
        self.pongs_received = 0
        self.keepalive_task: asyncio.Task | None = None

    @property
    def is_open(self) -> bool:
        return self.ws.protocol.state is State.OPEN

    def write(self, frame: bytes) -> None:
        # Frames are written to the transport directly: identical bytes to what
        # websockets would send (no compression), without a coroutine per frame.
        if self.is_open:
            self.ws.transport.write(frame)


class _CountingConnection(ServerConnection):
    """A ServerConnection that reports every incoming frame, pongs included."""

    on_frame: Callable[[Opcode], None] | None = None

    def process_event(self, event) -> None:
        super().process_event(event)
        on_frame = self.on_frame
        if on_frame is not None and getattr(event, "opcode", None) in _COUNTED_OPCODES:
            on_frame(event.opcode)


class _Market:
    """Trade ids, kline_1s candles and random-walk prices per symbol."""

    def __init__(self):
        self.agg_ids: dict[str, itertools.count] = {}
        self.trade_ids: dict[str, itertools.count] = {}
        self.candles: dict[str, dict] = {}
        self.walk_prices: dict[str, Decimal] = {}

    def next_ids(self, symbol: str) -> tuple[int, int]:
        if symbol not in self.agg_ids:
            seed = 1_000_000 + (sum(symbol.encode()) * 7919) % 1_000_000
            self.agg_ids[symbol] = itertools.count(seed)
            self.trade_ids[symbol] = itertools.count(seed * 3)
        return next(self.agg_ids[symbol]), next(self.trade_ids[symbol])


class FakeBinance:
    """The fake server. Thread-safe public methods; all socket work runs in its own event loop thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ping_interval: float = 20.0,
        pong_timeout: float = 60.0,
        max_messages_per_second: int = 5,
        max_streams_per_connection: int = 1024,
        max_params_per_request: int = 1024,
    ):
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.max_messages_per_second = max_messages_per_second
        self.max_streams_per_connection = max_streams_per_connection
        self.max_params_per_request = max_params_per_request

        self._state = threading.Condition()
        self._clients: dict[int, _Client] = {}
        self._client_ids = itertools.count(1)
        self.connections_accepted = 0
        self.rate_violations: list[tuple[int, int]] = []  # (client id, messages in the last second)
        self.stream_limit_violations: list[int] = []
        self.pong_timeouts = 0
        self.close_codes: list[tuple[int, int | None]] = []  # (client id, close code; 1006 = no close frame)
        self.control_message_counts: dict[int, int] = {}  # client id -> requests received, kept after close

        self._market = _Market()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._walk_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

    # --- lifecycle ---------------------------------------------------------

    def start(self, timeout: float = 10.0) -> "FakeBinance":
        self._thread = threading.Thread(target=self._run, name="fakebinance", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("fake Binance server did not start")
        if self._startup_error is not None:
            raise RuntimeError(f"fake Binance server failed to start: {self._startup_error}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "FakeBinance":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give the feeder as BINANCE_WS_URL."""
        return f"ws://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_path,
            create_connection=_CountingConnection,
            compression=None,
            ping_interval=None,  # our own keepalive below, with Binance's semantics
            close_timeout=0.5,
            max_queue=64,
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            logger.info("fake Binance listening on %s", self.url)
            self._ready.set()
            await self._stopping.wait()
            if self._walk_task is not None:
                self._walk_task.cancel()

    def _spawn(self, coroutine) -> None:
        """A fire-and-forget task in the server loop, referenced until done."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _call(self, function: Callable, *args, timeout: float = 30.0):
        """Run ``function(*args)`` in the server's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("start() the fake server first")

        async def call():
            result = function(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    # --- handshake and connections ---------------------------------------------

    def _check_path(self, connection: ServerConnection, request):
        parts = urlsplit(request.path)
        path = parts.path.rstrip("/")
        if path == "/ws":
            combined, streams = False, []
        elif path.startswith("/ws/"):
            combined, streams = False, [s for s in path[len("/ws/") :].split("/") if s]
        elif path == "/stream":
            combined = True
            query = parse_qs(parts.query).get("streams", [""])[0]
            streams = [s for s in query.split("/") if s]
        else:
            return connection.respond(404, "Not Found\n")
        if not all(is_valid_stream(s) for s in streams):
            return connection.respond(400, "Invalid request: invalid stream\n")
        if len(streams) > self.max_streams_per_connection:
            return connection.respond(400, "Invalid request: too many streams\n")
        connection.binance_route = (combined, streams)
        return None

    async def _handle(self, ws: _CountingConnection) -> None:
        combined, streams = ws.binance_route
        with self._state:
            client = _Client(next(self._client_ids), ws, combined, streams)
            self._clients[client.id] = client
            self.connections_accepted += 1
            self.control_message_counts[client.id] = 0
            self._state.notify_all()
        ws.on_frame = lambda opcode: self._count_message(client, opcode)
        client.keepalive_task = asyncio.create_task(self._keepalive(client))
        logger.info("client %s connected to %s (%d streams)", client.id, ws.request.path, len(streams))
        try:
            async for message in ws:
                reply = self._reply_to(client, message)
                if reply is not None:
                    await ws.send(reply)
        except ConnectionClosed:
            pass
        finally:
            client.keepalive_task.cancel()
            with self._state:
                self._clients.pop(client.id, None)
                self.close_codes.append((client.id, ws.close_code))
                self._state.notify_all()
            logger.info("client %s disconnected (%s)", client.id, ws.close_code)

    def _count_message(self, client: _Client, opcode: Opcode) -> None:
        now = time.monotonic()
        times = client.message_times
        times.append(now)
        while times and times[0] <= now - 1.0:
            times.popleft()
        with self._state:
            client.messages_received += 1
            if opcode is Opcode.PONG:
                client.pongs_received += 1
            self._state.notify_all()
        if len(times) > self.max_messages_per_second and client.is_open:
            with self._state:
                self.rate_violations.append((client.id, len(times)))
                self._state.notify_all()
            logger.warning("client %s sent %d messages within a second: closing", client.id, len(times))
            self._spawn(client.ws.close(1008, "Too many messages"))

    async def _keepalive(self, client: _Client) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                pong = await client.ws.ping()
                async with asyncio.timeout(self.pong_timeout):
                    await pong
            except TimeoutError:
                with self._state:
                    self.pong_timeouts += 1
                    self._state.notify_all()
                logger.warning(
                    "client %s did not answer a ping within %ss: dropping", client.id, self.pong_timeout
                )
                client.ws.transport.abort()
                return
            except ConnectionClosed:
                return

    # --- control requests -----------------------------------------------------

    def _reply_to(self, client: _Client, message: str | bytes) -> str:
        request_id = None
        try:
            request = json.loads(message)
            if not isinstance(request, dict):
                raise RequestError(2, "Invalid request: expected a JSON object")
            request_id = self._request_id(request, message)
            with self._state:
                client.control_requests += 1
                self.control_message_counts[client.id] += 1
                result = self._execute(client, request, message)
                self._state.notify_all()
        except json.JSONDecodeError as exc:
            return self._error_reply(
                3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}", None
            )
        except RequestError as exc:
            return self._error_reply(exc.code, exc.msg, request_id)
        return json.dumps({"result": result, "id": request_id}, separators=(",", ":"))

    @staticmethod
    def _error_reply(code: int, msg: str, request_id) -> str:
        return json.dumps({"error": {"code": code, "msg": msg}, "id": request_id}, separators=(",", ":"))

    @staticmethod
    def _request_id(request: dict, message: str | bytes):
        if "id" not in request:
            raise RequestError(2, f"Invalid request: missing field `id` at line 1 column {len(message)}")
        request_id = request["id"]
        valid = (
            request_id is None
            or (type(request_id) is int and -(2**63) <= request_id < 2**63)
            or (type(request_id) is str and len(request_id) <= 36 and request_id.isalnum())
        )
        if not valid:
            raise RequestError(2, "Invalid request: request ID must be an unsigned integer")
        return request_id

    def _execute(self, client: _Client, request: dict, message: str | bytes):
        if "method" not in request:
            raise RequestError(2, f"Invalid request: missing field `method` at line 1 column {len(message)}")
        method = request["method"]
        if method not in METHODS:
            expected = ", ".join(f"`{m}`" for m in METHODS)
            raise RequestError(
                2,
                f"Invalid request: unknown variant `{method}`, expected one of {expected} "
                "at line 1 column 28",
            )
        params = request.get("params", [])
        if not isinstance(params, list):
            raise RequestError(2, "Invalid request: invalid type: expected a sequence")
        if len(params) > self.max_params_per_request:
            raise RequestError(2, "Invalid request: too many parameters")
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(is_valid_stream(p) for p in params):
                raise RequestError(2, "Invalid request: invalid stream")
            if method == "SUBSCRIBE":
                new = [p for p in params if p not in client.streams]
                if len(client.streams) + len(new) > self.max_streams_per_connection:
                    self.stream_limit_violations.append(client.id)
                    raise RequestError(
                        2,
                        f"Invalid request: at most {self.max_streams_per_connection} streams per connection",
                    )
                client.streams.update(dict.fromkeys(new))
            else:
                for stream in params:
                    client.streams.pop(stream, None)
            return None
        if method == "LIST_SUBSCRIPTIONS":
            return list(client.streams)
        name = params[0] if params else None
        if not isinstance(name, str):
            raise RequestError(2, "Invalid request: property name must be a string")
        if name != "combined":
            raise RequestError(0, "Unknown property")
        if method == "GET_PROPERTY":
            return client.combined
        value = params[1] if len(params) > 1 else None
        if not isinstance(value, bool):
            raise RequestError(1, "Invalid value type: expected Boolean")
        client.combined = value
        return None

    # --- events -------------------------------------------------------------

    def _event_frames(self, symbol: str, price: Decimal | str | int, qty, event_ms: int, maker: bool) -> dict:
        """Encoded payloads of one trade, by stream name (only streams someone follows)."""
        lower = symbol.lower()
        price_text, qty_text = format_decimal(price), format_decimal(qty)
        agg_id, trade_id = self._market.next_ids(symbol)
        maker_text = "true" if maker else "false"
        payloads = {
            f"{lower}@aggTrade": (
                f'{{"e":"aggTrade","E":{event_ms},"s":"{symbol}","a":{agg_id},"p":"{price_text}",'
                f'"q":"{qty_text}","f":{trade_id},"l":{trade_id},"T":{event_ms},"m":{maker_text},"M":true}}'
            ),
            f"{lower}@trade": (
                f'{{"e":"trade","E":{event_ms},"s":"{symbol}","t":{trade_id},"p":"{price_text}",'
                f'"q":"{qty_text}","T":{event_ms},"m":{maker_text},"M":true}}'
            ),
        }
        kline_stream = f"{lower}@kline_1s"
        if any(kline_stream in c.streams for c in self._clients.values()):
            payloads[kline_stream] = self._kline_updates(
                symbol, Decimal(price_text), Decimal(qty_text), event_ms, trade_id, maker
            )
        return payloads

    def _kline_updates(
        self, symbol, price: Decimal, qty: Decimal, event_ms: int, trade_id: int, maker: bool
    ) -> list[str]:
        open_ms = event_ms // 1000 * 1000
        candle = self._market.candles.get(symbol)
        updates = []
        if candle is not None and candle["t"] != open_ms:
            updates.append(self._kline_text(symbol, candle, event_ms, closed=True))
            candle = None
        if candle is None:
            candle = {"t": open_ms, "f": trade_id, "o": price, "h": price, "l": price, "v": Decimal(0),
                      "q": Decimal(0), "V": Decimal(0), "Q": Decimal(0), "n": 0}  # fmt: skip
            self._market.candles[symbol] = candle
        candle.update(L=trade_id, c=price, h=max(candle["h"], price), l=min(candle["l"], price))
        candle["v"] += qty
        candle["q"] += (price * qty).quantize(EIGHT_DECIMALS)
        candle["n"] += 1
        if not maker:  # the buyer was the taker
            candle["V"] += qty
            candle["Q"] += (price * qty).quantize(EIGHT_DECIMALS)
        updates.append(self._kline_text(symbol, candle, event_ms, closed=False))
        return updates

    @staticmethod
    def _kline_text(symbol: str, c: dict, event_ms: int, closed: bool) -> str:
        f = format_decimal
        return (
            f'{{"e":"kline","E":{event_ms},"s":"{symbol}",'
            f'"k":{{"t":{c["t"]},"T":{c["t"] + 999},"s":"{symbol}",'
            f'"i":"1s","f":{c["f"]},"L":{c["L"]},"o":"{f(c["o"])}","c":"{f(c["c"])}","h":"{f(c["h"])}",'
            f'"l":"{f(c["l"])}","v":"{f(c["v"])}","n":{c["n"]},"x":{"true" if closed else "false"},'
            f'"q":"{f(c["q"])}","V":"{f(c["V"])}","Q":"{f(c["Q"])}","B":"0"}}}}'
        )

    @staticmethod
    def _wrap(client: _Client, stream: str, payload: str) -> bytes:
        if client.combined:
            return text_frame(f'{{"stream":"{stream}","data":{payload}}}'.encode())
        return text_frame(payload.encode())

    def _deliver_trades(self, trades: Iterable[tuple], default_event_ms: int | None) -> int:
        return self._write_prepared(self._encode_trades(trades, default_event_ms))

    def _write_prepared(self, prepared: "PreparedFrames") -> int:
        for client_id, frames in prepared.frames.items():
            client = self._clients.get(client_id)
            if client is not None and frames:
                client.write(frames)
        return prepared.count

    def _encode_trades(self, trades: Iterable[tuple], default_event_ms: int | None) -> "PreparedFrames":
        """Every trade's frames for every subscribed client, concatenated per client."""
        per_client: dict[int, list[bytes]] = {cid: [] for cid in self._clients}
        delivered = 0
        for symbol, price, qty, event_ms, maker in trades:
            symbol = symbol.upper()
            event_ms = event_ms if event_ms is not None else default_event_ms or int(time.time() * 1000)
            maker = random.random() < 0.5 if maker is None else maker
            payloads = self._event_frames(symbol, price, qty, event_ms, maker)
            for client in self._clients.values():
                for stream, payload in payloads.items():
                    if stream in client.streams:
                        for text in payload if isinstance(payload, list) else [payload]:
                            per_client[client.id].append(self._wrap(client, stream, text))
                            delivered += 1
        return PreparedFrames({cid: b"".join(frames) for cid, frames in per_client.items()}, delivered)

    # --- public API for tests and the demo ----------------------------------------

    def publish_trade(
        self,
        symbol: str,
        price: Decimal | str | int,
        qty: Decimal | str | int = "1",
        event_ms: int | None = None,
        buyer_is_maker: bool | None = None,
    ) -> int:
        """One trade: aggTrade, trade and kline_1s events to their subscribers.

        Returns the number of frames sent (0 when nobody follows the symbol).
        ``event_ms`` defaults to now; prices must have at most 8 decimals.
        """
        return self._call(self._deliver_trades, [(symbol, price, qty, event_ms, buyer_is_maker)], None)

    def publish_trades(
        self, trades: Iterable[tuple[str, Decimal | str | int]], event_ms: int | None = None
    ) -> int:
        """Many trades ``(symbol, price)`` at once, written to each socket in one write (bursts)."""
        batch = [(symbol, price, "1", event_ms, None) for symbol, price in trades]
        return self._call(self._deliver_trades, batch, event_ms)

    def prepare_trades(
        self, trades: Iterable[tuple[str, Decimal | str | int]], event_ms: int | None = None
    ) -> "PreparedFrames":
        """Encode a burst now, send it later with ``send_prepared`` (benchmarks: encoding off the clock)."""
        batch = [(symbol, price, "1", event_ms, None) for symbol, price in trades]
        return self._call(self._encode_trades, batch, event_ms)

    def send_prepared(self, prepared: "PreparedFrames") -> int:
        """Write prepared frames to the connections they were encoded for; returns the frame count."""
        return self._call(self._write_prepared, prepared)

    def publish_raw(self, text: str | bytes) -> int:
        """Send one arbitrary text frame to every open connection (malformed-message tests)."""
        payload = text.encode() if isinstance(text, str) else text

        def send():
            for client in self._clients.values():
                client.write(text_frame(payload))
            return len(self._clients)

        return self._call(send)

    def send_server_shutdown(self, close_after: float | None = None) -> int:
        """The serverShutdown event to every connection; optionally close them ``close_after`` s later."""
        event = f'{{"e":"serverShutdown","E":{int(time.time() * 1000)}}}'

        def send():
            for client in self._clients.values():
                client.write(self._wrap(client, "!serverShutdown", event))
                if close_after is not None:
                    self._loop.call_later(close_after, lambda c=client: self._spawn(c.ws.close(1001)))
            return len(self._clients)

        return self._call(send)

    def drop_all(self, timeout: float = 10.0) -> int:
        """Cut every connection abruptly (no close frame), like a network failure; returns how many."""
        dropped = self._call(lambda: [c.ws.transport.abort() or c.id for c in self._clients.values()])
        with self._state:
            self._state.wait_for(lambda: not any(cid in self._clients for cid in dropped), timeout)
        return len(dropped)

    @property
    def connection_count(self) -> int:
        with self._state:
            return len(self._clients)

    def subscriptions(self) -> list[set[str]]:
        """The streams of each open connection, oldest connection first."""
        with self._state:
            return [set(c.streams) for _, c in sorted(self._clients.items())]

    def all_subscriptions(self) -> set[str]:
        return set().union(*self.subscriptions())

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait (without polling sleeps) until ``predicate()`` holds; it runs under the state lock."""
        with self._state:
            return self._state.wait_for(predicate, timeout)

    def wait_for_subscription(self, stream: str, timeout: float = 10.0) -> bool:
        return self.wait_until(lambda: any(stream in c.streams for c in self._clients.values()), timeout)

    def wait_for_unsubscription(self, stream: str, timeout: float = 10.0) -> bool:
        return self.wait_until(lambda: all(stream not in c.streams for c in self._clients.values()), timeout)

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> bool:
        return self.wait_until(lambda: len(self._clients) >= count, timeout)

    # --- random walk (demo market) ----------------------------------------------

    def start_random_walk(
        self,
        rate: float = 2.0,
        step: float = 0.001,
        start_prices: dict[str, Decimal | str] | None = None,
        seed: int | None = None,
    ) -> None:
        """Publish ``rate`` trades per second for every followed symbol.

        Each trade moves the symbol's price by a random fraction of at most
        ``step`` (0.001 = 0.1%), starting from ``start_prices`` (or a default).
        """
        prices = {s.upper(): Decimal(str(p)) for s, p in (start_prices or {}).items()}
        rng = random.Random(seed)

        def start():
            if self._walk_task is not None:
                self._walk_task.cancel()
            self._walk_task = asyncio.ensure_future(self._random_walk(rate, step, prices, rng))

        self._call(start)

    def stop_random_walk(self) -> None:
        def stop():
            if self._walk_task is not None:
                self._walk_task.cancel()
                self._walk_task = None

        self._call(stop)

    async def _random_walk(self, rate: float, step: float, start_prices: dict, rng: random.Random) -> None:
        walk = self._market.walk_prices
        while True:
            await asyncio.sleep(1.0 / rate)
            followed = {
                stream.partition("@")[0].upper()
                for client in self._clients.values()
                for stream in client.streams
                if not stream.startswith("!")
            }
            trades = []
            for symbol in sorted(followed):
                price = (
                    walk.get(symbol)
                    or start_prices.get(symbol)
                    or DEFAULT_START_PRICES.get(symbol, Decimal(1))
                )
                moved = price * (1 + Decimal(str(round(rng.uniform(-step, step), 8))))
                tick = next((t for floor, t in _WALK_TICKS if moved >= floor), EIGHT_DECIMALS)
                walk[symbol] = max(moved.quantize(tick), EIGHT_DECIMALS)
                trades.append((symbol, walk[symbol], "0.01000000", None, None))
            if trades:
                self._deliver_trades(trades, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.fakebinance",
        description="A fake Binance spot WebSocket market-stream server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9443, help="0 picks a free port (printed on start)")
    parser.add_argument(
        "--ping-interval", type=float, default=20.0, help="seconds between pings (Binance: 20)"
    )
    parser.add_argument(
        "--pong-timeout", type=float, default=60.0, help="drop a client after this (Binance: 60)"
    )
    parser.add_argument("--random-walk", action="store_true", help="publish trades for every followed symbol")
    parser.add_argument("--rate", type=float, default=2.0, help="random walk: trades per second per symbol")
    parser.add_argument(
        "--step", type=float, default=0.001, help="random walk: largest relative move per trade"
    )
    parser.add_argument("--price", action="append", default=[], metavar="SYMBOL=PRICE", help="a start price")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)  # our own connect/disconnect lines suffice
    try:
        start_prices = {s: Decimal(p) for s, _, p in (item.partition("=") for item in args.price)}
    except ArithmeticError:
        parser.error("--price takes SYMBOL=PRICE, e.g. BTCUSDT=60000")

    server = FakeBinance(
        args.host, args.port, ping_interval=args.ping_interval, pong_timeout=args.pong_timeout
    )
    server.start()
    if args.random_walk:
        server.start_random_walk(args.rate, args.step, start_prices, args.seed)
    print(f"fake Binance listening on {server.url} (BINANCE_WS_URL={server.url})", flush=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
