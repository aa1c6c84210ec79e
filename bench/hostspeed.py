"""How fast this machine is right now: one line printed beside a benchmark's figures.

The benchmarks run on a shared 2-core virtual machine whose speed was seen to
change by a factor of two to four between sessions (and within one) for the
same code. A figure is only comparable with another taken with the same
calibration, so every benchmark prints this first and docs/BENCHMARKS.md keeps
it with the figures. Each number is the median of a few repetitions:

- python: a 10,000,000-step integer loop (one core of the interpreter);
- decimal: 100,000 ``Decimal(str)`` parses (the engine's and feeder's staple);
- pg round trip: ``SELECT 1`` on an open psycopg connection (client, socket, server);
- pg cpu: ``SELECT sum(g) FROM generate_series(1, 2000000)`` (one backend's CPU);
- redis round trip: ``PING`` on an open connection.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/hostspeed.py
"""

import os
import statistics
import time
from decimal import Decimal


def _median_seconds(run, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _python_loop() -> None:
    total = 0
    for step in range(10_000_000):
        total += step


def _decimal_parses() -> None:
    for _ in range(100_000):
        Decimal("70123.45678901")


def _postgres(url: str) -> tuple[float, float] | None:
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            select_one = _median_seconds(lambda: conn.execute("SELECT 1").fetchone(), 1000)
            series = _median_seconds(
                lambda: conn.execute("SELECT sum(g) FROM generate_series(1, 2000000) g").fetchone(), 5
            )
    except psycopg.Error:
        return None
    return select_one, series


def _redis(url: str) -> float | None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        client.ping()
        return _median_seconds(client.ping, 1000)
    except redis.RedisError:
        return None


def describe() -> str:
    """One line: the machine's speed now (see the module's docstring)."""
    parts = [
        f"python loop {_median_seconds(_python_loop, 3):.2f} s",
        f"decimal {_median_seconds(_decimal_parses, 3) * 1000:.0f} ms",
    ]
    url = os.environ.get("DATABASE_URL", "")
    postgres = _postgres(url) if url.startswith("postgres") else None
    if postgres is not None:
        parts += [f"pg round trip {postgres[0] * 1e6:.0f} us", f"pg cpu {postgres[1] * 1000:.0f} ms"]
    found = _redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    if found is not None:
        parts.append(f"redis round trip {found * 1e6:.0f} us")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"host speed: {'; '.join(parts)} (load average {load})"


if __name__ == "__main__":
    print(describe())
