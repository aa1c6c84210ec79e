"""Evaluation tick cost at scale: the engine against the naive loop, on the same data.

Loads N waiting alerts over S symbols into a database of its own (created and
dropped here), then times whole ticks of ``alerts.engine.evaluate_pending``
(read the windows from Redis, decide, trigger, write notifications, move the
checkpoint; the send tasks are not enqueued, that is timed on its own):

- a no-fire tick: 100 symbols moved (5 flushes of 100 windows, as in a 1 s
  tick), prices inside every alert's range, nothing fires;
- a fire tick: 100 symbols moved far enough to fire 10,000 alerts (with their
  Notification rows);
- the naive approach on the no-fire tick's windows: load every waiting alert
  (``Alert.objects.filter(status="created")``) and compare in Python.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/evaluate.py
    .venv/bin/python bench/evaluate.py --sqlite --alerts 100000
    (--mix: every alert kind and channels, see load_mix; --explain prints EXPLAIN ANALYZE of the
    engine's statements; --keep keeps the database)
    .venv/bin/python bench/evaluate.py --concentrated 1000,10000,50000,100000 --fire-ticks 2

--concentrated: for each N, fire ticks of N alerts over --moved symbols against
N alerts on one symbol, side by side (load_concentrated, distributions).

PostgreSQL: DATABASE_URL names the server (any database on it); the benchmark
uses a database named ``bench_evaluate`` there. Redis: REDIS_URL (default
redis://127.0.0.1:6379/13); the "prices" stream there is deleted first.
"""

import argparse
import contextlib
import cProfile
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from hostspeed import describe as describe_host  # noqa: E402  (bench/ is the script's directory)

# Its own database on the server (BENCH_DATABASE overrides the name: parallel runs must not share one).
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "bench_evaluate")
# Alert k of a symbol (k = 0 .. per_symbol-1): `above` for even k at
# price * (1.01 + STEP * k), `below` for odd k at price * (0.99 - STEP * k).
STEP = 0.0005
# The price of every concentrated symbol (--concentrated: all its alerts on it).
CONCENTRATED_PRICE = Decimal("50000.12345678")


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--moved", type=int, default=100, help="symbols moved per tick")
    parser.add_argument("--flushes", type=int, default=5, help="stream entries per tick")
    parser.add_argument("--fire", type=int, default=10_000, help="alerts the fire tick triggers")
    parser.add_argument("--ticks", type=int, default=50, help="no-fire ticks to time")
    parser.add_argument("--fire-ticks", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--mix",
        action="store_true",
        help="a mix of all alert kinds (issue 7): cross, repeating, percent, expiring, notes, re-arming "
        "ones cooling down, and email + webhook channels",
    )
    parser.add_argument(
        "--spread-windows",
        action="store_true",
        help="with --mix: the window alerts on every symbol (by each alert's rank on its symbol) instead "
        "of by alert id, which puts them on 30 of the 1,000 symbols (about 3 of a tick's 100 moved ones)",
    )
    parser.add_argument(
        "--concentrated",
        type=lambda text: [int(n) for n in text.split(",")],
        nargs="?",
        const=[1000, 10_000, 50_000, 100_000],
        help="fire ticks of N alerts on one symbol against N alerts over --moved symbols, for each N "
        "(comma-separated; default 1000,10000,50000,100000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the last no-fire and the first fire tick"
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="print each database statement and Redis command of the last no-fire tick, with its time",
    )
    return parser.parse_args()


def configure(args) -> tuple[str, str | None]:
    """Point Django at the benchmark database; returns (its URL, a server URL to drop it from)."""
    # DEBUG off, as in production: with it on, Django records every statement and its parameters.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-never-used-in-production")
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", "benchmark-only-field-encryption-key")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ["DJANGO_SETTINGS_MODULE"] = "pricealert.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    if args.sqlite:
        path = Path(tempfile.mkdtemp(prefix="bench-evaluate-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return os.environ["DATABASE_URL"], None
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not server.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL server (or pass --sqlite)")
    parts = urlparse(server)
    maintenance = urlunparse(parts._replace(path="/postgres"))
    import psycopg

    with psycopg.connect(maintenance.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    os.environ["DATABASE_URL"] = urlunparse(parts._replace(path=f"/{BENCH_DATABASE}"))
    return os.environ["DATABASE_URL"], maintenance


def drop(maintenance: str | None, url: str) -> None:
    from django.db import connections

    connections.close_all()
    if maintenance is None:
        shutil.rmtree(Path(urlparse(url).path).parent, ignore_errors=True)
        return
    import psycopg

    with psycopg.connect(maintenance.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")


def base_price(symbol_index: int) -> Decimal:
    return Decimal(10 + symbol_index * 37) + Decimal("0.12345678")


def load(args) -> None:
    """Users and waiting alerts, set-based (no ORM loop)."""
    from django.db import connection

    per_symbol = args.alerts // args.symbols
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                """
                INSERT INTO accounts_user
                    (password, is_superuser, email, is_staff, is_active, date_joined, email_verified_at)
                SELECT '!', false, 'user' || g || '@example.com', false, true, now(), now()
                FROM generate_series(1, %s) g
                """,
                [args.users],
            )
            cursor.execute("SELECT min(id) FROM accounts_user")
            first_user = cursor.fetchone()[0]
            cursor.execute(
                f"""
                INSERT INTO alerts_alert
                    (user_id, symbol, direction, target_price, status, created_at, armed_at)
                SELECT %s + (n %% %s),
                       'S' || s || 'USDT',
                       CASE WHEN k %% 2 = 0 THEN 'above' ELSE 'below' END,
                       round(CASE WHEN k %% 2 = 0
                                  THEN (10 + s * 37 + 0.12345678) * (1.01 + {STEP} * k)
                                  ELSE (10 + s * 37 + 0.12345678) * (0.99 - {STEP} * k) END, 8),
                       'created',
                       now() - interval '1 day',
                       now() - interval '1 day'
                FROM generate_series(0, %s - 1) n,
                     LATERAL (SELECT n %% %s AS s, n / %s AS k) sk
                """,
                [first_user, args.users, per_symbol * args.symbols, args.symbols, args.symbols],
            )
            cursor.execute("ANALYZE")
        else:
            cursor.execute(
                """
                WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %s)
                INSERT INTO accounts_user
                    (password, is_superuser, email, is_staff, is_active, date_joined, email_verified_at)
                SELECT '!', 0, 'user' || i || '@example.com', 0, 1, datetime('now'), datetime('now') FROM g
                """,
                [args.users],
            )
            cursor.execute("SELECT min(id) FROM accounts_user")
            first_user = cursor.fetchone()[0]
            cursor.execute(
                f"""
                WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < %s - 1)
                INSERT INTO alerts_alert
                    (user_id, symbol, direction, target_price, status, created_at, armed_at)
                SELECT %s + (n %% %s), 'S' || s || 'USDT',
                       CASE WHEN k %% 2 = 0 THEN 'above' ELSE 'below' END,
                       round(CASE WHEN k %% 2 = 0
                                  THEN (10 + s * 37 + 0.12345678) * (1.01 + {STEP} * k)
                                  ELSE (10 + s * 37 + 0.12345678) * (0.99 - {STEP} * k) END, 8),
                       'created', datetime('now', '-1 day'), datetime('now', '-1 day')
                FROM (SELECT n, n %% %s AS s, n / %s AS k FROM g)
                """,
                [per_symbol * args.symbols, first_user, args.users, args.symbols, args.symbols],
            )
            cursor.execute("ANALYZE")
    elapsed = time.perf_counter() - started
    print(f"loaded {per_symbol * args.symbols:,} alerts, {args.users:,} users in {elapsed:.1f} s")


def load_mix(args) -> None:
    """Turn the loaded alerts into a mix of every kind, set-based; give users channels.

    By id: 1/5 stay one-shot above/below, 1/5 cross, 1/5 repeat every 60 s with the
    default 0.1% band, 1/5 percent alerts with a note, 1/5 expire in a day with a
    note. 2% more alerts are repeating ones that fired, cooldown over, waiting for
    the price to come back past their band (the steady state of a repeating
    alert): the re-arm probes run on every tick.
    Every user gets an email channel, every tenth a webhook too. The window kinds (3% more):
    picked by id, they fall on 30 symbols, about a thousand each (an alias of the symbol
    being ``id % symbols``); ``--spread-windows`` picks them by rank instead, 30 on every
    symbol, so that every moved symbol has some, as when most symbols followed have them.
    """
    from django.db import connection

    true = "true" if connection.vendor == "postgresql" else "1"
    day = "now() + interval '1 day'" if connection.vendor == "postgresql" else "datetime('now', '+1 day')"
    now = "now()" if connection.vendor == "postgresql" else "datetime('now')"
    columns = "user_id, kind, name, url, secret, enabled, disabled_reason, last_test_error, created_at"
    band = "CASE WHEN direction = 'above' THEN target_price * 0.999 ELSE target_price * 1.001 END"
    # Alert id n + 1 is on symbol n % symbols with rank n // symbols there (``load``).
    pick = f"((id - 1) / {args.symbols})" if args.spread_windows else "id"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        statements = [
            f"UPDATE alerts_alert SET crossing = {true} WHERE id % 5 = 1",
            f"UPDATE alerts_alert SET repeat = 'every', cooldown_seconds = 60, rearm_price = {band} "
            "WHERE id % 5 = 2",
            "UPDATE alerts_alert SET reference_price = target_price, change_percent = 1, "
            "note = 'percent alert' WHERE id % 5 = 3",
            f"UPDATE alerts_alert SET expires_at = {day}, note = 'expires tomorrow' WHERE id % 5 = 4",
            # 2% more alerts, fired the other way: a copy of an "above" target as a "below"
            # alert that fired and waits for the price to rise back past its band (and vice versa).
            "INSERT INTO alerts_alert (user_id, symbol, direction, target_price, status, created_at, "
            "armed_at, repeat, cooldown_seconds, rearm_price, rearm_after_ms, trigger_count) "
            "SELECT user_id, symbol, CASE WHEN direction = 'above' THEN 'below' ELSE 'above' END, "
            "target_price, 'rearming', created_at, armed_at, 'every', 60, "
            "CASE WHEN direction = 'above' THEN target_price * 1.001 ELSE target_price * 0.999 END, "
            f"{int(time.time() * 1000) - 86_400_000}, 1 FROM alerts_alert WHERE id % 50 = 7",
            # Window kinds (issue 18): 2% more alerts are moves within a window and 1% volume spikes,
            # over the six windows, far from firing (the judged seconds are read every tick).
            "INSERT INTO alerts_alert (user_id, symbol, direction, target_price, status, created_at, "
            "armed_at, kind, window_seconds, move_percent, move_direction) "
            "SELECT user_id, symbol, 'above', NULL, 'created', created_at, armed_at, 'move', "
            f"{_window_case()}, 50 + id % 7, "
            "CASE id % 3 WHEN 0 THEN 'up' WHEN 1 THEN 'down' ELSE 'either' END "
            f"FROM alerts_alert WHERE {pick} % 50 = 11",
            "INSERT INTO alerts_alert (user_id, symbol, direction, target_price, status, created_at, "
            "armed_at, kind, window_seconds, volume_quote) "
            "SELECT user_id, symbol, 'above', NULL, 'created', created_at, armed_at, 'volume', "
            f"{_window_case()}, 1000000000000 + id FROM alerts_alert WHERE {pick} % 100 = 13",
            f"INSERT INTO alerts_channel ({columns}) "
            f"SELECT id, 'email', 'Email', '', '', {true}, '', '', {now} FROM accounts_user",
            f"INSERT INTO alerts_channel ({columns}) "
            f"SELECT id, 'webhook', 'hook', 'http://127.0.0.1:9/hook', 'secret', {true}, '', '', {now} "
            "FROM accounts_user WHERE id % 10 = 0",
            # The UPDATEs above rewrote 80% of the rows: compact the table and its indexes
            # back to the size the same alerts inserted as such would take.
            "VACUUM FULL alerts_alert" if connection.vendor == "postgresql" else "VACUUM",
            "ANALYZE",
        ]
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(
            "SELECT status, repeat, crossing, count(*) FROM alerts_alert GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        kinds = ", ".join(
            f"{status}/{repeat}{'/cross' if cross else ''}: {n:,}" for status, repeat, cross, n in cursor
        )
    print(f"mix applied in {time.perf_counter() - started:.1f} s ({kinds})")


def _window_case() -> str:
    """SQL: one of the six windows, by id."""
    seconds = [60, 300, 900, 3600, 14400, 86400]
    return "CASE id % 6 " + " ".join(f"WHEN {i} THEN {w}" for i, w in enumerate(seconds)) + " END"


def fill_history(args) -> None:
    """--mix: every symbol's price history full, as a liquid symbol's after a day (issue 18).

    A trade in every second of the last 15 minutes and every minute of the last 24
    hours: the window kinds' reads cost what they cost in production, at most.
    """
    from feeds import history
    from feeds.store import ms_to_datetime

    started = time.perf_counter()
    now_ms = int(time.time() * 1000)
    for index in range(args.symbols):
        symbol = f"S{index}USDT"
        p = base_price(index)
        minutes = [
            history.Candle(
                ms_to_datetime(ms - ms % 60_000), p, p * Decimal("1.001"), p * Decimal("0.999"), p, p * 7
            )
            for ms in range(now_ms - 86_400_000, now_ms - 900_000, 60_000)
        ]
        history.fill_minutes(symbol, minutes)
        history.record_trades(
            symbol, [(p, Decimal("0.5"), ms) for ms in range(now_ms - 900_000, now_ms - 1000, 1000)]
        )
    print(f"history filled in {time.perf_counter() - started:.1f} s ({args.symbols} symbols, every bucket)")


def concentrated_step(size: int) -> Decimal:
    """The step between the targets of a concentrated symbol's alerts: all within +-51% of its price."""
    return Decimal(1) / Decimal(2 * size)


def concentrated_symbol(size: int, tick: int) -> str:
    return f"C{size}N{tick}USDT"


def load_concentrated(args) -> None:
    """``--fire-ticks`` symbols per size in ``--concentrated``, each with ``size`` waiting alerts.

    Alert k of such a symbol: `above` for even k at price * (1.01 + step * k),
    `below` for odd k at price * (0.99 - step * k), step = 1 / (2 * size), over
    all users; ANALYZE afterwards, as after the spread load.
    """
    from django.db import connection

    postgres = connection.vendor == "postgresql"
    started = time.perf_counter()
    total = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM accounts_user")
        first_user = cursor.fetchone()[0]
        series = (
            "generate_series(0, %s - 1) k"
            if postgres
            else "(WITH RECURSIVE g(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM g WHERE k < %s - 1) "
            "SELECT k FROM g)"
        )
        day_ago = "now() - interval '1 day'" if postgres else "datetime('now', '-1 day')"
        for size in args.concentrated:
            step = concentrated_step(size)
            # With --explain, one more symbol of the largest size: explain_concentrated's.
            spare = args.explain and size == max(args.concentrated)
            for tick in range(args.fire_ticks + spare):
                cursor.execute(
                    f"""
                    INSERT INTO alerts_alert
                        (user_id, symbol, direction, target_price, status, created_at, armed_at)
                    SELECT %s + (k %% %s), %s,
                           CASE WHEN k %% 2 = 0 THEN 'above' ELSE 'below' END,
                           round(CASE WHEN k %% 2 = 0 THEN {CONCENTRATED_PRICE} * (1.01 + {step} * k)
                                      ELSE {CONCENTRATED_PRICE} * (0.99 - {step} * k) END, 8),
                           'created', {day_ago}, {day_ago}
                    FROM {series}
                    """,
                    [first_user, args.users, concentrated_symbol(size, tick), size],
                )
                total += size
        cursor.execute("ANALYZE")
    print(f"loaded {total:,} concentrated alerts in {time.perf_counter() - started:.1f} s")


def settle() -> None:
    """Let the freshly loaded database settle before timing, as a running one would be.

    PostgreSQL: VACUUM sets the visibility map and hint bits that the first
    readers of a bulk load would otherwise write, and keeps autovacuum from
    waking mid-measurement; CHECKPOINT flushes the load's WAL. Without them tick
    times moved by 1.5x between identical runs.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    print(f"settled (VACUUM ANALYZE, CHECKPOINT) in {time.perf_counter() - started:.1f} s")


def tick_windows(symbols: list[int], flushes: int, now_ms: int, *, fire_per_symbol: int = 0):
    """One tick's stream entries: ``flushes`` windows per moved symbol.

    Without ``fire_per_symbol`` every price stays within +-0.5% of the base
    price, inside every alert's range; with it, the last flush reaches exactly
    far enough to cross that many alerts of each symbol (half above, half below).
    """
    moved = [(f"S{s}USDT", base_price(s), Decimal(str(STEP))) for s in symbols]
    return _windows(moved, flushes, now_ms, fire_per_symbol)


def concentrated_windows(symbol: str, size: int, flushes: int, now_ms: int):
    """One tick's stream entries on one concentrated symbol (``load_concentrated``) firing all its alerts."""
    return _windows([(symbol, CONCENTRATED_PRICE, concentrated_step(size))], flushes, now_ms, size)


def _windows(moved: list[tuple[str, Decimal, Decimal]], flushes: int, now_ms: int, fire_per_symbol: int):
    """``flushes`` windows per (symbol, base price, step between its alerts' targets)."""
    from feeds.windows import PriceWindow

    entries = []
    for f in range(flushes):
        windows = []
        for symbol, p, step in moved:
            high = p * Decimal("1.004") - Decimal(f) / 1000
            low = p * Decimal("0.996") + Decimal(f) / 1000
            if fire_per_symbol and f == flushes - 1:
                # crosses above k = 0, 2, .., fire-2 and below k = 1, 3, .., fire-1, with
                # half a step to spare (SQLite compares as floats)
                high = p * (Decimal("1.01") + step * (fire_per_symbol - 2) + step / 2)
                low = p * (Decimal("0.99") - step * (fire_per_symbol - 1) - step / 2)
            high, low = round(high, 8), round(low, 8)
            ms = now_ms + f * 200
            windows.append(PriceWindow(symbol, high, low, (high + low) / 2, ms - 150, ms))
        entries.append(windows)
    return entries


# --mix: each tick's trades go into the price history too, as the feeder writes them.
WRITE_HISTORY = False


def write_tick(entries) -> None:
    from feeds import history, store

    for windows in entries:
        if WRITE_HISTORY:
            for w in windows:
                history.record_trades(
                    w.symbol, [(w.high, Decimal(1), w.first_event_ms), (w.low, Decimal(1), w.last_event_ms)]
                )
        store.write_windows(windows)


def naive_tick(entries) -> int:
    """What simple implementations do: every waiting alert, compared in Python."""
    from alerts.models import Alert
    from feeds.store import ms_to_datetime

    latest: dict[str, list] = {}
    for windows in entries:
        for w in windows:
            latest.setdefault(w.symbol, []).append(w)
    would_fire = 0
    # The price kinds only: a naive loop over the window kinds would read the history per alert.
    for alert in Alert.objects.filter(status="created", kind="price").iterator(chunk_size=5000):
        for w in latest.get(alert.symbol, ()):
            if alert.created_at < ms_to_datetime(w.last_event_ms) and (
                (alert.direction == "above" and w.high >= alert.target_price)
                or (alert.direction == "below" and w.low <= alert.target_price)
            ):
                would_fire += 1
                break
    return would_fire


def explain(entries, fire_symbol: int, fire_per_symbol: int) -> None:
    from alerts import engine

    windows = [w for ws in entries for w in ws]
    extremes = {}
    for w in windows:
        high, low, last_ms = extremes.get(w.symbol, (w.high, w.low, w.last_event_ms))
        extremes[w.symbol] = (max(high, w.high), min(low, w.low), max(last_ms, w.last_event_ms))
    fire_windows = tick_windows(
        list(range(fire_symbol, fire_symbol + 100)),
        5,
        int(time.time() * 1000),
        fire_per_symbol=fire_per_symbol,
    )
    show_plan(
        f"crossing probes, {len(extremes)} moved symbols (no-fire tick)", *engine.crossing_query(extremes)
    )
    show_plan(
        f"trigger UPDATE, 100 symbols, {fire_per_symbol // 2} above alerts each",
        *engine.trigger_query("above", by_symbol(fire_windows)),
    )


def by_symbol(entries) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for w in (w for ws in entries for w in ws):
        grouped.setdefault(w.symbol, []).append(w)
    return grouped


def show_plan(title: str, sql: str, params: list) -> None:
    """Print the plan of one statement, run (PostgreSQL: EXPLAIN ANALYZE) and rolled back."""
    from django.db import connection, transaction

    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    print(f"\n-- {title}")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        for row in cursor.fetchall():
            print("   ", " ".join(str(c) for c in row))
        transaction.set_rollback(True)


def now() -> int:
    return int(time.time() * 1000)


def timed_fire_tick(entries, expected: int, *, timeline: str = "") -> float:
    """Seconds of one whole tick over these stream entries, which must fire ``expected`` alerts.

    ``timeline``: a title, to print the tick's statements and their times (``Timeline``)."""
    from alerts import engine

    write_tick(entries)
    recorder = Timeline() if timeline else None
    started = time.perf_counter()
    with recorder or contextlib.nullcontext():
        result = engine.evaluate_pending()
    elapsed = time.perf_counter() - started
    if recorder:
        recorder.report(started, timeline)
    assert result.fired == expected, (result, expected)
    return elapsed


def distributions(args, symbols: list[int], next_symbol: int, per_symbol: int) -> int:
    """For each N of --concentrated: N alerts fired over --moved symbols against N on one symbol.

    The ticks alternate (spread, concentrated, spread, ...) so that both see the
    same moments of a shared machine. Returns the next unused spread symbol.
    """
    print(
        f"\nfire ticks by distribution ({args.fire_ticks} ticks each, medians; whole ticks with "
        "their Notification rows):"
    )
    spread_title = f"over {args.moved} symbols"
    print(f"{'fired':>9} | {spread_title:>18} | {'on one symbol':>14} | per alert (spread / one)")
    for size in args.concentrated:
        # The spread case needs size / moved alerts on each of moved * fire_ticks unused symbols.
        fits = size // args.moved <= per_symbol and next_symbol + args.moved * args.fire_ticks <= len(symbols)
        spread, concentrated = [], []
        for tick in range(args.fire_ticks):
            if fits:
                moved = symbols[next_symbol : next_symbol + args.moved]
                next_symbol += args.moved
                entries = tick_windows(moved, args.flushes, now(), fire_per_symbol=size // args.moved)
                spread.append(timed_fire_tick(entries, size))
            entries = concentrated_windows(concentrated_symbol(size, tick), size, args.flushes, now())
            title = f"a tick firing {size:,} alerts on one symbol" if args.timeline and tick == 0 else ""
            concentrated.append(timed_fire_tick(entries, size, timeline=title))
        b = statistics.median(concentrated)
        a = statistics.median(spread) if spread else None
        print(
            f"{size:>9,} | {ms(a) if a else 'not enough alerts':>18} | {ms(b):>14} | "
            f"{f'{a / size * 1e6:.1f}' if a else '-'} us / {b / size * 1e6:.1f} us"
        )
    return next_symbol


def explain_concentrated(args) -> None:
    """The plans of the trigger UPDATE (one per direction) on the spare concentrated symbol of the
    largest size (loaded with --explain, never fired)."""
    from alerts import engine
    from alerts.dialect import dialect

    size = max(args.concentrated)
    symbol = concentrated_symbol(size, args.fire_ticks)
    entries = concentrated_windows(symbol, size, args.flushes, int(time.time() * 1000))
    # As the engine runs it: on PostgreSQL with the Notification INSERT in the same statement.
    written = dialect().updates_in_with
    for direction in ("above", "below"):
        show_plan(
            f"trigger UPDATE{' with its Notification INSERT' if written else ''}, one symbol, "
            f"{size // 2:,} {direction} alerts of {size:,}",
            *engine.trigger_query(direction, by_symbol(entries), with_notifications=written),
        )


class Timeline:
    """Records every database statement and Redis command (round trip) made inside it, with its wall time.

    The gaps between them are the engine's Python; the sum of the calls is what
    round trips cost. Only for reading a tick's shape: it adds its own overhead.
    """

    def __init__(self):
        self.calls: list[tuple[float, float, str]] = []

    def __enter__(self):
        import redis
        from django.db import connection

        def statement(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                self.calls.append((started, time.perf_counter(), "sql   " + " ".join(sql.split())[:90]))

        self._wrapper = connection.execute_wrapper(statement)
        self._wrapper.__enter__()
        self._patched = []
        for owner, name in ((redis.Redis, "execute_command"), (redis.client.Pipeline, "execute")):
            original = getattr(owner, name)
            self._patched.append((owner, name, original))

            def timed(client, *args, _original=original, _name=name, **kwargs):
                started = time.perf_counter()
                try:
                    return _original(client, *args, **kwargs)
                finally:
                    what = "pipeline" if _name == "execute" else str(args[0])
                    self.calls.append((started, time.perf_counter(), "redis " + what))

            setattr(owner, name, timed)
        # COMMIT and ROLLBACK are not statements Django's wrapper sees.
        commit = connection.commit
        self._commit = commit

        def timed_commit():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                self.calls.append((started, time.perf_counter(), "sql   COMMIT (and on-commit hooks)"))

        connection.commit = timed_commit
        return self

    def __exit__(self, *exc):
        from django.db import connection

        self._wrapper.__exit__(*exc)
        for owner, name, original in self._patched:
            setattr(owner, name, original)
        connection.commit = self._commit

    def report(self, started: float, title: str) -> None:
        total = 0.0
        print(f"timeline of {title} (start ms, duration ms, call):")
        for begin, end, what in sorted(self.calls):
            total += end - begin
            print(f"  {(begin - started) * 1000:7.2f} {(end - begin) * 1000:6.2f}  {what}")
        print(f"  {len(self.calls)} calls, {total * 1000:.2f} ms in them")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    args = parse_args()
    print(describe_host(), flush=True)
    url, maintenance = configure(args)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from alerts import engine
    from alerts.delivery import outbox
    from alerts.delivery.tasks import enqueue_notifications
    from feeds import store

    try:
        call_command("migrate", verbosity=0)
        load(args)
        if args.mix:
            global WRITE_HISTORY
            load_mix(args)
            fill_history(args)
            WRITE_HISTORY = True
        if args.concentrated:
            load_concentrated(args)
        settle()
        store.redis_client().delete(store.WINDOW_STREAM)
        engine.evaluate_pending()  # create the checkpoint
        enqueued: list[int] = []
        outbox.enqueue_sends = enqueued.extend  # time the tick without the broker; enqueue timed below

        per_symbol = args.alerts // args.symbols
        symbols = list(range(args.symbols))
        database = f"{connection.vendor} {connection.pg_version if connection.vendor == 'postgresql' else ''}"
        print(
            f"database: {database.strip()}; {args.alerts:,} waiting alerts over {args.symbols:,} symbols; "
            f"a tick = {args.flushes} flushes x {args.moved} moved symbols"
        )

        # No-fire ticks: a different set of moved symbols each time.
        timings = []
        for t in range(args.ticks):
            moved = [symbols[(t * 37 + i * 7) % args.symbols] for i in range(args.moved)]
            write_tick(tick_windows(sorted(set(moved)), args.flushes, int(time.time() * 1000)))
            profiler = cProfile.Profile() if args.profile and t == args.ticks - 1 else None
            recorder = Timeline() if args.timeline and t == args.ticks - 1 else None
            started = time.perf_counter()
            with recorder or contextlib.nullcontext():
                result = profiler.runcall(engine.evaluate_pending) if profiler else engine.evaluate_pending()
            timings.append(time.perf_counter() - started)
            if recorder:
                recorder.report(started, "the last no-fire tick")
            if profiler:
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            assert result.fired == 0 and result.entries == args.flushes, result
        nofire = statistics.median(timings)
        p90 = statistics.quantiles(timings, n=10)[-1] if len(timings) > 1 else timings[0]
        print(
            f"no-fire tick: median {ms(nofire)}, p90 {ms(p90)}, "
            f"min {ms(min(timings))} over {args.ticks} ticks"
        )

        # Naive, on the same kind of tick.
        naive = []
        for _ in range(args.naive_runs):
            entries = tick_windows(list(range(args.moved)), args.flushes, int(time.time() * 1000))
            started = time.perf_counter()
            assert naive_tick(entries) == 0
            naive.append(time.perf_counter() - started)
        naive_time = statistics.median(naive) if naive else float("nan")
        print(
            f"naive no-fire tick (load every waiting alert, compare in Python): median {ms(naive_time)}"
            f" over {args.naive_runs} runs; engine is {naive_time / nofire:,.0f}x faster"
        )

        # Fire ticks: fresh symbols each time, so there is something to fire.
        fire_per_symbol = args.fire // args.moved
        if fire_per_symbol > per_symbol:
            sys.exit(f"--fire {args.fire} needs {fire_per_symbol} alerts per symbol, there are {per_symbol}")
        fire_timings = []
        next_symbol = 0
        for _ in range(args.fire_ticks):
            moved = symbols[next_symbol : next_symbol + args.moved]
            next_symbol += args.moved
            write_tick(
                tick_windows(moved, args.flushes, int(time.time() * 1000), fire_per_symbol=fire_per_symbol)
            )
            enqueued.clear()
            profiler = cProfile.Profile() if args.profile and not fire_timings else None
            started = time.perf_counter()
            result = profiler.runcall(engine.evaluate_pending) if profiler else engine.evaluate_pending()
            fire_timings.append(time.perf_counter() - started)
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            assert result.fired == fire_per_symbol * len(moved), result
            # With --mix a tenth of the users also have a webhook: two notifications per firing.
            assert len(enqueued) == result.fired if not args.mix else len(enqueued) >= result.fired
        print(
            f"fire tick ({fire_per_symbol * args.moved:,} alerts fired, with their {len(enqueued):,} "
            "Notification rows): "
            f"median {ms(statistics.median(fire_timings))}, max {ms(max(fire_timings))} "
            f"over {args.fire_ticks} ticks"
        )

        # Enqueueing the sends after commit (one task each, one broker connection).
        queue_client = store.redis_client()
        started = time.perf_counter()
        enqueue_notifications(enqueued)
        enqueue = time.perf_counter() - started
        queue_client.delete("celery")
        print(f"enqueue {len(enqueued):,} send tasks after commit: {ms(enqueue)}")

        if args.concentrated:
            next_symbol = distributions(args, symbols, next_symbol, per_symbol)
        if args.explain:
            explain(
                tick_windows(list(range(args.moved)), args.flushes, int(time.time() * 1000)),
                next_symbol,
                fire_per_symbol,
            )
            if args.concentrated:
                explain_concentrated(args)
    finally:
        if not args.keep:
            drop(maintenance, url)
            if args.mix:  # about 180 kB of history per symbol: give the Redis memory back
                from feeds import history

                for index in range(args.symbols):
                    history.delete_history(f"S{index}USDT")


if __name__ == "__main__":
    main()
