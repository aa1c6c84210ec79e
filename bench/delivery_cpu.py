"""A delivery process's CPU per email: ``deliver_many`` in batches, against an SMTP server in a child process.

Crash day (bench/crashday.py) is bound by the CPU of the two cores, shared by
the eight delivery processes, PostgreSQL and the benchmark's own SMTP server;
this isolates the delivery side. It writes ``--emails`` pending email
notifications (each of a triggered alert, over ``--users`` users), then sends
them in batches of ``SEND_BATCH`` as a worker's ``send_notifications`` does
(claim, render, send over one SMTP session per batch, mark sent), and reports
this process's CPU time (``time.process_time``) and wall time per email. The
SMTP server (the tests' aiosmtpd server) runs in a child process, so its
CPU is not counted.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/delivery_cpu.py
    .venv/bin/python bench/delivery_cpu.py --emails 2000   (SQLite, a temporary file)

To compare with older code, run this file from a checkout of it (copy it in),
minutes apart, and read the host speed line of both.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from hostspeed import describe as describe_host  # noqa: E402  (bench/ is the script's directory)
from scratch_database import scratch_database  # noqa: E402

# The tests' SMTP server (tests/support/smtp.py), in a child process of its own: its port on stdout.
SINK = """
import sys
from tests.support.smtp import MailServer

server = MailServer().start()
print(server.port, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
server.stop()
"""


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--emails", type=int, default=3000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--db-name", default="bench_delivery_cpu")
    args = parser.parse_args()
    print(describe_host(), flush=True)

    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    sink = subprocess.Popen([sys.executable, "-c", SINK], cwd=PROJECT_DIR, **pipes)
    port = int(sink.stdout.readline())
    database, drop = scratch_database(args.db_name)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pricealert.settings",
        DEBUG="false",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-not-a-secret"),
        FIELD_ENCRYPTION_KEY=os.environ.get("FIELD_ENCRYPTION_KEY", "bench-only-not-a-secret-either"),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        EMAIL_USE_TLS="false",
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
    )
    import django

    django.setup()
    try:
        measure(args, database)
    finally:
        drop()
        sink.stdin.close()
        sink.wait(timeout=10)


def measure(args, database: str) -> None:
    from decimal import Decimal

    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from alerts.delivery.send import deliver_many
    from alerts.delivery.tasks import SEND_BATCH
    from alerts.models import Alert, Notification

    call_command("migrate", verbosity=0)
    now = timezone.now()
    users = [
        User.objects.create(email=f"user{i}@example.com", email_verified_at=now) for i in range(args.users)
    ]
    alerts = Alert.objects.bulk_create(
        Alert(
            user=users[i % args.users],
            symbol="BTCUSDT",
            direction="above",
            target_price=Decimal(60_000 + i),
            status="triggered",
            triggered_price=Decimal("70123.45"),
            triggered_at=now,
        )
        for i in range(args.emails)
    )
    rows = Notification.objects.bulk_create(
        Notification(
            alert=alert,
            user=alert.user,
            channel="email",
            to=alert.user.email,
            triggered_price=alert.triggered_price,
            triggered_at=now,
        )
        for alert in alerts
    )
    ids = [row.pk for row in rows]
    cpu, wall = time.process_time(), time.perf_counter()
    outcomes: dict[str, int] = {}
    for start in range(0, len(ids), SEND_BATCH):
        for _, delivery in deliver_many(ids[start : start + SEND_BATCH], 0):
            outcomes[delivery.outcome] = outcomes.get(delivery.outcome, 0) + 1
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert outcomes == {"sent": args.emails}, outcomes
    print(
        f"{database}: {args.emails:,} emails in batches of {SEND_BATCH}: "
        f"CPU {cpu / args.emails * 1000:.3f} ms per email, wall {wall / args.emails * 1000:.3f} ms per email "
        f"({args.emails / wall:,.0f} emails/s from one process)"
    )


if __name__ == "__main__":
    main()
