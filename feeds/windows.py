"""PriceWindow: what the market did for one symbol between two flushes.

The feeder folds every trade into a window; the alert engine reads windows.
High and low make a one-trade spike visible even when it is neither the
first nor the last trade of the window.

A window folded from trades with their quantities also carries their 1-second
buckets (``seconds``, ``feeds.buckets.Bucket``): the feeder writes them to the
price history in the same MULTI as the window. Windows decoded from the stream
carry none.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from feeds.buckets import Bucket, merge_buckets


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

    def add(self, price: Decimal, event_ms: int) -> None:
        """Fold a trade without its quantity (no history buckets)."""
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        if event_ms >= self.last_event_ms:
            self.last = price
            self.last_event_ms = event_ms
        if event_ms < self.first_event_ms:
            self.first_event_ms = event_ms

    def add_trade(self, price: Decimal, event_ms: int, quantity: Decimal) -> None:
        """Fold a trade into the window and its 1-second bucket (a window from ``first_trade``).

        The feeder's hot path, every trade (bench/feeder.py): the window's
        high and low can only move when its bucket's do, so the common trade
        costs the bucket's comparisons and one multiplication.
        """
        if event_ms >= self.last_event_ms:
            self.last = price
            self.last_event_ms = event_ms
        elif event_ms < self.first_event_ms:
            self.first_event_ms = event_ms
        bucket = self.seconds[-1]
        if 0 <= event_ms - bucket.start_ms < 1000:
            if price > bucket.high:
                bucket.high = price
                if price > self.high:
                    self.high = price
            elif price < bucket.low:
                bucket.low = price
                if price < self.low:
                    self.low = price
            if event_ms >= bucket.last_ms:
                bucket.close = price
                bucket.last_ms = event_ms
            bucket.quote_volume += price * quantity
            return
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        merge_buckets(self.seconds, [Bucket(event_ms - event_ms % 1000, price, price * quantity, event_ms)])

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
        return cls.decode_entry({symbol: encoded})[0]

    @classmethod
    def decode_entry(cls, fields: dict[str, str]) -> list["PriceWindow"]:
        """The windows of one stream entry (symbol -> ``encode()``).

        A quiet tick decodes hundreds of windows and does little else in Python,
        so this is a loop without calls per window, and a price written as the
        high's digits is parsed once (high, low and last are often the same):
        about a quarter cheaper than ``Decimal`` three times.
        """
        make, number = cls, Decimal
        windows = []
        for symbol, encoded in fields.items():
            high, low, last, first_ms, last_ms = encoded.split(" ")
            high_price = number(high)
            low_price = high_price if low == high else number(low)
            last_price = high_price if last == high else low_price if last == low else number(last)
            windows.append(make(symbol, high_price, low_price, last_price, int(first_ms), int(last_ms)))
        return windows
