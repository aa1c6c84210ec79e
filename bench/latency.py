"""Trade-to-email latency through the real processes: p50 and p99 over N alerts.

The end-to-end stack of the test suite (tests/e2e/harness.py): the fake
Binance server, ``manage.py runfeeder``, Redis, ``celery beat`` (evaluation
every ALERTS_EVALUATE_INTERVAL, default 1 s) and ``celery worker``, and an
aiosmtpd server. Each crossing trade fires exactly one alert; trades are
spaced by a random interval so they land at every phase of the beat tick.
Latency = the SMTP server accepting the email - the fake server sending the trade.

    .venv/bin/python bench/latency.py [--alerts 100] [--symbols 10] [--spacing 0.3]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/latency.py

Redis: REDIS_URL (default redis://127.0.0.1:6379/13), flushed before and after:
give it a database of its own (never 0). Database: a temporary SQLite file,
or a database named ``bench_latency`` on the PostgreSQL server of DATABASE_URL.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.e2e.harness import Stack, benchmark_redis  # noqa: E402


def trading_usdt_symbols(count: int) -> list[str]:
    catalogue = json.loads((PROJECT_DIR / "feeds" / "data" / "symbols.json").read_text())
    fields = catalogue["fields"]
    rows = [dict(zip(fields, row, strict=False)) for row in catalogue["symbols"]]
    preferred = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT"]
    trading = [r["symbol"] for r in rows if r["status"] == "TRADING" and r["symbol"].endswith("USDT")]
    ordered = [s for s in preferred if s in trading] + [s for s in trading if s not in preferred]
    return ordered[:count]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--spacing", type=float, default=0.3, help="mean seconds between crossing trades")
    parser.add_argument("--interval", type=float, default=1.0, help="ALERTS_EVALUATE_INTERVAL")
    args = parser.parse_args()

    redis_url, client = benchmark_redis()

    symbols = trading_usdt_symbols(args.symbols)
    per_symbol = -(-args.alerts // len(symbols))
    # Symbol s, alert k: above 100 + k. A trade at 100 + k + 0.5 crosses exactly that one
    # (the lower targets of the symbol have fired already).
    alerts = [
        {"email": f"user{k}@example.com", "symbol": s, "direction": "above", "target_price": str(100 + k)}
        for k in range(per_symbol)
        for s in symbols
    ][: args.alerts]

    stack = Stack(redis_url, alerts, db_name="bench_latency", evaluate_interval=args.interval)
    with stack:
        stack.wait_ready([f"{s.lower()}@aggTrade" for s in symbols], timeout=120)
        rng = random.Random(5)
        sent_at: dict[tuple[str, str], float] = {}
        for spec in alerts:
            time.sleep(rng.uniform(0, 2 * args.spacing))
            price = Decimal(spec["target_price"]) + Decimal("0.5")
            sent_at[(spec["symbol"], spec["target_price"])] = time.time()
            stack.binance.publish_trade(spec["symbol"], price)
        received = stack.mail.wait_for(len(alerts), timeout=120)
        time.sleep(3)  # anything extra (a duplicate) would arrive by now
        extra = len(stack.mail.received) - len(alerts)

    latencies = []
    for email in received:
        # "SOLUSDT rose to 107.5 (your alert: above 107)"
        symbol, target = email.subject.split()[0], email.subject.rsplit(" ", 1)[1].rstrip(")")
        latencies.append(email.at - sent_at[(symbol, target)])
    latencies.sort()
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    print(
        f"{len(latencies)} alerts over {len(symbols)} symbols, beat every {args.interval} s, {database}: "
        f"p50 {statistics.median(latencies):.3f} s, p99 {p99:.3f} s, "
        f"min {latencies[0]:.3f} s, max {latencies[-1]:.3f} s; duplicate emails: {extra}"
    )
    client.flushdb()


if __name__ == "__main__":
    main()
