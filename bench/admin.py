"""Admin page times at scale: every changelist and change page, first byte, median of several.

Seeds a PostgreSQL database of its own (created and dropped here) with
--users users (each with an email channel, every second one a webhook, every
fifth an Apprise URL), --alerts alerts in every status over 40 symbols and
--notifications notifications in every status over the last 30 days, plus one
alert with --big-alert notifications (the alert page that used to take 6.7 s).
Seeding is set-based SQL (INSERT ... SELECT over generate_series): 200k alerts
and 300k notifications load in seconds; then VACUUM ANALYZE, as autovacuum would.

Then serves the project through a real WSGI server on 127.0.0.1 (one thread,
DEBUG off) and, logged in as a superuser, requests each page --repeat times
after one warm-up, timing the first byte (the status line: Django renders the
whole page before it sends it) and the whole answer.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/admin.py
    (--alerts 200000 --notifications 300000 --users 2000 --big-alert 5000 --repeat 7;
     --budget-ms 300: exit 1 if a page's median first byte is over it; --keep keeps the
     database; --explain PATH prints the SQL of one page with EXPLAIN ANALYZE)

DATABASE_URL names the server (any database on it); the benchmark uses a database
named ``bench_admin`` there (--database to change it). Redis: REDIS_URL (default
redis://127.0.0.1:6379/11): the operations page reads the feed's keys there.
"""

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from scratch_database import scratch_database  # noqa: E402  (bench/ is the script's directory)

SYMBOLS = [
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "TRXUSDT",
    "AVAXUSDT", "LINKUSDT", "DOTUSDT", "MATICUSDT", "LTCUSDT", "BCHUSDT", "UNIUSDT", "ATOMUSDT",
    "ETCUSDT", "XLMUSDT", "FILUSDT", "APTUSDT", "NEARUSDT", "ARBUSDT", "OPUSDT", "INJUSDT",
    "SUIUSDT", "PEPEUSDT", "SHIBUSDT", "AAVEUSDT", "ETHBTC", "BNBBTC", "SOLBTC", "XRPBTC",
    "TONUSDT", "WLDUSDT", "SEIUSDT", "TIAUSDT", "RUNEUSDT", "FETUSDT", "ENAUSDT", "WIFUSDT",
]  # fmt: skip


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--notifications", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--big-alert", type=int, default=5_000, help="notifications of one alert")
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page (median)")
    parser.add_argument("--budget-ms", type=float, default=300.0)
    parser.add_argument("--database", default="bench_admin")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="time a database kept by --keep again (migrated, not re-seeded)"
    )
    parser.add_argument("--explain", metavar="PATH", help="EXPLAIN ANALYZE every query of this page")
    return parser.parse_args()


# --- Seeding: set-based SQL ------------------------------------------------------


def seed(cursor, *, users: int, alerts: int, notifications: int, big_alert: int) -> None:
    """Rows straight into the tables."""
    cursor.execute(
        """
        INSERT INTO accounts_user (password, is_superuser, email, username, is_staff, is_active, date_joined)
        SELECT '!', false, 'trader.' || g || '@bench.example.com', NULL, false, true,
               now() - make_interval(mins => g)
        FROM generate_series(1, %s) g
        """,
        [users],
    )
    cursor.execute("SELECT min(id) FROM accounts_user WHERE email LIKE '%%@bench.example.com'", [])
    first_user = cursor.fetchone()[0]
    columns = "user_id, kind, name, url, secret, enabled, disabled_reason, created_at, last_test_error"
    bench_users = "FROM accounts_user WHERE email LIKE '%%@bench.example.com'"
    for select in (
        f"SELECT id, 'email', 'Email', '', '', true, '', date_joined, '' {bench_users}",
        f"""SELECT id, 'webhook', 'desk hook ' || id, 'https://hooks.example.com/in/' || md5(id::text),
               md5('secret' || id), id %% 10 <> 0,
               CASE WHEN id %% 10 = 0 THEN 'The webhook answered HTTP 410.' ELSE '' END, date_joined, ''
            {bench_users} AND id %% 2 = 0""",
        f"SELECT id, 'apprise', 'phone', 'ntfys://bench-' || id, '', true, '', date_joined, '' "
        f"{bench_users} AND id %% 5 = 0",
    ):
        cursor.execute(f"INSERT INTO alerts_channel ({columns}) {select}", [])
    # Statuses by g mod 20: 8 waiting, 1 re-arming, 7 triggered, 2 expired, 2 deleted.
    cursor.execute(
        """
        WITH rows AS (
            SELECT g, %s + (g %% %s) AS user_id,
                   -- skewed: the first symbols most watched, as on a real deployment
                   (%s::text[])[1 + (g %% 1000) * (g %% 1000) * %s / 1000000] AS symbol,
                   CASE WHEN g %% 20 < 8 THEN 'created' WHEN g %% 20 = 8 THEN 'rearming'
                        WHEN g %% 20 < 16 THEN 'triggered' WHEN g %% 20 < 18 THEN 'expired'
                        ELSE 'deleted' END AS status,
                   (1000 + g %% 90000)::numeric + (g %% 100) / 100.0 AS target,
                   now() - make_interval(secs => g * 10) AS created_at
            FROM generate_series(1, %s) g
        )
        INSERT INTO alerts_alert (user_id, symbol, direction, target_price, status, created_at, armed_at,
            triggered_at, triggered_price, crossing, repeat, cooldown_seconds, rearm_percent, rearm_price,
            rearm_after_ms, last_triggered_at, trigger_count, expires_at, note)
        SELECT user_id, symbol, CASE WHEN g %% 2 = 0 THEN 'above' ELSE 'below' END, target, status,
            created_at, created_at,
            CASE WHEN status IN ('triggered', 'rearming') THEN created_at + interval '1 hour' END,
            CASE WHEN status IN ('triggered', 'rearming') THEN target END,
            g %% 7 = 0,
            CASE WHEN status = 'rearming' OR g %% 9 = 0 THEN 'every' ELSE 'once' END,
            CASE WHEN status = 'rearming' OR g %% 9 = 0 THEN 3600 END,
            0.1,
            CASE WHEN g %% 2 = 0 THEN target * 0.999 ELSE target * 1.001 END,
            CASE WHEN status = 'rearming' THEN 0 END,
            CASE WHEN status IN ('triggered', 'rearming') THEN created_at + interval '1 hour' END,
            CASE WHEN status IN ('triggered', 'rearming') THEN 1 + g %% 3 ELSE 0 END,
            CASE WHEN status = 'expired' THEN created_at + interval '1 day' END,
            CASE WHEN g %% 4 = 0 THEN 'take profit, tell the desk' ELSE '' END
        FROM rows
        """,
        [first_user, users, SYMBOLS, len(SYMBOLS), alerts],
    )
    cursor.execute("SELECT min(id) FROM alerts_alert")
    first_alert = cursor.fetchone()[0]

    # Notifications of the fired alerts (a triggered alert is one whose g mod 20 is 8..15): by
    # g mod 100, 85 sent, 8 failed, 2 pending, 5 suppressed; spread over 30 days, newest first.
    cursor.execute(
        """
        WITH rows AS (
            -- alert g_a (its id: first + g_a - 1) fired when g_a mod 20 is 8..15
            SELECT g, %s - 1 + ((g / 8) %% (%s / 20)) * 20 + 8 + g %% 8 AS alert_id,
                   CASE WHEN g %% 100 < 85 THEN 'sent' WHEN g %% 100 < 93 THEN 'failed'
                        WHEN g %% 100 < 95 THEN 'pending' ELSE 'suppressed' END AS status,
                   now() - make_interval(secs => g * 8.64) AS created_at
            FROM generate_series(1, %s) g
        )
        INSERT INTO alerts_notification (alert_id, user_id, via_id, channel, "to", status, firing,
            triggered_price, triggered_at, attempts, last_error, created_at, sent_at, next_attempt_at,
            leased_until, failed_at)
        SELECT r.alert_id, a.user_id, c.id, c.kind,
            CASE WHEN c.kind = 'email' THEN u.email ELSE c.name END, r.status, 1 + r.g %% 3,
            a.target_price, r.created_at,
            CASE r.status WHEN 'sent' THEN 1 WHEN 'failed' THEN 5 WHEN 'pending' THEN 1 ELSE 0 END,
            CASE r.status WHEN 'failed' THEN 'HTTPSConnectionPool(host=''hooks.example.com'', port=443): '
                                             || 'Read timed out. (read timeout=10)'
                          WHEN 'suppressed' THEN 'Over the notifications-per-hour limit.'
                          ELSE '' END,
            r.created_at,
            CASE WHEN r.status = 'sent' THEN r.created_at + interval '2 seconds' END,
            NULL, NULL,
            CASE WHEN r.status = 'failed' THEN r.created_at + interval '5 minutes' END
        FROM rows r
        JOIN alerts_alert a ON a.id = r.alert_id
        JOIN accounts_user u ON u.id = a.user_id
        JOIN alerts_channel c ON c.user_id = a.user_id AND c.kind = CASE
            WHEN r.g %% 3 = 0 AND a.user_id %% 2 = 0 THEN 'webhook' ELSE 'email' END
        """,
        [first_alert, alerts, notifications],
    )
    # The alert with thousands of deliveries: a repeating one that fired every hour.
    big = first_alert + 8
    cursor.execute(
        """
        INSERT INTO alerts_notification (alert_id, user_id, via_id, channel, "to", status, firing,
            triggered_price, triggered_at, attempts, last_error, created_at, sent_at)
        SELECT a.id, a.user_id, c.id, 'email', u.email, 'sent', g, a.target_price,
            now() - make_interval(hours => g), 1, '', now() - make_interval(hours => g),
            now() - make_interval(hours => g) + interval '1 second'
        FROM generate_series(1, %s) g, alerts_alert a
        JOIN accounts_user u ON u.id = a.user_id
        JOIN alerts_channel c ON c.user_id = a.user_id AND c.kind = 'email'
        WHERE a.id = %s
        """,
        [big_alert, big],
    )
    cursor.execute("UPDATE alerts_alert SET trigger_count = %s WHERE id = %s", [big_alert, big])


def seeded_ids(cursor) -> dict:
    """What the pages ask about: the first bench user, the alert with the most deliveries, ..."""
    cursor.execute("SELECT min(id) FROM accounts_user WHERE email LIKE '%%@bench.example.com'", [])
    first_user = cursor.fetchone()[0]
    cursor.execute("SELECT id FROM alerts_alert ORDER BY trigger_count DESC, id LIMIT 1")
    big = cursor.fetchone()[0]
    cursor.execute("SELECT max(id), count(*) FROM alerts_alert")
    last_alert, alert_count = cursor.fetchone()
    cursor.execute("SELECT count(*) FROM alerts_notification")
    notification_count = cursor.fetchone()[0]
    cursor.execute("SELECT max(id) FROM alerts_notification WHERE status = 'failed'")
    failed_notification = cursor.fetchone()[0]
    cursor.execute(
        "SELECT via_id FROM alerts_notification WHERE via_id IS NOT NULL AND channel = 'webhook' "
        "GROUP BY via_id ORDER BY count(*) DESC, via_id LIMIT 1"
    )
    busy_channel = cursor.fetchone()[0]
    cursor.execute("SELECT email FROM accounts_user WHERE id = %s", [first_user + 1])
    return {
        "user": first_user + 1,
        "user_email": cursor.fetchone()[0],
        "alert": big,
        "last_alert": last_alert,
        "notification": failed_notification,
        "channel": busy_channel,
        "alerts": alert_count,
        "notifications": notification_count,
    }


# --- Timing ----------------------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def serve(application) -> tuple[str, int]:
    server = make_server("127.0.0.1", 0, application, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address


def request(address, path: str, cookie: str) -> tuple[float, float, int, bytes]:
    """(first byte ms, whole answer ms, status, body) of one GET."""
    connection = http.client.HTTPConnection(*address, timeout=120)
    start = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
    response = connection.getresponse()
    first_byte = time.perf_counter() - start
    body = response.read()
    whole = time.perf_counter() - start
    connection.close()
    return first_byte * 1000, whole * 1000, response.status, body


def pages(ids: dict) -> list[tuple[str, str]]:
    return [
        ("admin index", "/admin/"),
        ("operations page", "/admin/operations/"),
        ("alerts", "/admin/alerts/alert/"),
        ("alerts: waiting", "/admin/alerts/alert/?status__exact=created"),
        ("alerts: search email", f"/admin/alerts/alert/?q={ids['user_email']}"),
        ("alerts: search symbol", "/admin/alerts/alert/?q=SOLUSDT"),
        ("alerts: a user's", f"/admin/alerts/alert/?user__exact={ids['user']}"),
        ("alerts: a symbol's", "/admin/alerts/alert/?symbol=BTCUSDT"),
        ("alerts: page 200 (the last one paged)", "/admin/alerts/alert/?p=200"),
        ("alerts: by id, ascending", "/admin/alerts/alert/?o=1"),
        ("alert page (5,000 deliveries)", f"/admin/alerts/alert/{ids['alert']}/change/"),
        ("alert page (waiting)", f"/admin/alerts/alert/{ids['last_alert']}/change/"),
        ("alert history", f"/admin/alerts/alert/{ids['alert']}/history/"),
        ("notifications", "/admin/alerts/notification/"),
        ("notifications: failed", "/admin/alerts/notification/?status__exact=failed"),
        ("notifications: search email", f"/admin/alerts/notification/?q={ids['user_email']}"),
        ("notifications: a user's", f"/admin/alerts/notification/?user__exact={ids['user']}"),
        ("notifications: an alert's", f"/admin/alerts/notification/?alert__exact={ids['alert']}"),
        ("notifications: a channel's failures",
         f"/admin/alerts/notification/?via__exact={ids['channel']}&status__exact=failed"),
        ("notifications: webhook", "/admin/alerts/notification/?channel=webhook"),
        ("notifications: page 200 (the last one paged)", "/admin/alerts/notification/?p=200"),
        ("notification page", f"/admin/alerts/notification/{ids['notification']}/change/"),
        ("channels", "/admin/alerts/channel/"),
        ("channels: by failures", "/admin/alerts/channel/?o=-6"),
        ("channels: search email", f"/admin/alerts/channel/?q={ids['user_email']}"),
        ("channels: disabled", "/admin/alerts/channel/?enabled__exact=0"),
        ("channel page", f"/admin/alerts/channel/{ids['channel']}/change/"),
        ("users", "/admin/accounts/user/"),
        ("users: search", "/admin/accounts/user/?q=trader.19"),
        ("user page", f"/admin/accounts/user/{ids['user']}/change/"),
        ("symbols", "/admin/feeds/symbol/"),
        ("symbol page", "/admin/feeds/symbol/BTCUSDT/change/"),
    ]  # fmt: skip


def explain(path: str, cookie: str) -> None:
    """Every query of one page, with PostgreSQL's plan and times (in this process, DEBUG-like)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies.load(cookie)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    print(f"{path}: {response.status_code}, {len(queries.captured_queries)} queries")
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            print(f"\n-- {query['time']} s\n{query['sql']}")
            if query["sql"].lstrip().upper().startswith("SELECT"):
                cursor.execute("EXPLAIN ANALYZE " + query["sql"])
                print("\n".join(row[0] for row in cursor.fetchall()))


def main():
    args = parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("bench/admin.py runs on PostgreSQL: set DATABASE_URL=postgres://... (a server it may "
                 "create a database on)")  # fmt: skip
    server = os.environ["DATABASE_URL"]
    if args.reuse:
        os.environ["DATABASE_URL"] = server.rsplit("/", 1)[0] + f"/{args.database}"
        backend, cleanup = "PostgreSQL (kept)", lambda: None
    else:
        backend, cleanup = scratch_database(args.database)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-never-used-in-production")
    os.environ["DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.core.wsgi import get_wsgi_application
        from django.db import connection
        from django.test import Client

        from accounts.models import User

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            if args.reuse:
                ids = seeded_ids(cursor)
            else:
                seed(
                    cursor,
                    users=args.users,
                    alerts=args.alerts,
                    notifications=args.notifications,
                    big_alert=args.big_alert,
                )
                ids = seeded_ids(cursor)
            # What autovacuum does to a table in use: statistics, and the visibility map that lets
            # the partial indexes answer counts without reading the table.
            cursor.execute("VACUUM ANALYZE")
        seeded = time.perf_counter() - started
        admin = User.objects.filter(email="bench-admin@example.com").first() or User.objects.create_superuser(
            email="bench-admin@example.com", password="x" * 16
        )
        login = Client()
        login.force_login(admin)
        cookie = f"{settings.SESSION_COOKIE_NAME}={login.cookies[settings.SESSION_COOKIE_NAME].value}"
        print(
            f"{backend} ({server.rsplit('@', 1)[-1]}), {ids['alerts']:,} alerts, "
            f"{ids['notifications']:,} notifications, {args.users:,} users; seeded in {seeded:.1f} s"
        )
        if args.explain:
            explain(args.explain, cookie)
            return
        address = serve(get_wsgi_application())
        load = " / ".join(f"{figure:.1f}" for figure in os.getloadavg())
        print(
            f"first byte and whole answer, ms: median of {args.repeat} after one warm-up; load average {load}"
        )
        print(
            "| page | first byte | whole | min / max first byte | KiB |\n| --- | ---: | ---: | ---: | ---: |"
        )
        over = []
        for name, path in pages(ids):
            request(address, path, cookie)
            samples = [request(address, path, cookie) for _ in range(args.repeat)]
            statuses = {sample[2] for sample in samples}
            if statuses != {200}:
                sys.exit(f"{name}: {path} answered {statuses}")
            first = statistics.median(sample[0] for sample in samples)
            whole = statistics.median(sample[1] for sample in samples)
            best, worst = min(sample[0] for sample in samples), max(sample[0] for sample in samples)
            size = len(samples[0][3]) / 1024
            flag = " **over**" if first > args.budget_ms else ""
            print(
                f"| {name} | {first:.0f}{flag} | {whole:.0f} | {best:.0f} / {worst:.0f} | {size:.0f} |",
                flush=True,
            )
            if first > args.budget_ms:
                over.append(name)
        load = " / ".join(f"{figure:.1f}" for figure in os.getloadavg())
        print(f"load average at the end {load} ({os.cpu_count()} CPUs)")
        if over:
            sys.exit(f"over {args.budget_ms:g} ms: {', '.join(over)}")
        print(f"every page's median first byte within {args.budget_ms:g} ms")
    finally:
        if args.keep or args.reuse:
            print(f"kept database {args.database}")
        else:
            from django.db import connections

            # The server thread's connection too: nothing may hold the database being dropped.
            connections.close_all()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            cleanup()


if __name__ == "__main__":
    main()
