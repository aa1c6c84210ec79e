"""CPU time and database queries of one request of each kind of the load mix, in-process.

The locust figures (bench/load/run.py) move with whatever else the machine
runs; the CPU time a request costs this process (Django's test client: the
whole middleware, DRF, ORM and Redis path, no network and no gunicorn) moves
much less, so it is what to compare before and after a change of the hot path:

    .venv/bin/python bench/load/request_cost.py                      # this tree
    .venv/bin/python bench/load/request_cost.py --project /tmp/old    # another checkout's code

Same setup and cleanup as run.py (PostgreSQL database ``loadcost`` created and
dropped, Redis database 7 checked empty and emptied). Each kind runs --requests
times, the kinds interleaved round by round so machine noise falls on all alike.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", help="import the app from this checkout instead of this one")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--redis-db", type=int, default=7)
    parser.add_argument("--database", default="loadcost")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--alerts-per-user", type=int, default=40)
    return parser.parse_args()


def main():
    args = parse_args()
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    import run  # the load benchmark's setup helpers

    if args.project:
        sys.path.insert(0, str(Path(args.project).resolve()))
        os.chdir(args.project)
    else:
        sys.path.insert(0, str(run.PROJECT_DIR))
    import redis

    redis_client = redis.Redis(host="127.0.0.1", port=6379, db=args.redis_db)
    if redis_client.dbsize():
        sys.exit(f"Redis database {args.redis_db} is not empty: pick an unused one with --redis-db.")
    database_url = run.create_database(args.database)
    try:
        options = argparse.Namespace(redis_db=args.redis_db)
        run.setup_django(run.bench_env(options, database_url, 300))
        import django.conf

        print("app code:", Path(django.conf.settings.BASE_DIR), flush=True)
        users = run.create_accounts(args.users)
        with tempfile.TemporaryDirectory() as scratch:
            run.reset_state(users, args.alerts_per_user, Path(scratch) / "accounts.json", redis_client)
        print("queries per request:", run.queries_per_request(users), flush=True)
        samples = measure(users, args.requests)
        print(f"{'request':28} {'CPU median':>11} {'CPU p90':>9} {'wall median':>12}")
        for name, (cpu, wall) in samples.items():
            print(
                f"{name:28} {statistics.median(cpu):8.2f} ms {percentile(cpu, 0.9):6.2f} ms "
                f"{statistics.median(wall):9.2f} ms"
            )
        print("load average:", [round(x, 2) for x in os.getloadavg()])
    finally:
        from django.db import connections

        connections.close_all()
        try:
            run.drop_database(args.database)
        finally:
            redis_client.flushdb()


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def measure(users, rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    from alerts.cache import _bump
    from alerts.models import Alert

    clients = []
    for user in users:
        client = APIClient(SERVER_NAME="127.0.0.1")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        clients.append((user, client))
    waiting = {
        user.pk: list(Alert.objects.filter(user=user, status="created").values_list("pk", flat=True))
        for user in users
    }
    body = {"symbol": "ETHUSDT", "target_price": "3300", "direction": "above"}

    def list_miss(user, client):
        _bump([user.pk])  # one Redis INCR inside the clock: the same in every tree compared
        return client.get("/alerts/"), 200

    kinds = {
        "list (cache hit)": lambda user, client: (client.get("/alerts/"), 200),
        "list (cache miss)": list_miss,
        "create": lambda user, client: (client.post("/alerts/", body, format="json"), 201),
        "create, direction inferred": lambda user, client: (
            client.post("/alerts/", dict(body, direction=None), format="json"),
            201,
        ),
        "delete": lambda user, client: (client.delete(f"/alerts/{waiting[user.pk].pop()}"), 204),
    }
    for _user, client in clients:  # warm up: connections, first imports, every user's page cached
        client.get("/alerts/")
    samples = {name: ([], []) for name in kinds}
    for number in range(rounds):
        user, client = clients[number % len(clients)]
        if len(waiting[user.pk]) < 2:
            waiting[user.pk] += list(
                Alert.objects.filter(user=user, status="created").values_list("pk", flat=True)[:20]
            )
        for name, request in kinds.items():
            if name == "list (cache hit)":
                client.get("/alerts/")  # the page may have been invalidated by the last round's writes
            cpu, wall = time.process_time(), time.perf_counter()
            response, expected = request(user, client)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            assert response.status_code == expected, (name, response.status_code, response.content[:200])
            samples[name][0].append(cpu * 1000)
            samples[name][1].append(wall * 1000)
    return samples


if __name__ == "__main__":
    main()
