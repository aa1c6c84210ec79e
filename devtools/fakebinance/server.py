"""The fake Binance server: connections, keepalive, message limits, and the thread-safe API tests drive.

All socket work runs in the server's own asyncio loop (a background thread);
the public methods hand their work to that loop and wait for it. What goes on
the wire is built by ``wire`` and ``market``; control requests are answered by
``control``.
"""

import asyncio
import contextlib
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from devtools.fakebinance import control
from devtools.fakebinance.connections import Client, CountingConnection, RouteRefused, parse_route
from devtools.fakebinance.market import Market
from devtools.fakebinance.rest import RestApi
from devtools.fakebinance.wire import server_shutdown_payload, stream_frame, text_frame

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedFrames:
    frames: dict[int, bytes]  # client id -> its frames, concatenated
    count: int


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
        rest_weight_limit: int = 6000,
    ):
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.max_messages_per_second = max_messages_per_second
        self.max_streams_per_connection = max_streams_per_connection
        self.max_params_per_request = max_params_per_request

        self._state = threading.Condition()
        self._clients: dict[int, Client] = {}
        self._client_ids = itertools.count(1)
        self.connections_accepted = 0
        self.rate_violations: list[tuple[int, int]] = []  # (client id, messages in the last second)
        self.stream_limit_violations: list[int] = []
        self.pong_timeouts = 0
        self.close_codes: list[tuple[int, int | None]] = []  # (client id, close code; 1006 = no close frame)
        self.control_message_counts: dict[int, int] = {}  # client id -> requests received, kept after close

        self._market = Market()
        self.rest = RestApi(self._market, weight_limit=rest_weight_limit)
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

    @property
    def api_url(self) -> str:
        """The base URL to give the feeder as BINANCE_API_URL (REST on the same port)."""
        return f"http://{self.host}:{self.port}"

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
            create_connection=CountingConnection,
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
        if request.path.startswith("/api/"):  # REST: a plain HTTP request, answered without a handshake
            return self.rest.answer(request.path).response(connection)
        try:
            connection.binance_route = parse_route(request.path, self.max_streams_per_connection)
        except RouteRefused as refused:
            return connection.respond(refused.status, refused.text)
        return None

    async def _handle(self, ws: CountingConnection) -> None:
        combined, streams = ws.binance_route
        with self._state:
            client = Client(next(self._client_ids), ws, combined, streams)
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

    def _count_message(self, client: Client, opcode: Opcode) -> None:
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

    async def _keepalive(self, client: Client) -> None:
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

    def _reply_to(self, client: Client, message: str | bytes) -> str:
        def execute(request: dict):
            with self._state:
                client.control_requests += 1
                self.control_message_counts[client.id] += 1
                try:
                    return control.execute(
                        client,
                        request,
                        message,
                        max_params=self.max_params_per_request,
                        max_streams=self.max_streams_per_connection,
                    )
                except control.StreamLimitExceeded:
                    self.stream_limit_violations.append(client.id)
                    raise
                finally:
                    self._state.notify_all()

        return control.reply_to(message, execute)

    # --- events -------------------------------------------------------------

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
            kline_stream = f"{symbol.lower()}@kline_1s"
            klines = any(kline_stream in c.streams for c in self._clients.values())
            payloads = self._market.trade_payloads(symbol, price, qty, event_ms, maker, klines)
            for client in self._clients.values():
                for stream, payload in payloads.items():
                    if stream in client.streams:
                        for text in payload if isinstance(payload, list) else [payload]:
                            per_client[client.id].append(stream_frame(stream, text, client.combined))
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
        event = server_shutdown_payload(int(time.time() * 1000))

        def send():
            for client in self._clients.values():
                client.write(stream_frame("!serverShutdown", event, client.combined))
                if close_after is not None:
                    self._loop.call_later(close_after, lambda c=client: self._spawn(c.ws.close(1001)))
            return len(self._clients)

        return self._call(send)

    def lose_trades(self, trades: Iterable[tuple]) -> None:
        """Trades ``(symbol, price, event_ms[, qty])`` made whose frames reach nobody (an id gap)."""
        batch = [(t[0], t[1], t[3] if len(t) > 3 else "1", t[2], None) for t in trades]
        self._call(self._encode_trades, batch, None)

    def queue_rest_failure(self, status: int = 429, retry_after: float = 1.0, count: int = 1) -> None:
        """The next ``count`` REST requests get ``status`` (429 or 418) with ``Retry-After``."""
        self._call(self.rest.queue_failure, status, retry_after, count)

    def rest_requests(self) -> list:
        """Every REST request so far (``RestRequest``: time, path, params, status)."""
        return self._call(lambda: list(self.rest.requests))

    def trades(self, symbol: str) -> list[tuple]:
        """Every trade of ``symbol`` so far: (agg id, price, qty, trade id, time ms, buyer is maker)."""
        return self._call(lambda: list(self._market.history.get(symbol.upper(), ())))

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
        while True:
            await asyncio.sleep(1.0 / rate)
            followed = {
                stream.partition("@")[0].upper()
                for client in self._clients.values()
                for stream in client.streams
                if not stream.startswith("!")
            }
            trades = [
                (symbol, self._market.walk(symbol, step, start_prices, rng), "0.01000000", None, None)
                for symbol in sorted(followed)
            ]
            if trades:
                self._deliver_trades(trades, None)
