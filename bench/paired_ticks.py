"""Two engines side by side, tick for tick: this checkout against another one (e.g. an older commit).

On a shared machine, tick times drift by 1.5x between identical runs, which hides
a 20% difference. Here both engines run at once, each in its own process, its
own database and its own Redis stream, and take turns: tick k of one, then tick k
of the other (the order alternating), so both see the same quiet and busy
moments. Each loads its data with its own bench/evaluate.py (``load``, ``settle``
and, with --mix on this side, ``load_mix`` and ``fill_history``, each tick's trades
then written to the history too); the windows are the same.

    git worktree add /tmp/issue5 9655311~1
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/paired_ticks.py --baseline /tmp/issue5 --mix [--baseline-mix --spread-windows]

The baseline's bench/evaluate.py needs a ``settle`` function (VACUUM ANALYZE and
CHECKPOINT after loading); copy this checkout's into an older worktree.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--baseline", type=Path, help="the other checkout (its engine and its bench/evaluate.py)"
    )
    parser.add_argument("--mix", action="store_true", help="every alert kind on this checkout's side")
    parser.add_argument(
        "--baseline-mix", action="store_true", help="and on the baseline's (it must know --mix)"
    )
    parser.add_argument(
        "--spread-windows",
        action="store_true",
        help="with --mix: window alerts on every symbol (bench/evaluate.py --spread-windows)",
    )
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=200, help="no-fire ticks each")
    parser.add_argument("--fire-ticks", type=int, default=5)
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: the project directory to run
    parser.add_argument("--database", help=argparse.SUPPRESS)
    return parser.parse_args()


def worker(args) -> None:
    """Load, then answer "nofire <k>" / "fire <k>" on stdin with the tick's seconds on stdout."""
    project = Path(args.worker)
    sys.path[:0] = [str(project), str(project / "bench")]
    import evaluate  # the checkout's own benchmark module: its load() fits its schema

    evaluate.BENCH_DATABASE = args.database
    load_args = argparse.Namespace(
        sqlite=False,
        alerts=args.alerts,
        symbols=args.symbols,
        users=args.users,
        mix=args.mix,
        spread_windows=args.spread_windows,
    )
    url, maintenance = evaluate.configure(load_args)
    import django

    django.setup()
    from django.core.management import call_command

    from alerts import engine
    from feeds import store

    try:
        call_command("migrate", verbosity=0)
        evaluate.load(load_args)
        if args.mix:
            # As bench/evaluate.py --mix: the history full, and each tick's trades written to it.
            evaluate.load_mix(load_args)
            evaluate.fill_history(load_args)
            evaluate.WRITE_HISTORY = True
        evaluate.settle()
        store.redis_client().delete(store.WINDOW_STREAM)
        engine.evaluate_pending()
        try:
            from alerts.delivery import outbox
        except ImportError:  # an older checkout: the outbox was part of alerts/engine.py
            outbox = engine
            outbox._enqueue_sends = lambda ids: None
        else:
            outbox.enqueue_sends = lambda ids: None
        print("ready", flush=True)
        per_symbol_fire = 100
        for line in sys.stdin:
            kind, k = line.split()
            k = int(k)
            now_ms = int(time.time() * 1000)
            if kind == "nofire":
                moved = sorted({(k * 37 + i * 7) % args.symbols for i in range(100)})
                evaluate.write_tick(evaluate.tick_windows(moved, 5, now_ms))
            else:
                moved = list(range(k * 100, k * 100 + 100))
                evaluate.write_tick(evaluate.tick_windows(moved, 5, now_ms, fire_per_symbol=per_symbol_fire))
            started = time.perf_counter()
            result = engine.evaluate_pending()
            elapsed = time.perf_counter() - started
            print(json.dumps({"seconds": elapsed, "fired": result.fired}), flush=True)
    finally:
        evaluate.drop(maintenance, url)


def start(project: Path, database: str, redis_db: int, mix: bool, args) -> subprocess.Popen:
    env = dict(os.environ, REDIS_URL=f"redis://127.0.0.1:6379/{redis_db}", PYTHONPATH="")
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(project),
        "--database",
        database,
        "--alerts",
        str(args.alerts),
        "--symbols",
        str(args.symbols),
        "--users",
        str(args.users),
    ]
    if mix:
        command.append("--mix")
        if args.spread_windows:
            command.append("--spread-windows")
    process = subprocess.Popen(
        command, cwd=project, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    while (line := process.stdout.readline()) and line.strip() != "ready":
        print(f"  [{database}] {line.rstrip()}")
    return process


def tick(process: subprocess.Popen, command: str) -> dict:
    process.stdin.write(command + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def report(name: str, mine: list[float], theirs: list[float]) -> None:
    ratios = sorted(m / t for m, t in zip(mine, theirs, strict=True))
    print(
        f"{name}: this checkout median {statistics.median(mine) * 1000:.2f} ms (min {min(mine) * 1000:.2f}), "
        f"baseline median {statistics.median(theirs) * 1000:.2f} ms (min {min(theirs) * 1000:.2f}); "
        f"paired ratio median {statistics.median(ratios):.3f} "
        f"(quartiles {statistics.quantiles(ratios, n=4)[0]:.3f}-{statistics.quantiles(ratios, n=4)[2]:.3f})"
    )


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    if args.baseline is None:
        sys.exit("--baseline: the other checkout to compare with")
    # One after the other: two bulk loads at once would only slow each other down.
    mine = start(PROJECT_DIR, "bench_paired_this", 11, args.mix, args)
    theirs = start(args.baseline.resolve(), "bench_paired_baseline", 12, args.baseline_mix, args)
    results: dict[str, tuple[list[float], list[float]]] = {"no-fire tick": ([], []), "fire tick": ([], [])}
    plan = [("no-fire tick", f"nofire {k}") for k in range(args.ticks)]
    plan += [("fire tick", f"fire {k}") for k in range(args.fire_ticks)]
    try:
        for n, (name, command) in enumerate(plan):
            order = [(0, mine), (1, theirs)] if n % 2 == 0 else [(1, theirs), (0, mine)]
            for side, process in order:
                results[name][side].append(tick(process, command)["seconds"])
    finally:
        for process in (mine, theirs):
            process.stdin.close()
            process.wait()
    for name, (a, b) in results.items():
        report(name, a, b)


if __name__ == "__main__":
    main()
