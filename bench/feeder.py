"""Feeder throughput: a burst of aggTrade frames through the real feeder path.

socket (a local fake Binance) -> websocket-client -> parse -> fold into
windows -> flush to Redis, all by the same ``feeds.feeder`` classes that
``manage.py runfeeder`` uses. Prints messages per second (wall clock, from the
first frame written until the last trade's price is in Redis) and the feeder
threads' CPU seconds per 100k messages.

    .venv/bin/python bench/feeder.py [--messages 300000] [--symbols 50] [--profile]

Redis: REDIS_URL (default redis://127.0.0.1:6379/12). It writes price:BENCH*
keys, the "prices" stream and heartbeats there; use a database you can spare.
``--micro`` times the parse and fold steps alone, json vs orjson, on the
recorded frames; ``--profile`` prints the connection thread's cProfile top 25;
``--stock-reads`` and ``--validate-utf8`` undo the two receive-path choices
(read-ahead buffer, skipped UTF-8 validation) to measure what they buy.
"""

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import random
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
import websocket  # noqa: E402
from websocket import _socket as websocket_socket  # noqa: E402

import feeds.feeder.connection as connection_module  # noqa: E402
from devtools.fakebinance import FakeBinance  # noqa: E402
from feeds import binance, store  # noqa: E402
from feeds.feeder import Feeder, FeederConfig  # noqa: E402
from feeds.windows import PriceWindow  # noqa: E402
from tests.recordings import recorded_lines  # noqa: E402


def thread_cpu(thread: threading.Thread) -> float:
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def burst(symbols: list[str], count: int, seed: int = 7) -> list[tuple[str, Decimal]]:
    rng = random.Random(seed)
    prices = {s: Decimal("100.00000000") for s in symbols}
    trades = []
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        prices[symbol] = max(Decimal("0.01"), prices[symbol] + Decimal(rng.randint(-100, 100)) / 100)
        trades.append((symbol, prices[symbol]))
    return trades


def run_burst(args) -> None:
    symbols = [f"BENCH{i}USDT" for i in range(args.symbols)]
    trades = burst(symbols, args.messages)
    last_ms = int(time.time() * 1000) + 10_000_000
    client = store.redis_client()
    for symbol in symbols:
        client.delete(store.PRICE_KEY.format(symbol=symbol))

    if args.stock_reads:  # websocket-client's own exact-size socket reads, for comparison
        connection_module.BufferedReceive = lambda sock: functools.partial(websocket_socket.recv, sock)
    if args.validate_utf8:  # websocket-client's pure-Python UTF-8 check, for comparison
        create_connection = websocket.create_connection
        websocket.create_connection = lambda url, **options: create_connection(
            url, **{**options, "skip_utf8_validation": False}
        )

    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        original_serve = connection_module.Connection._serve

        def profiled_serve(self, ws):
            return profiler.runcall(original_serve, self, ws)

        connection_module.Connection._serve = profiled_serve

    with FakeBinance() as server:
        feeder = Feeder(FeederConfig(ws_url=server.url, name="bench")).start()
        feeder.follow(symbols)
        if not all(server.wait_for_subscription(binance.stream_name(s), 30) for s in symbols):
            raise SystemExit("the feeder did not subscribe")
        connection = feeder.connections[0]
        while not connection.is_fully_subscribed():
            time.sleep(0.01)
        # A final trade per symbol marks the end of the burst in Redis.
        markers = [(s, Decimal("1.23456789")) for s in symbols]
        prepared = server.prepare_trades(trades)
        prepared_markers = server.prepare_trades(markers, event_ms=last_ms)
        cpu_before = thread_cpu(connection) + thread_cpu(feeder.flusher)
        process_before = time.process_time()
        started = time.perf_counter()
        sent = server.send_prepared(prepared) + server.send_prepared(prepared_markers)
        written = time.perf_counter()
        while True:
            latest = store.latest_price(symbols[-1])
            if latest is not None and latest.event_time.timestamp() * 1000 == last_ms:
                break
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        cpu = thread_cpu(connection) + thread_cpu(feeder.flusher) - cpu_before
        process_cpu = time.process_time() - process_before
        flushes = feeder.flusher.flushes
        feeder.stop()

    print(f"messages: {sent} aggTrade frames over {args.symbols} symbols, one connection")
    print(f"server handed the pre-encoded burst to its socket in {written - started:.2f}s")
    print(f"wall time to the last price in Redis: {elapsed:.2f}s -> {sent / elapsed:,.0f} messages/s")
    print(f"feeder threads CPU: {cpu:.2f}s -> {cpu / sent * 100_000:.2f} CPU-s per 100k messages")
    print(
        f"  ({sent / cpu:,.0f} messages per feeder CPU-second; whole process incl. server {process_cpu:.2f}s)"
    )
    print(f"flushes to Redis during the run: {flushes}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())


def micro(args) -> None:
    """Per-message cost of each step after the socket, on the recorded aggTrade frames (best of 5)."""
    frames = [line.encode() for line in recorded_lines("aggTrade.jsonl")]
    wrapped = [b'{"stream":"x@aggTrade","data":' + f + b"}" for f in frames]
    n = args.messages
    data = (wrapped * (n // len(wrapped) + 1))[:n]
    trades = [binance.parse_message(d) for d in data]

    def best_of(step) -> float:
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            step()
            timings.append(time.perf_counter() - start)
        return min(timings) / n * 1e6

    def loads_json():
        for d in data:
            json.loads(d)

    def loads_orjson():
        for d in data:
            orjson.loads(d)

    def decimal_price():
        for d in data:
            Decimal(orjson.loads(d)["data"]["p"])

    def float_price():  # for comparison only: floats are never used for prices
        for d in data:
            float(orjson.loads(d)["data"]["p"])

    def parse():
        parse_message = binance.parse_message
        for d in data:
            parse_message(d)

    def fold_without_history():  # the fold before the price history (issue 18), for comparison
        windows = {}
        for symbol, price, event_ms, agg_id, _ in trades:
            w = windows.get(symbol)
            if w is None:
                windows[symbol] = PriceWindow(symbol, price, price, price, event_ms, event_ms, agg_id)
            else:
                w.add(price, event_ms)

    def fold():  # as the connection does: window plus its 1-second history buckets
        windows = {}
        first_trade = PriceWindow.first_trade
        for symbol, price, event_ms, agg_id, quantity in trades:
            w = windows.get(symbol)
            if w is None:
                windows[symbol] = first_trade(symbol, price, event_ms, agg_id, quantity)
            else:
                w.add_trade(price, event_ms, quantity)

    print(f"{n} combined frames from the recorded aggTrade.jsonl; microseconds per message, best of 5:")
    for label, step in (
        ("json.loads (stdlib)", loads_json),
        ("orjson.loads", loads_orjson),
        ("orjson.loads + Decimal(price)", decimal_price),
        ("orjson.loads + float(price) (not used)", float_price),
        ("binance.parse_message (orjson, Decimal, checks)", parse),
        ("fold into PriceWindow, no history (before #18)", fold_without_history),
        ("fold into PriceWindow + 1-second buckets", fold),
    ):
        print(f"  {label:<50} {best_of(step):5.2f} us")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--micro", action="store_true")
    parser.add_argument("--stock-reads", action="store_true", help="without the feeder's read-ahead buffer")
    parser.add_argument("--validate-utf8", action="store_true", help="with websocket-client's UTF-8 check")
    args = parser.parse_args()
    micro(args) if args.micro else run_burst(args)


if __name__ == "__main__":
    main()
