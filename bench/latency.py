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
or a database named ``--db-name`` (``bench_latency``) on the PostgreSQL server of DATABASE_URL.

``--channel webhook``: each user's alerts go to a webhook (a local HTTP server)
instead of email; latency = the server receiving the POST - the trade.
``--baseline DIR``: first the same measurement with the processes run from
DIR (a checkout of older code, e.g. ``git archive <commit> | tar -x -C DIR``),
then with this checkout, in the same run; both are printed side by side.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import redis  # noqa: E402
from hostspeed import describe as describe_host  # noqa: E402  (bench/ is the script's directory)

from tests.e2e import harness  # noqa: E402
from tests.e2e.harness import Stack  # noqa: E402
from tests.support.http import HookServer  # noqa: E402

WEBHOOK_SCRIPT = """
import sys
import django
django.setup()
from accounts.models import User
from alerts.models import Channel
for user in User.objects.all():
    Channel.objects.filter(user=user, kind="email").update(enabled=False)
    Channel.objects.create(user=user, kind="webhook", name="bench", url=sys.argv[1], secret="b" * 64)
"""


class TimedList(list):
    """The webhook server's record of requests, each with the time it arrived."""

    def append(self, item) -> None:
        super().append((time.time(), item))


def trading_usdt_symbols(count: int) -> list[str]:
    catalogue = json.loads((PROJECT_DIR / "feeds" / "data" / "symbols.json").read_text())
    fields = catalogue["fields"]
    rows = [dict(zip(fields, row, strict=False)) for row in catalogue["symbols"]]
    preferred = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT"]
    trading = [r["symbol"] for r in rows if r["status"] == "TRADING" and r["symbol"].endswith("USDT")]
    ordered = [s for s in preferred if s in trading] + [s for s in trading if s not in preferred]
    return ordered[:count]


def measure(args, redis_url: str, client: redis.Redis, project: Path) -> tuple[list[float], int]:
    """One stack from ``project``'s code: (latencies in s, emails or webhooks beyond one per alert)."""
    client.flushdb()
    symbols = trading_usdt_symbols(args.symbols)
    per_symbol = -(-args.alerts // len(symbols))
    # Symbol s, alert k: above 100 + k. A trade at 100 + k + 0.5 crosses exactly that one
    # (the lower targets of the symbol have fired already).
    alerts = [
        {"email": f"user{k}@example.com", "symbol": s, "direction": "above", "target_price": str(100 + k)}
        for k in range(per_symbol)
        for s in symbols
    ][: args.alerts]

    harness.PROJECT_DIR = project  # the processes run this code (the harness itself is this checkout's)
    hooks = HookServer()
    hooks.received = TimedList()
    extra_env = {"OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8"} if args.channel == "webhook" else {}
    stack = Stack(
        redis_url, alerts, db_name=args.db_name, evaluate_interval=args.interval, extra_env=extra_env
    )
    with hooks, stack:
        if args.channel == "webhook":
            subprocess.run(
                [sys.executable, "-c", WEBHOOK_SCRIPT, hooks.url],
                cwd=project,
                env=stack.env(),
                check=True,
                timeout=120,
            )
        stack.wait_ready([f"{s.lower()}@aggTrade" for s in symbols], timeout=120)
        time.sleep(2)  # the feeder's first frontier refresh
        rng = random.Random(5)
        sent_at: dict[tuple[str, str], float] = {}
        for spec in alerts:
            time.sleep(rng.uniform(0, 2 * args.spacing))
            price = Decimal(spec["target_price"]) + Decimal("0.5")
            sent_at[(spec["symbol"], Decimal(spec["target_price"]))] = time.time()
            stack.binance.publish_trade(spec["symbol"], price)
        if args.channel == "webhook":
            stack.wait_until(lambda: len(hooks.received) >= len(alerts), 120, "every webhook")
            time.sleep(3)  # anything extra (a duplicate) would arrive by now
            arrivals = []
            for at, request in hooks.received:
                alert = json.loads(request.body)["alert"]
                arrivals.append((at, alert["symbol"], Decimal(alert["target_price"])))
        else:
            received = stack.mail.wait_for(len(alerts), timeout=120)
            time.sleep(3)
            arrivals = []
            for email in stack.mail.received:
                # "SOLUSDT rose to 107.5 (your alert: above 107)"
                symbol, target = email.subject.split()[0], email.subject.rsplit(" ", 1)[1].rstrip(")")
                arrivals.append((email.at, symbol, Decimal(target)))
            assert len(received) >= len(alerts)
    client.flushdb()
    first = {}
    for at, symbol, target in arrivals:
        first.setdefault((symbol, target), at)
    latencies = sorted(at - sent_at[key] for key, at in first.items())
    return latencies, len(arrivals) - len(alerts)


def summary(latencies: list[float]) -> str:
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    return (
        f"p50 {statistics.median(latencies):.3f} s, p99 {p99:.3f} s, "
        f"min {latencies[0]:.3f} s, max {latencies[-1]:.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--spacing", type=float, default=0.3, help="mean seconds between crossing trades")
    parser.add_argument("--interval", type=float, default=1.0, help="ALERTS_EVALUATE_INTERVAL")
    parser.add_argument("--channel", choices=["email", "webhook"], default="email")
    parser.add_argument("--baseline", type=Path, help="a checkout of older code, measured first")
    parser.add_argument("--db-name", default="bench_latency", help="PostgreSQL database (dropped after)")
    args = parser.parse_args()
    print(describe_host(), flush=True)

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    if redis_url.rstrip("/").endswith("/0") or redis_url.count("/") < 3:
        sys.exit("give the benchmark a Redis database of its own (REDIS_URL=redis://host:port/N, N != 0)")
    client = redis.Redis.from_url(redis_url)
    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    runs = ([("baseline", args.baseline.resolve())] if args.baseline else []) + [("this code", PROJECT_DIR)]
    what = "emails (SMTP accepted)" if args.channel == "email" else "webhooks (POST received)"
    print(
        f"trade to {what}: {args.alerts} alerts over {args.symbols} symbols, "
        f"beat every {args.interval} s, {database}"
    )
    for label, project in runs:
        latencies, extra = measure(args, redis_url, client, project)
        print(f"  {label:10} ({project}): {summary(latencies)}; duplicates: {extra}", flush=True)


if __name__ == "__main__":
    main()
