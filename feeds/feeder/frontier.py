"""The frontier: per followed symbol, the prices past which a trade may fire or re-arm an alert.

The symbol source (``FEEDER_SYMBOLS_SOURCE``) maps each symbol to a pair
``(above, below)``: the lowest price an alert watches from below (a trade at
or over it may fire or re-arm one) and the highest price one watches from above
(a trade at or under it may); None when nothing waits on that side. A trade
past either is a crossing: its connection hands its windows to the flusher at
once, which writes them and wakes the engine (``flusher.py``).

After a crossing, that side moves to just past the crossing trade: the woken
tick evaluates everything up to it, so only a trade further out can fire
something more before the next refresh brings the database's frontier again.

It is a hint, never the judge: a crossing it misses (an alert created since
the last refresh) waits for the beat tick, and a wake-up for nothing costs one
empty tick.
"""

from collections.abc import Mapping
from decimal import Decimal

INFINITY = Decimal("Infinity")
Bounds = tuple[Decimal | None, Decimal | None]


class Frontier:
    """The frontier of every followed symbol: replaced whole by a refresh, moved by crossings."""

    def __init__(self) -> None:
        # symbol -> [above, below]; a refresh swaps the whole dict, a crossing moves one entry in place.
        self._bounds: dict[str, list[Decimal]] = {}

    def replace(self, frontier: Mapping[str, Bounds]) -> None:
        self._bounds = {
            symbol.upper(): [
                INFINITY if above is None else Decimal(above),
                -INFINITY if below is None else Decimal(below),
            ]
            for symbol, (above, below) in frontier.items()
        }

    def get(self, symbol: str) -> Bounds | None:
        bounds = self._bounds.get(symbol)
        if bounds is None:
            return None
        above, below = bounds
        return (None if above == INFINITY else above, None if below == -INFINITY else below)

    def crossed(self, symbol: str, price: Decimal) -> bool:
        """Whether this trade is past the symbol's frontier; if so, the frontier moves past it.

        Called for every trade, by the connection threads: one dict lookup and
        two comparisons when nothing is crossed.
        """
        bounds = self._bounds.get(symbol)
        if bounds is None:
            return False
        crossed = False
        if price >= bounds[0]:
            bounds[0] = price.next_plus()
            crossed = True
        if price <= bounds[1]:
            bounds[1] = price.next_minus()
            crossed = True
        return crossed
