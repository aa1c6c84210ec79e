"""Crash day through the real processes: N alerts on one symbol, one crossing trade, every email timed.

The end-to-end stack (tests/e2e/harness.py): the fake Binance server,
``manage.py runfeeder``, Redis, ``celery beat``, the ``engine`` worker and the
delivery ``worker`` with the Procfile's settings (8 processes; ``--worker-concurrency``
to try another number), and a local aiosmtpd server (tests/support/smtp.py). ``--users``
users own ``--alerts`` alerts on BTCUSDT ("above" targets from 100 up), and
one trade at 1,000,000 crosses them all. Reported: the first and the last
email after the trade, when the notifications were stamped (their created_at), emails per
second, how many users had had their first email by the time 10 % of the
emails were out (fairness), missing and duplicate emails (by Message-ID).

``--kill-at 0.3``: the delivery worker is SIGKILLed (its process group) once 30 %
of the emails arrived, and started again ``--restart-after`` seconds later.

``--sink postfix``: Postfix's ``smtp-sink`` (C) takes the emails instead of the
tests' aiosmtpd server (Python), which takes about a quarter of a core from the
stack at a thousand emails a second (bench/postfix_sink.py says why and how).

``--cpu``: also where the machine's CPU went from the trade to the last email, by
process kind (``bench/cpusplit.py``: delivery worker, engine, PostgreSQL, this
process with its SMTP server, ...).

``--code DIR`` runs the processes from another checkout (the previous commit,
e.g. ``git archive <commit> | tar -x -C DIR``) with this harness: the old code
measured the same way in the same run (give it the worker concurrency it shipped
with: ``--worker-concurrency 2`` for code before 8 was the default, whose Procfile
ran the CPU count).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/crashday.py
    ... bench/crashday.py --kill-at 0.3
    ... bench/crashday.py --code /tmp/base --kill-at 0.3 --timeout 180

Redis: REDIS_URL (default redis://127.0.0.1:6379/13), flushed before and after.
Database: a fresh one named ``bench_crashday`` (``--db-name``) on DATABASE_URL's
PostgreSQL server (or a temporary SQLite file).
"""

import argparse
import contextlib
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from cpusplit import CpuSplit  # noqa: E402  (bench/ is the script's directory)
from hostspeed import describe as describe_host  # noqa: E402
from postfix_sink import PostfixSink  # noqa: E402

from tests.e2e import harness  # noqa: E402

SYMBOL = "BTCUSDT"
CROSSING_PRICE = "1000000"
PENDING = "SELECT COUNT(*) FROM alerts_notification WHERE status = 'pending'"


def alert_specs(alerts: int, users: int) -> list[dict]:
    # Created user by user: user k owns alerts k*per .. (k+1)*per-1, so an unfair sender
    # (in creation order) would send one user's alerts all before the next user's.
    return [
        {
            "email": f"user{(k * users) // alerts:04d}@example.com",
            "symbol": SYMBOL,
            "direction": "above",
            "target_price": f"{100 + k * 0.01:.2f}",
        }
        for k in range(alerts)
    ]


def created_at_epoch(database: harness.Database) -> tuple[float, float]:
    """The first and last notification rows' ``created_at`` (epoch seconds): the time the outbox
    stamped them, on PostgreSQL when the firing statement started (it writes them itself)."""
    first, last = database.query("SELECT MIN(created_at), MAX(created_at) FROM alerts_notification")[0]
    first, last = (v if isinstance(v, datetime) else datetime.fromisoformat(v) for v in (first, last))
    return tuple(v.replace(tzinfo=v.tzinfo or UTC).timestamp() for v in (first, last))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--kill-at", type=float, default=0.0, help="fraction of emails received, then SIGKILL"
    )
    parser.add_argument("--restart-after", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for every email")
    parser.add_argument("--code", type=Path, default=None, help="run the processes from this checkout")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=harness.DELIVERY_CONCURRENCY,
        help="delivery worker processes (default: the Procfile's)",
    )
    parser.add_argument("--timeline", action="store_true", help="also print the emails received each second")
    parser.add_argument("--cpu", action="store_true", help="also print the CPU used by process kind")
    parser.add_argument(
        "--sink",
        choices=["aiosmtpd", "postfix"],
        default="aiosmtpd",
        help="the SMTP server: the tests' aiosmtpd (Python) or Postfix's smtp-sink (C)",
    )
    parser.add_argument(
        "--db-name", default="bench_crashday", help="the PostgreSQL database to create (dropped after)"
    )
    args = parser.parse_args()
    print(describe_host(), flush=True)

    redis_url, client = harness.benchmark_redis()
    if args.code:
        harness.PROJECT_DIR = args.code.resolve()

    specs = alert_specs(args.alerts, args.users)
    stack = harness.Stack(redis_url, specs, db_name=args.db_name, worker_concurrency=args.worker_concurrency)
    if args.sink == "postfix":
        stack.mail = PostfixSink()
    kill_line = ""
    stack.start()
    try:
        stack.wait_ready([f"{SYMBOL.lower()}@aggTrade"], timeout=180)
        time.sleep(2)  # the feeder's first flush and the first ticks are behind us

        def groups() -> dict[int, str]:  # each stack process leads a process group of its own
            return {process.pid: name for name, process in stack.processes.items()}

        with CpuSplit(groups) if args.cpu else contextlib.nullcontext() as cpu:
            traded_at = time.time()
            stack.binance.publish_trade(SYMBOL, CROSSING_PRICE)
            deadline = time.monotonic() + args.timeout
            if args.kill_at:
                stack.mail.wait_for(int(args.alerts * args.kill_at), timeout=args.timeout)
                killed_at = time.time()
                stack.kill("worker")
                time.sleep(args.restart_after)
                stack.respawn("worker")
                kill_line = f"; worker SIGKILLed at {killed_at - traded_at:.1f} s, restarted"
            with contextlib.suppress(AssertionError):  # reported as missing
                stack.mail.wait_for(args.alerts, timeout=max(1.0, deadline - time.monotonic()))
        time.sleep(5)  # a duplicate would arrive by now
        received = stack.mail.received
        first_row, last_row = created_at_epoch(stack.database)
        pending = stack.database.query(PENDING)[0][0]
    finally:
        stack.stop()
        print(f"process logs: {stack.workdir}")

    client.flushdb()
    by_id: dict[str, list] = {}
    for email in received:
        by_id.setdefault(str(email.message["Message-ID"]), []).append(email)
    firsts = sorted(copies[0].at for copies in by_id.values())
    missing = args.alerts - len(by_id)
    duplicates = len(received) - len(by_id)
    tenth = sorted(received, key=lambda e: e.at)[: max(1, len(received) // 10)]
    users_served = len({e.rcpt_tos[0] for e in tenth})
    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    code = f"code of {args.code}" if args.code else "code of this checkout"
    code += f", {args.worker_concurrency} delivery processes, SMTP server {args.sink}"
    print(
        f"{args.alerts} alerts, {args.users} users, one symbol, {database}, {code}{kill_line}:\n"
        f"  notification rows stamped {first_row - traded_at:.2f} s after the trade "
        f"(the last {last_row - traded_at:.2f} s; on PostgreSQL the firing statement's start)\n"
        f"  first email {firsts[0] - traded_at:.2f} s, last {firsts[-1] - traded_at:.2f} s after the trade; "
        f"{len(firsts) / max(firsts[-1] - firsts[0], 1e-3):.0f} emails/s between them\n"
        f"  first 10 % of emails reached {users_served} of {args.users} users\n"
        f"  missing {missing}, duplicates {duplicates}, still pending {pending}"
    )
    if cpu is not None:
        print(f"  {cpu.report()}")
    if args.timeline:
        per_second: dict[int, int] = {}
        for at in firsts:
            per_second[int(at - traded_at)] = per_second.get(int(at - traded_at), 0) + 1
        seconds = ", ".join(f"{second}: {count}" for second, count in sorted(per_second.items()))
        print(f"  emails per second after the trade: {seconds}")


if __name__ == "__main__":
    main()
