"""PriceWindow: what the market did for one symbol between two flushes.

The feeder folds every trade into a window; the alert engine reads windows.
High and low make a one-trade spike visible even when it is neither the
first nor the last trade of the window.
"""

from dataclasses import dataclass
from decimal import Decimal


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

    @classmethod
    def opened_by(cls, symbol: str, price: Decimal, event_ms: int) -> "PriceWindow":
        return cls(symbol, price, price, price, event_ms, event_ms)

    def add(self, price: Decimal, event_ms: int) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        if event_ms >= self.last_event_ms:
            self.last = price
            self.last_event_ms = event_ms
        if event_ms < self.first_event_ms:
            self.first_event_ms = event_ms

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

    def encode(self) -> str:
        return f"{self.high} {self.low} {self.last} {self.first_event_ms} {self.last_event_ms}"

    @classmethod
    def decode(cls, symbol: str, encoded: str) -> "PriceWindow":
        high, low, last, first_ms, last_ms = encoded.split(" ")
        return cls(symbol, Decimal(high), Decimal(low), Decimal(last), int(first_ms), int(last_ms))
