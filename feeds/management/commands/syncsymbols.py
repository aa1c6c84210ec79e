"""manage.py syncsymbols: refresh the symbol catalogue from Binance's GET /api/v3/exchangeInfo.

Fetches BINANCE_REST_URL + /api/v3/exchangeInfo (urllib: no extra dependency),
upserts the Symbol table in one transaction and prints what changed. Any
network or format error leaves the table untouched and exits non-zero.
``--snapshot`` also rewrites the bundled feeds/data/symbols.json.
"""

import json
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from feeds.catalogue import SNAPSHOT_PATH, parse_exchange_info, write_snapshot
from feeds.services import symbol_catalogue_sync

EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"


def fetch_exchange_info(url: str, timeout: float) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "pricealert"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        hint = f"; Binance asks to retry after {retry_after}s" if retry_after else ""
        raise CommandError(f"{url} answered HTTP {exc.code} {exc.reason}{hint}") from exc
    except urllib.error.URLError as exc:
        raise CommandError(f"cannot reach {url}: {exc.reason}") from exc
    except (TimeoutError, OSError) as exc:
        raise CommandError(f"cannot read {url}: {exc or 'timed out'}") from exc
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise CommandError(f"{url} did not return JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("symbols"), list):
        raise CommandError(f"{url} did not return an exchangeInfo object with a symbols list")
    return payload


class Command(BaseCommand):
    help = "Refresh the symbol catalogue from Binance's exchangeInfo (BINANCE_REST_URL)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", help=f"full exchangeInfo URL (default: BINANCE_REST_URL + {EXCHANGE_INFO_PATH})"
        )
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for Binance")
        parser.add_argument(
            "--snapshot",
            nargs="?",
            const=str(SNAPSHOT_PATH),
            metavar="PATH",
            help="also rewrite the snapshot that migrations load (default: feeds/data/symbols.json)",
        )

    def handle(self, *args, **options):
        url = options["url"] or settings.BINANCE_REST_URL.rstrip("/") + EXCHANGE_INFO_PATH
        payload = fetch_exchange_info(url, options["timeout"])
        try:
            symbols = parse_exchange_info(payload)
        except (KeyError, TypeError, ArithmeticError, AttributeError) as exc:
            raise CommandError(f"{url}: unexpected symbol entry ({exc!r}); catalogue untouched") from exc
        if not symbols:
            raise CommandError(f"{url} listed no spot symbols; catalogue untouched")

        changes = symbol_catalogue_sync(symbols=symbols)

        listed_trading = sum(1 for s in symbols if s.status == "TRADING")
        self.stdout.write(f"exchangeInfo from {url}: {len(symbols)} spot symbols, {listed_trading} TRADING.")
        self.stdout.write(
            f"Catalogue: {len(changes.added)} added, {len(changes.updated)} updated, "
            f"{len(changes.delisted)} no longer listed (now DELISTED); "
            f"{changes.trading} of {changes.total} symbols TRADING."
        )
        if changes.stopped_trading:
            listed = ", ".join(f"{name} ({status})" for name, status in changes.stopped_trading[:20])
            more = (
                f" and {len(changes.stopped_trading) - 20} more" if len(changes.stopped_trading) > 20 else ""
            )
            self.stdout.write(
                f"Stopped trading ({len(changes.stopped_trading)}; their waiting alerts stay): {listed}{more}"
            )
        if changes.resumed_trading:
            self.stdout.write(
                f"Trading again ({len(changes.resumed_trading)}): {', '.join(changes.resumed_trading[:20])}"
            )
        if options["snapshot"]:
            path = Path(options["snapshot"])
            write_snapshot(symbols, path)
            self.stdout.write(f"Wrote the snapshot of {len(symbols)} symbols to {path}.")
        self.stdout.write(self.style.SUCCESS("Symbol catalogue synced."))
