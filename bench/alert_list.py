"""GET /alerts/ latency through the whole stack (JWT auth, filters, cache), hit vs miss.

Creates one user with N alerts in a throwaway database, then times requests
with Django's test client (no network): a cache miss (the user's list version
is bumped before every request, so each one reads the database) against a
cache hit (the same page again).

    .venv/bin/python bench/alert_list.py                     # temporary SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/alert_list.py
    (--alerts N, --requests R, --per-page P)

PostgreSQL: DATABASE_URL names the server; the benchmark creates and drops a
database named ``bench_alert_list`` there. Redis: REDIS_URL (default
redis://127.0.0.1:6379/11); only this run's cache keys are written (they expire).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from scratch_database import scratch_database  # noqa: E402  (bench/ is the script's directory)

BENCH_DATABASE = "bench_alert_list"


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--per-page", type=int, default=20)
    return parser.parse_args()


def timed(client, path: str, before=None, count: int = 100) -> list[float]:
    samples = []
    for _ in range(count):
        if before:
            before()
        start = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:200]
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms"


def main():
    args = parse_args()
    backend, cleanup = scratch_database(BENCH_DATABASE)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-never-used-in-production")
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", "benchmark-only-field-encryption-key")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from rest_framework.test import APIClient
        from rest_framework_simplejwt.tokens import RefreshToken

        from accounts.models import User
        from alerts.cache import _bump
        from alerts.models import Alert

        call_command("migrate", verbosity=0)
        user = User.objects.create_user(email=f"bench-{time.time_ns()}@example.com", password="x")
        Alert.objects.bulk_create(
            [
                Alert(
                    user=user, symbol=("BTCUSDT", "ETHUSDT")[i % 2], direction="above", target_price=60000 + i
                )
                for i in range(args.alerts)
            ],
            batch_size=5000,
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        paths = {
            "first page": f"/alerts/?per_page={args.per_page}",
            "filtered": f"/alerts/?symbol=ethusdt&status=created&per_page={args.per_page}",
            "deep page": f"/alerts/?per_page={args.per_page}&page={args.alerts // args.per_page // 2}",
        }
        print(f"{backend}, {args.alerts} alerts for one user, {args.requests} requests each")
        for name, path in paths.items():
            timed(client, path, count=5)  # warm up connections and the page cache
            miss = timed(client, path, before=lambda: _bump([user.pk]), count=args.requests)
            hit = timed(client, path, count=args.requests)
            print(f"  {name:10}  miss: {summary(miss)}   hit: {summary(hit)}")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
