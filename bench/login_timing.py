"""Login and register response times by outcome, with the production password hasher (Argon2).

No user enumeration means an unknown account must not answer measurably faster
(or slower) than a wrong password, and registering a taken address must take as
long as a new one. This times each case through the whole Django stack with
the test client (no network), interleaving the cases so machine noise hits
them alike, and prints medians side by side.

    .venv/bin/python bench/login_timing.py                  # temporary SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/login_timing.py
    (--rounds N)

Throttles are turned off for the run (it logs in far faster than they allow);
emails are rendered into memory (CELERY_TASK_ALWAYS_EAGER, locmem backend), so
both register branches do their full work. PostgreSQL: the benchmark creates
and drops a database named ``bench_login_timing``.
"""

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from scratch_database import scratch_database  # noqa: E402  (bench/ is the script's directory)

BENCH_DATABASE = "bench_login_timing"
PASSWORD = "correct horse battery staple"


def configure_environment() -> None:
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-never-used-in-production")
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", "benchmark-only-field-encryption-key")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    for scope in ("LOGIN", "REGISTER", "REFRESH"):
        for kind in ("IP", "ACCOUNT"):
            os.environ[f"THROTTLE_{scope}_{kind}"] = "off"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    backend, cleanup = scratch_database(BENCH_DATABASE)
    configure_environment()
    try:
        import django

        django.setup()
        # Every failed login is a WARNING line, every inline email task an INFO line.
        logging.getLogger("django.request").setLevel(logging.ERROR)
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        from django.conf import settings
        from django.core.management import call_command
        from rest_framework.test import APIClient

        from accounts.models import User

        call_command("migrate", verbosity=0)
        User.objects.create_user(email="alice@example.com", username="alice", password=PASSWORD)
        User.objects.create_user(email="sleepy@example.com", password=PASSWORD, is_active=False)
        client = APIClient()
        counter = iter(range(10**9))

        cases = {
            "login: right password": (
                "/token",
                lambda: {"email": "alice@example.com", "password": PASSWORD},
                200,
            ),
            "login: wrong password": (
                "/token",
                lambda: {"email": "alice@example.com", "password": "nope"},
                401,
            ),
            "login: unknown email": (
                "/token",
                lambda: {"email": "nobody@example.com", "password": "nope"},
                401,
            ),
            "login: unknown username": ("/token", lambda: {"username": "nobody", "password": "nope"}, 401),
            "login: inactive account": (
                "/token",
                lambda: {"email": "sleepy@example.com", "password": PASSWORD},
                401,
            ),
            "register: new address": (
                "/register",
                lambda: {"email": f"new{next(counter)}@example.com", "password": PASSWORD},
                201,
            ),
            "register: taken address": (
                "/register",
                lambda: {"email": "alice@example.com", "password": PASSWORD},
                201,
            ),
        }
        samples = {name: [] for name in cases}
        for round_number in range(args.rounds + 3):
            for name, (path, body, expected) in cases.items():
                payload = body()
                start = time.perf_counter()
                response = client.post(path, payload, format="json")
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == expected, (name, response.status_code, response.content[:200])
                if round_number >= 3:  # the first rounds warm up connections and caches
                    samples[name].append(elapsed)

        print(f"{backend}, hasher {settings.PASSWORD_HASHERS[0].rsplit('.', 1)[1]}, {args.rounds} rounds")
        for name, values in samples.items():
            ordered = sorted(values)
            p90 = ordered[int(len(ordered) * 0.9) - 1]
            print(f"  {name:26} median {statistics.median(ordered):6.1f} ms   p90 {p90:6.1f} ms")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
