"""``python -m devtools.fakebinance``: the fake Binance as a standalone server (``make demo``'s market)."""

import argparse
import logging
import signal
import sys
import threading
from decimal import Decimal

from devtools.fakebinance.server import FakeBinance


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
