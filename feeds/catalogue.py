"""The symbol catalogue: parse Binance's exchangeInfo, load it, look symbols up.

The bundled snapshot (``feeds/data/symbols.json``) is derived from a real
exchangeInfo response, so the API validates symbols offline; ``manage.py
syncsymbols`` refreshes the table from the live endpoint.
"""

import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

SNAPSHOT_PATH = Path(__file__).resolve().parent / "data" / "symbols.json"


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal


def parse_exchange_info(payload: dict) -> list[SymbolInfo]:
    """Every spot symbol in an exchangeInfo response; unknown filter types are ignored."""
    symbols = []
    for raw in payload.get("symbols", []):
        if not raw.get("isSpotTradingAllowed", True):
            continue
        price_filter = next((f for f in raw.get("filters", []) if f.get("filterType") == "PRICE_FILTER"), {})
        symbols.append(
            SymbolInfo(
                symbol=raw["symbol"].upper(),
                status=raw["status"],
                base_asset=raw["baseAsset"],
                quote_asset=raw["quoteAsset"],
                tick_size=Decimal(price_filter.get("tickSize", "0")),
                min_price=Decimal(price_filter.get("minPrice", "0")),
                max_price=Decimal(price_filter.get("maxPrice", "0")),
            )
        )
    return symbols


def write_snapshot(symbols: list[SymbolInfo], path: Path = SNAPSHOT_PATH) -> None:
    rows = [
        [
            s.symbol,
            s.status,
            s.base_asset,
            s.quote_asset,
            f"{s.tick_size:f}",
            f"{s.min_price:f}",
            f"{s.max_price:f}",
        ]
        for s in sorted(symbols, key=lambda s: s.symbol)
    ]
    path.write_text(
        json.dumps({"fields": list(asdict(symbols[0]).keys()), "symbols": rows}, separators=(",", ":")) + "\n"
    )


def read_snapshot(path: Path = SNAPSHOT_PATH) -> list[SymbolInfo]:
    data = json.loads(path.read_text())
    return [
        SymbolInfo(symbol, status, base, quote, Decimal(tick), Decimal(low), Decimal(high))
        for symbol, status, base, quote, tick, low, high in data["symbols"]
    ]
