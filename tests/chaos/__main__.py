"""``python -m tests.chaos [--size short|full] [--alerts N] [--smtp-refusal S]``: one chaos run, its report.

Runs against SQLite unless DATABASE_URL names a PostgreSQL server (then a
fresh database on it, reached through the run's TCP proxy). Exits 1 when the
run found a missing alert, a duplicate or a wrong final state.
"""

import argparse
import dataclasses
import os
import shutil
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")
    from tests.chaos.runner import SIZES, ChaosRun

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--alerts", type=int, help="override the size's alert count")
    parser.add_argument("--users", type=int, help="override the size's user count")
    parser.add_argument("--symbols", type=int, help="override the size's symbol count")
    parser.add_argument("--smtp-refusal", type=float, help="seconds the SMTP server refuses mail")
    parser.add_argument("--db-name", default="pricealert_chaos", help="the run's database (dropped after)")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)

    size = SIZES[args.size]
    overrides = {"alerts": args.alerts, "users": args.users, "symbols": args.symbols}
    overrides["smtp_refusal"] = args.smtp_refusal
    size = dataclasses.replace(size, **{k: v for k, v in overrides.items() if v is not None})
    report = ChaosRun(size, db_name=args.db_name, seed=args.seed).run()
    print(report.text())
    if report.ok:
        shutil.rmtree(report.logs_dir, ignore_errors=True)
    else:
        print(f"process logs kept in {report.logs_dir}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
