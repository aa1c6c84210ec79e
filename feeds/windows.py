"""PriceWindow: what the market did for one symbol between two flushes.

The feeder folds every trade into a window; the alert engine reads windows.
High and low make a one-trade spike visible even when it is neither the
first nor the last trade of the window.

A window folded from trades with their quantities also carries their 1-second
buckets (``seconds``, ``feeds.history.Bucket``): the feeder writes them to the
price history in the same MULTI as the window. Windows decoded from the stream
carry none.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from feeds.history import Bucket, merge_buckets


@dataclass(slots=True)
class PriceWindow:
    symbol: str
    high: Decimal
    low: Decimal
    last: Decimal
    first_event_ms: int
    last_event_ms: int
    # The highest aggregate trade id folded in (None: not sequenced); not part of the stream entry.
    last_id: int | None = None
    # The trades' 1-second buckets, in the order folded (None: folded without quantities).
    seconds: list[Bucket] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def opened_by(cls, symbol: str, price: Decimal, event_ms: int) -> "PriceWindow":
        return cls(symbol, price, price, price, event_ms, event_ms)

    @classmethod
    def first_trade(
        cls, symbol: str, price: Decimal, event_ms: int, agg_id: int | None, quantity: Decimal
    ) -> "PriceWindow":
        """A window opened by a trade with its quantity: it keeps the trades' 1-second buckets."""
        bucket = Bucket(event_ms - event_ms % 1000, price, price * quantity, event_ms)
        return cls(symbol, price, price, price, event_ms, event_ms, agg_id, [bucket])

    def add(self, price: Decimal, event_ms: int, quantity: Decimal | None = None) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        if event_ms >= self.last_event_ms:
            self.last = price
            self.last_event_ms = event_ms
        if event_ms < self.first_event_ms:
            self.first_event_ms = event_ms
        seconds = self.seconds
        if quantity is None or seconds is None:
            return
        # The hot path (every trade): the bucket of the previous trade, inlined (bench/feeder.py).
        bucket = seconds[-1]
        if 0 <= event_ms - bucket.start_ms < 1000:
            if price > bucket.high:
                bucket.high = price
            elif price < bucket.low:
                bucket.low = price
            if event_ms >= bucket.last_ms:
                bucket.close = price
                bucket.last_ms = event_ms
            bucket.quote_volume += price * quantity
        else:
            merge_buckets(seconds, [Bucket(event_ms - event_ms % 1000, price, price * quantity, event_ms)])

    def merge(self, other: "PriceWindow") -> None:
        """Fold a later (or overlapping) window of the same symbol into this one."""
        if other.high > self.high:
            self.high = other.high
        if other.low < self.low:
            self.low = other.low
        if other.last_event_ms >= self.last_event_ms:
            self.last = other.last
            self.last_event_ms = other.last_event_ms
        if other.first_event_ms < self.first_event_ms:
            self.first_event_ms = other.first_event_ms
        if other.last_id is not None and (self.last_id is None or other.last_id > self.last_id):
            self.last_id = other.last_id
        if other.seconds:
            if self.seconds is None:
                self.seconds = []
            merge_buckets(self.seconds, other.seconds)

    def encode(self) -> str:
        return f"{self.high} {self.low} {self.last} {self.first_event_ms} {self.last_event_ms}"

    @classmethod
    def decode(cls, symbol: str, encoded: str) -> "PriceWindow":
        high, low, last, first_ms, last_ms = encoded.split(" ")
        return cls(symbol, Decimal(high), Decimal(low), Decimal(last), int(first_ms), int(last_ms))
