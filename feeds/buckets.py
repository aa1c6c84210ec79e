"""1-second buckets as the feeder folds them (``feeds.windows``, ``feeds.history``): exact decimals.

Kept apart from ``feeds.history`` (which reads and writes Redis) so the
windows module can use them without importing the store.
"""

import decimal
from collections.abc import Iterable, Sequence
from decimal import Decimal

# Sums of many prices x quantities need more than the default 28 digits to stay exact.
WIDE = decimal.Context(prec=60)


class Bucket:
    """A bucket being folded: [start ms, open, high, low, close, quote volume, first ms, last ms]."""

    __slots__ = ("close", "first_ms", "high", "last_ms", "low", "open", "quote_volume", "start_ms")

    def __init__(self, start_ms: int, price: Decimal, quote: Decimal, event_ms: int):
        self.start_ms = start_ms
        self.open = self.high = self.low = self.close = price
        self.quote_volume = quote
        self.first_ms = self.last_ms = event_ms

    def add(self, price: Decimal, quote: Decimal, event_ms: int) -> None:
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        if event_ms >= self.last_ms:
            self.close, self.last_ms = price, event_ms
        if event_ms < self.first_ms:
            self.open, self.first_ms = price, event_ms
        self.quote_volume = WIDE.add(self.quote_volume, quote)

    def merge(self, other: "Bucket") -> None:
        """Fold a later-folded part of the same bucket in (ties: the earlier-folded open, the later close)."""
        if other.high > self.high:
            self.high = other.high
        if other.low < self.low:
            self.low = other.low
        if other.last_ms >= self.last_ms:
            self.close, self.last_ms = other.close, other.last_ms
        if other.first_ms < self.first_ms:
            self.open, self.first_ms = other.open, other.first_ms
        self.quote_volume = WIDE.add(self.quote_volume, other.quote_volume)

    def copy(self) -> "Bucket":
        twin = Bucket(self.start_ms, self.open, self.quote_volume, self.first_ms)
        twin.high, twin.low, twin.close, twin.last_ms = self.high, self.low, self.close, self.last_ms
        return twin

    def __eq__(self, other) -> bool:
        return isinstance(other, Bucket) and self._key() == other._key()

    def _key(self):
        return (self.start_ms, self.open, self.high, self.low, self.close, self.quote_volume)

    def __repr__(self) -> str:
        return f"Bucket{self._key()}"


def fold_seconds(trades: Iterable[tuple[Decimal, Decimal, int]]) -> list[Bucket]:
    """Trades (price, quantity, event ms), in the order they were made, as 1-second buckets."""
    buckets: dict[int, Bucket] = {}
    for price, quantity, event_ms in trades:
        start = event_ms - event_ms % 1000
        quote = WIDE.multiply(price, quantity)
        bucket = buckets.get(start)
        if bucket is None:
            buckets[start] = Bucket(start, price, quote, event_ms)
        else:
            bucket.add(price, quote, event_ms)
    return [buckets[start] for start in sorted(buckets)]


def merge_buckets(into: list[Bucket], later: Sequence[Bucket]) -> None:
    """Append ``later`` second buckets to ``into``, merging one that continues the last bucket."""
    for bucket in later:
        if into and into[-1].start_ms == bucket.start_ms:
            into[-1].merge(bucket)
        else:
            into.append(bucket)
