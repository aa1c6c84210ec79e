"""Reads of the symbol catalogue."""

from feeds.models import Symbol


def symbol_get(symbol: str) -> Symbol | None:
    return Symbol.objects.filter(symbol=symbol.upper()).first()


def symbol_statuses(symbols: list[str]) -> dict[str, str]:
    """Catalogue status of each symbol; symbols missing from the catalogue are absent."""
    return dict(Symbol.objects.filter(symbol__in=symbols).values_list("symbol", "status"))


def symbol_search(query: str, limit: int = 20) -> list[Symbol]:
    """Trading symbols matching what a user types: those starting with it first, then those containing it.

    ``"eth"`` finds ETHUSDT, ETHBTC, ... before BNBETH. Letters and digits only (anything else is
    dropped), so the query is never a pattern.
    """
    text = "".join(ch for ch in query.upper() if ch.isascii() and ch.isalnum())[:32]
    if not text:
        return []
    trading = Symbol.objects.filter(status=Symbol.TRADING)
    starting = list(trading.filter(symbol__startswith=text).order_by("symbol")[:limit])
    if len(starting) >= limit:
        return starting
    containing = trading.filter(symbol__contains=text).exclude(symbol__startswith=text).order_by("symbol")
    return starting + list(containing[: limit - len(starting)])
