"""The simulated market behind the fake server: trade ids, kline_1s candles and random-walk prices.

No sockets here: the server asks it for the payloads of one trade and for the
next step of the walk, and sends them to whoever follows the streams.
"""

import itertools
import random
import time
from decimal import Decimal

from devtools.fakebinance.wire import (
    EIGHT_DECIMALS,
    agg_trade_payload,
    format_decimal,
    kline_1s_payload,
    trade_payload,
)

# Where the random walk starts for a symbol without a --price (the demo's defaults).
DEFAULT_START_PRICES = {
    "BTCUSDT": Decimal("60000.00"),
    "ETHUSDT": Decimal("3000.00"),
    "BNBUSDT": Decimal("550.00"),
    "SOLUSDT": Decimal("150.00"),
    "XRPUSDT": Decimal("0.5500"),
    "ETHBTC": Decimal("0.05000000"),
}
# Trades kept per symbol for REST (the oldest go first; a benchmark's millions must not fill memory).
HISTORY_PER_SYMBOL = 1_000_000
# Walk step rounding: coarse ticks for big prices, Binance's 8 decimals for small ones.
_WALK_TICKS = ((Decimal(1000), Decimal("0.01")), (Decimal(1), Decimal("0.0001")))


class Market:
    """Per-symbol trade ids (consecutive, like Binance's), open kline_1s candles and walk prices."""

    def __init__(self):
        self.agg_ids: dict[str, itertools.count] = {}
        self.trade_ids: dict[str, itertools.count] = {}
        self.candles: dict[str, dict] = {}
        self.walk_prices: dict[str, Decimal] = {}
        # Every trade per symbol, oldest first, whoever was subscribed (the REST backfill reads it):
        # (agg id, price, qty, trade id, time ms, buyer is maker).
        self.history: dict[str, list[tuple]] = {}

    def next_ids(self, symbol: str) -> tuple[int, int]:
        if symbol not in self.agg_ids:
            # From the clock: ids never go back when the fake restarts, as Binance's never do
            # (a feeder that kept the last id in Redis would take newer trades for duplicates).
            seed = int(time.time() * 1000)
            self.agg_ids[symbol] = itertools.count(seed)
            self.trade_ids[symbol] = itertools.count(seed * 3)
        return next(self.agg_ids[symbol]), next(self.trade_ids[symbol])

    def trade_payloads(
        self, symbol: str, price: Decimal | str | int, qty, event_ms: int, maker: bool, klines: bool
    ) -> dict[str, str | list[str]]:
        """One trade's payloads by stream name; kline_1s updates only when ``klines`` (someone follows)."""
        lower = symbol.lower()
        price_text, qty_text = format_decimal(price), format_decimal(qty)
        agg_id, trade_id = self.next_ids(symbol)
        history = self.history.setdefault(symbol, [])
        history.append((agg_id, Decimal(price_text), Decimal(qty_text), trade_id, event_ms, maker))
        if len(history) > HISTORY_PER_SYMBOL + HISTORY_PER_SYMBOL // 10:
            del history[: len(history) - HISTORY_PER_SYMBOL]
        payloads: dict[str, str | list[str]] = {
            f"{lower}@aggTrade": agg_trade_payload(
                symbol, price_text, qty_text, event_ms, agg_id, trade_id, maker
            ),
            f"{lower}@trade": trade_payload(symbol, price_text, qty_text, event_ms, trade_id, maker),
        }
        if klines:
            payloads[f"{lower}@kline_1s"] = self._kline_updates(
                symbol, Decimal(price_text), Decimal(qty_text), event_ms, trade_id, maker
            )
        return payloads

    def _kline_updates(
        self, symbol, price: Decimal, qty: Decimal, event_ms: int, trade_id: int, maker: bool
    ) -> list[str]:
        """The candle of the previous second, closed, if this trade opens a new one; then the open candle."""
        open_ms = event_ms // 1000 * 1000
        candle = self.candles.get(symbol)
        updates = []
        if candle is not None and candle["t"] != open_ms:
            updates.append(kline_1s_payload(symbol, candle, event_ms, closed=True))
            candle = None
        if candle is None:
            candle = {"t": open_ms, "f": trade_id, "o": price, "h": price, "l": price, "v": Decimal(0),
                      "q": Decimal(0), "V": Decimal(0), "Q": Decimal(0), "n": 0}  # fmt: skip
            self.candles[symbol] = candle
        candle.update(L=trade_id, c=price, h=max(candle["h"], price), l=min(candle["l"], price))
        candle["v"] += qty
        candle["q"] += (price * qty).quantize(EIGHT_DECIMALS)
        candle["n"] += 1
        if not maker:  # the buyer was the taker
            candle["V"] += qty
            candle["Q"] += (price * qty).quantize(EIGHT_DECIMALS)
        updates.append(kline_1s_payload(symbol, candle, event_ms, closed=False))
        return updates

    def walk(self, symbol: str, step: float, start_prices: dict[str, Decimal], rng: random.Random) -> Decimal:
        """The symbol's next random-walk price: a move of at most ``step`` (relative) from the last one."""
        price = (
            self.walk_prices.get(symbol)
            or start_prices.get(symbol)
            or DEFAULT_START_PRICES.get(symbol, Decimal(1))
        )
        moved = price * (1 + Decimal(str(round(rng.uniform(-step, step), 8))))
        tick = next((t for floor, t in _WALK_TICKS if moved >= floor), EIGHT_DECIMALS)
        self.walk_prices[symbol] = max(moved.quantize(tick), EIGHT_DECIMALS)
        return self.walk_prices[symbol]
