"""Load benchmark: locust against gunicorn serving the real app on PostgreSQL and Redis.

    .venv/bin/python bench/load/run.py                          # cache on and off, stepped rates
    .venv/bin/python bench/load/run.py --cache on --rates 200,300 --step-seconds 60
    .venv/bin/python bench/load/run.py --workers 5 --worker-class gthread --threads 4
    .venv/bin/python bench/load/run.py --cache on --rates 100 --profile   # py-spy of the workers

What it does, and undoes:

1. creates the database ``loadbench`` on the PostgreSQL server DATABASE_URL names
   (default postgres://postgres@127.0.0.1:5432/postgres), migrates it, and
   creates 200 accounts with unusable passwords; their access tokens are minted
   directly with simplejwt (nobody logs in, so the login throttles never apply);
2. for each cache mode (ALERT_LIST_CACHE_SECONDS=300, and 0 = off) starts a
   gunicorn on a socket it bound itself (127.0.0.1, ephemeral port) with
   DEBUG=false, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1 and Redis database 7;
   both run side by side and the modes take turns at each rate, so load from
   elsewhere on the machine falls on both alike;
3. steps the total request rate (--rates): before each step every account's
   alerts are reset to the same seed (40 each: 30 waiting, 5 triggered, 5
   deleted) and Redis database 7 is emptied and given the prices; then locust
   runs 200 users for --step-seconds (each user a Poisson process of rate/200
   tasks a second) and the step passes when nothing failed, p99 is at
   most --p99-ms and at least 90 % of the rate was served; a mode stops
   stepping after its first failed step (unless --keep-going);
4. prints per step and endpoint requests/s and p50/p99, plus the CPU time the
   gunicorn workers, the PostgreSQL backends and locust itself spent per request;
5. stops gunicorn, drops the database and empties Redis database 7 (refusing to
   start if that database is not empty), whatever happened.

Every run is bounded: steps x step-seconds, plus setup. Locust's CSV files and
a JSON summary are kept in --out (default: a temporary directory, removed).
"""

import argparse
import contextlib
import csv
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
sys.path.insert(0, str(PROJECT_DIR))

ENDPOINTS = ("GET /alerts/", "POST /alerts/", "DELETE /alerts/<id>", "Aggregated")
SHORT = {
    "GET /alerts/": "list",
    "POST /alerts/": "create",
    "DELETE /alerts/<id>": "delete",
    "Aggregated": "total",
}
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT")


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", choices=("on", "off", "both"), default="both")
    parser.add_argument("--rates", default="50,75,100,125,150,200,250,300", help="total requests/s per step")
    parser.add_argument("--step-seconds", type=int, default=30)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--alerts-per-user", type=int, default=40)
    parser.add_argument("--p99-ms", type=float, default=100.0)
    parser.add_argument("--keep-going", action="store_true", help="run every step, even after one fails")
    parser.add_argument(
        "--workers",
        default="3",
        help="gunicorn workers (3: WEB_CONCURRENCY's default); a list such as 3,5 compares them",
    )
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--redis-db", type=int, default=7)
    parser.add_argument("--database", default="loadbench")
    parser.add_argument("--profile", action="store_true", help="py-spy the workers during each step")
    parser.add_argument("--out", help="keep locust's CSVs, the profiles and results.json here")
    return parser.parse_args()


# --- setup and teardown -----------------------------------------------------------


# Read before setup points DATABASE_URL at the benchmark's own database.
SERVER_URL = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return SERVER_URL


def create_database(name: str) -> str:
    import psycopg

    url = server_url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def bench_env(args, database_url: str, cache_seconds: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pricealert.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        "DEBUG": "false",
        "SECRET_KEY": BENCH_SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": "benchmark-only-field-encryption-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "ALERT_LIST_CACHE_SECONDS": str(cache_seconds),
        # Tokens are minted once, before the first step: they must outlive the run.
        "JWT_ACCESS_MINUTES": "600",
        "LOG_LEVEL": "WARNING",
        # collectstatic has not run in a checkout; whitenoise says so once per worker.
        "PYTHONWARNINGS": "ignore:No directory at",
        # Static files are not served in this run: no manifest needed.
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }


BENCH_SECRET_KEY = secrets.token_urlsafe(50)


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    warnings.filterwarnings("ignore", "No directory at")  # as PYTHONWARNINGS does for gunicorn
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_accounts(count: int) -> list:
    from django.utils import timezone

    from accounts.models import User

    users = User.objects.bulk_create(
        [
            User(email=f"load{i:04d}@bench.invalid", password="!unusable", email_verified_at=timezone.now())
            for i in range(count)
        ]
    )
    return list(User.objects.filter(pk__in=[u.pk for u in users]).order_by("pk"))


def reset_state(users, alerts_per_user: int, accounts_file: Path, redis_client) -> None:
    """Every account back to the same alerts; Redis emptied and given the prices."""
    from django.db import connection
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from alerts.models import Alert
    from feeds.store import write_price

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Alert._meta.db_table} CASCADE")
    now = timezone.now()
    rows = []
    for user in users:
        for i in range(alerts_per_user):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            status = "created" if i < alerts_per_user * 3 // 4 else ("triggered" if i % 2 else "deleted")
            rows.append(
                Alert(
                    user=user,
                    symbol=symbol,
                    direction="above",
                    target_price=Decimal(1000 + i),
                    status=status,
                    triggered_at=now if status == "triggered" else None,
                    triggered_price=Decimal(1000 + i) if status == "triggered" else None,
                )
            )
    Alert.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Alert._meta.db_table}")
    waiting = {}
    for pk, user_id in Alert.objects.filter(status="created").values_list("pk", "user_id"):
        waiting.setdefault(user_id, []).append(pk)
    accounts = [
        {"token": str(AccessToken.for_user(user)), "alert_ids": waiting.get(user.pk, [])} for user in users
    ]
    accounts_file.write_text(json.dumps(accounts))
    redis_client.flushdb()
    prices = {"BTCUSDT": "60000", "ETHUSDT": "3000", "SOLUSDT": "150", "BNBUSDT": "600"}
    prices |= {"XRPUSDT": "0.5", "DOGEUSDT": "0.12"}
    for symbol, price in prices.items():
        write_price(symbol, Decimal(price), int(time.time() * 1000), client=redis_client)


def queries_per_request(users) -> dict[str, int]:
    """Database queries of one request of each kind, in this process (Django's test client)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    from alerts.cache import _bump
    from alerts.models import Alert

    user = users[0]
    client = APIClient(SERVER_NAME="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    counts = {}

    def count(name, call, expect):
        with CaptureQueriesContext(connection) as queries:
            response = call()
        assert response.status_code == expect, (name, response.status_code, response.content[:300])
        counts[name] = len(queries.captured_queries)

    _bump([user.pk])
    count("list (cache miss)", lambda: client.get("/alerts/"), 200)
    count("list (cache hit)", lambda: client.get("/alerts/"), 200)
    body = {"symbol": "ETHUSDT", "target_price": "3300", "direction": "above"}
    count("create", lambda: client.post("/alerts/", body, format="json"), 201)
    count(
        "create, direction inferred",
        lambda: client.post("/alerts/", dict(body, direction=None), format="json"),
        201,
    )
    alert = Alert.objects.filter(user=user, status="created").first()
    count("delete", lambda: client.delete(f"/alerts/{alert.pk}"), 204)
    return counts


# --- gunicorn ------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn(args, env: dict[str, str], workers: int):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    command = [
        str(BIN / "gunicorn"),
        "pricealert.wsgi",
        "--bind",
        f"fd://{listener.fileno()}",
        "--workers",
        str(workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--no-control-socket",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=env, pass_fds=(listener.fileno(),), start_new_session=True
    )
    listener.close()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5)
                break
            except urllib.error.HTTPError:
                break  # any answer means the workers are up
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start (exit {process.poll()})") from None
                time.sleep(0.3)
        print(f"gunicorn: {' '.join(command[1:])} -> {url}", flush=True)
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# --- one step -------------------------------------------------------------------------


def cpu_seconds(processes) -> dict[int, tuple[float, float]]:
    """(user, system) CPU seconds of each process still alive, by pid."""
    seconds = {}
    for process in processes:
        with contextlib.suppress(Exception):
            times = process.cpu_times()
            seconds[process.pid] = (times.user, times.system)
    return seconds


def cpu_spent(before: dict, after: dict, part: slice = slice(0, 2)) -> float:
    """CPU seconds spent between two readings; a process started in between counts from 0."""
    return sum(sum(times[part]) - sum(before.get(pid, (0.0, 0.0))[part]) for pid, times in after.items())


def database_backends(name: str):
    import psutil
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as conn:
        pids = [
            row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        ]
    return [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]


def read_stats(prefix: Path) -> dict[str, dict]:
    stats = {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            stats[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50": float(row["50%"] or 0),
                "p99": float(row["99%"] or 0),
            }
    return stats


def run_step(args, url: str, server, rate: int, out: Path, accounts_file: Path, label: str) -> dict:
    import psutil

    prefix = out / f"{label}_{rate}"
    workers = psutil.Process(server.pid).children()
    env = {
        **os.environ,
        "LOAD_ACCOUNTS_FILE": str(accounts_file),
        "LOAD_RATE_PER_USER": str(rate / args.users),
    }
    command = [
        str(BIN / "locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(min(args.users, 100)),
        "--run-time",
        f"{args.step_seconds}s",
        "--reset-stats",
        "--stop-timeout",
        "10",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    load_before = os.getloadavg()
    profiler = None
    if args.profile:
        profiler = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(server.pid),
                "--subprocesses",
                # Samples only while the worker holds the GIL: CPU spent in Python, not waits.
                "--gil",
                "--format",
                "raw",
                "--rate",
                "200",
                "--duration",
                str(args.step_seconds),
                "--output",
                f"{prefix}_profile.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    backends = database_backends(args.database)
    cpu_before = (cpu_seconds(workers), cpu_seconds(backends), psutil.cpu_times())
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    locust = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL)
    # Bounded: locust stops itself after --run-time; this only guards against a hang.
    try:
        locust.wait(timeout=args.step_seconds + 60)
    except subprocess.TimeoutExpired:
        locust.kill()
        locust.wait()
        raise RuntimeError("locust did not stop on its own") from None
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    locust_cpu = sum(
        getattr(children_after, f) - getattr(children_before, f) for f in ("ru_utime", "ru_stime")
    )
    backends = database_backends(args.database) or backends
    cpu_after = (cpu_seconds(workers), cpu_seconds(backends), psutil.cpu_times())
    if profiler is not None:
        try:
            profiler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            profiler.kill()
    stats = read_stats(prefix)
    total = stats["Aggregated"]
    served = total["requests"] or 1
    machine_busy = 1 - (cpu_after[2].idle - cpu_before[2].idle) / (
        sum(cpu_after[2]) - sum(cpu_before[2]) or 1
    )
    step = {
        "target_rps": rate,
        "stats": {SHORT[name]: stats[name] for name in ENDPOINTS if name in stats},
        "gunicorn_cpu_ms_per_request": 1000 * cpu_spent(cpu_before[0], cpu_after[0]) / served,
        "gunicorn_system_cpu_ms_per_request": 1000
        * cpu_spent(cpu_before[0], cpu_after[0], slice(1, 2))
        / served,
        "postgres_cpu_ms_per_request": 1000 * cpu_spent(cpu_before[1], cpu_after[1]) / served,
        "locust_cpu_ms_per_request": 1000 * locust_cpu / served,
        "machine_cpu_busy": machine_busy,
        "load_average": [round(x, 2) for x in load_before] + [round(os.getloadavg()[0], 2)],
    }
    step["passed"] = total["failures"] == 0 and total["p99"] <= args.p99_ms and total["rps"] >= 0.9 * rate
    return step


def print_step(step: dict) -> None:
    parts = [f"target {step['target_rps']:4d}/s"]
    for name, s in step["stats"].items():
        parts.append(
            f"{name} {s['rps']:6.1f}/s p50 {s['p50']:4.0f} p99 {s['p99']:4.0f} ms fail {s['failures']}"
        )
    print(" | ".join(parts), flush=True)
    print(
        "    cpu per request: gunicorn {:.2f} ms ({:.2f} system), postgres {:.2f} ms, locust {:.2f} ms; "
        "machine {:.0%} busy; load {}; {}".format(
            step["gunicorn_cpu_ms_per_request"],
            step["gunicorn_system_cpu_ms_per_request"],
            step["postgres_cpu_ms_per_request"],
            step["locust_cpu_ms_per_request"],
            step["machine_cpu_busy"],
            step["load_average"],
            "PASS" if step["passed"] else "FAIL",
        ),
        flush=True,
    )


def summarise_profile(path: Path, top: int = 30) -> dict[str, list[tuple[str, float]]]:
    """Where the workers' request handling spends its samples, from py-spy's raw format.

    "inclusive": share of samples with the function anywhere on the stack; "self":
    share with it on top. Line numbers are dropped, so a function counts once.
    """
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    if not path.exists():
        return {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        # Only the workers' request handling: not the arbiter, not a worker idle in accept().
        if ".handle_request " not in stack:
            continue
        samples = int(count)
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += samples
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
    if not total:
        return {}

    def ranked(counts):
        return [(frame, n / total) for frame, n in sorted(counts.items(), key=lambda item: -item[1])[:top]]

    return {"inclusive": ranked(inclusive), "self": ranked(own)}


# --- main -----------------------------------------------------------------------------


def main():
    args = parse_args()
    import redis

    redis_client = redis.Redis(host="127.0.0.1", port=6379, db=args.redis_db)
    if redis_client.dbsize():
        sys.exit(f"Redis database {args.redis_db} is not empty: pick an unused one with --redis-db.")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="loadbench-"))
    out.mkdir(parents=True, exist_ok=True)
    accounts_file = out / "accounts.json"
    rates = [int(rate) for rate in args.rates.split(",")]
    caches = {"on": 300, "off": 0}
    worker_counts = [int(count) for count in args.workers.split(",")]
    # One gunicorn per (cache mode, worker count); labels such as "on" or "on/w5".
    modes = {
        (cache if len(worker_counts) == 1 else f"{cache}/w{workers}"): (seconds, workers)
        for cache, seconds in caches.items()
        if args.cache in (cache, "both")
        for workers in worker_counts
    }
    results = {
        "config": {
            "gunicorn": f"--workers {args.workers} --worker-class {args.worker_class} "
            f"--threads {args.threads}",
            "users": args.users,
            "step_seconds": args.step_seconds,
            "cpu_count": os.cpu_count(),
        },
        "modes": {},
    }
    database_url = create_database(args.database)
    try:
        setup_django(bench_env(args, database_url, 300))
        users = create_accounts(args.users)
        reset_state(users, args.alerts_per_user, accounts_file, redis_client)
        results["queries_per_request"] = queries_per_request(users)
        print("queries per request:", results["queries_per_request"], flush=True)
        from django.db import connections

        connections.close_all()
        # Both servers run side by side (an idle one costs nothing) and the modes take
        # turns at each rate, so a burst of load from elsewhere hits both alike.
        with contextlib.ExitStack() as stack:
            servers = {}
            for label, (cache_seconds, workers) in modes.items():
                print(f"== {label}: ALERT_LIST_CACHE_SECONDS={cache_seconds}, {workers} workers", flush=True)
                servers[label] = stack.enter_context(
                    gunicorn(args, bench_env(args, database_url, cache_seconds), workers)
                )
            steps = {label: [] for label in modes}
            for rate in rates:
                for label, (server, url) in servers.items():
                    if steps[label] and not steps[label][-1]["passed"] and not args.keep_going:
                        continue
                    reset_state(users, args.alerts_per_user, accounts_file, redis_client)
                    connections.close_all()
                    step = run_step(args, url, server, rate, out, accounts_file, label.replace("/", "_"))
                    print(f"cache {label:6}", end=" ")
                    print_step(step)
                    if args.profile:
                        step["profile"] = summarise_profile(
                            out / f"{label.replace('/', '_')}_{rate}_profile.txt"
                        )
                        for kind, rows in step["profile"].items():
                            print(f"    profile, {kind}:")
                            for frame, share in rows:
                                print(f"    {share:6.1%}  {frame}")
                    steps[label].append(step)
        for label, mode_steps in steps.items():
            passed = [step for step in mode_steps if step["passed"]]
            results["modes"][label] = {"steps": mode_steps, "best": passed[-1] if passed else None}
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        try:
            drop_database(args.database)
        finally:
            redis_client.flushdb()
        (out / "results.json").write_text(json.dumps(results, indent=2))
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    print_summary(results)


def print_summary(results: dict) -> None:
    print("\nHighest step passing (no failures, p99 within target, >= 90 % of the rate served):")
    print(
        "| cache | target/s | served/s | list p50/p99 | create p50/p99 | delete p50/p99 "
        "| total p50/p99 (ms) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, mode in results["modes"].items():
        best = mode["best"]
        if best is None:
            print(f"| {label} | none passed | | | | | |")
            continue
        s = best["stats"]
        cells = [f"{s[n]['p50']:.0f} / {s[n]['p99']:.0f}" for n in ("list", "create", "delete", "total")]
        print(f"| {label} | {best['target_rps']} | {s['total']['rps']:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
