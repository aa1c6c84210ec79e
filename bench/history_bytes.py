"""Redis memory of one followed symbol's price history (feeds/history.py), measured.

Fills a symbol as a liquid one looks after a day: a trade in every second of
the last 15 minutes and in every minute of the last 24 hours (every bucket
present, the most the history can hold), prices and quantities with
Binance's 8 decimals, then sums ``MEMORY USAGE`` over its keys.

    .venv/bin/python bench/history_bytes.py [--symbols 20]

Redis: REDIS_URL (default redis://127.0.0.1:6379/12); it writes and deletes
hist:*:BYTES*USDT keys there.
"""

import argparse
import os
import random
import sys
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

from feeds import history  # noqa: E402


def fill(symbol: str, rng: random.Random) -> int:
    now = int(time.time() * 1000)
    price = Decimal("67012.34000000")
    trades = []
    # One trade a minute for 24 h, then one a second for the last 15 minutes (plus a few more).
    for ms in range(now - 86_400_000, now - 900_000, 60_000):
        price += Decimal(rng.randint(-500, 500)) / 100
        trades.append((price, Decimal(rng.randint(1, 10**8)) / 10**8, ms))
    for ms in range(now - 900_000, now, 1000):
        for _ in range(3):
            price += Decimal(rng.randint(-500, 500)) / 100
            trades.append((price, Decimal(rng.randint(1, 10**8)) / 10**8, ms + rng.randint(0, 999)))
    for start in range(0, len(trades), 2000):
        history.record_trades(symbol, trades[start : start + 2000])
    return history.history_bytes(symbol)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(18)
    sizes = []
    for i in range(args.symbols):
        symbol = f"BYTES{i}USDT"
        history.delete_history(symbol)
        sizes.append(fill(symbol, rng))
        history.delete_history(symbol)
    sizes.sort()
    print(f"symbols: {args.symbols}, every bucket present (900 seconds, 1,440 minutes)")
    print(
        f"bytes per followed symbol: median {sizes[len(sizes) // 2]:,}, min {sizes[0]:,}, max {sizes[-1]:,}"
    )


if __name__ == "__main__":
    main()
