"""Reads of the symbol catalogue."""

from feeds.models import Symbol


def symbol_get(symbol: str) -> Symbol | None:
    return Symbol.objects.filter(symbol=symbol.upper()).first()


def symbol_statuses(symbols: list[str]) -> dict[str, str]:
    """Catalogue status of each symbol; symbols missing from the catalogue are absent."""
    return dict(Symbol.objects.filter(symbol__in=symbols).values_list("symbol", "status"))
