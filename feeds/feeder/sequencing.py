"""A connection's trade sequencing: fold trades in aggregate-id order, backfilling every gap first.

The receive loop folds a frame itself when its id follows the symbol's last
one (the fast path, inline in ``connection.py``); everything else comes here:

- a frame whose id skips ahead: the missing ids are requested from the
  backfill worker (``feeds.backfill``) and the symbol's frames are held;
- a (re)subscription: everything after the last id folded (or, for a symbol
  never followed, since its alerts were armed) is requested, open-ended, and
  the symbol's frames are held until it arrives;
- a backfill result: its trades are folded, then the held frames, in id order,
  duplicates dropped. The windows are then what an uninterrupted connection
  would have folded.

Only the held symbol waits; the others go on. Runs in the connection's thread;
the backfill thread only appends its results to a deque.
"""

import logging
from collections import deque
from dataclasses import dataclass, field

from feeds.backfill import Backfill, Backfiller
from feeds.binance import Trade
from feeds.windows import PriceWindow

logger = logging.getLogger("feeds.feeder")


@dataclass(eq=False)
class _Pending:
    request: Backfill
    held: list[Trade] = field(default_factory=list)
    # Resubscribed while this backfill ran (a reconnect): ask again from where it ends.
    recheck: bool = False


def fold(
    windows: dict[str, PriceWindow], symbol: str, price, event_ms: int, agg_id: int | None, quantity
) -> None:
    window = windows.get(symbol)
    if window is None:
        windows[symbol] = PriceWindow.first_trade(symbol, price, event_ms, agg_id, quantity)
    else:
        window.add(price, event_ms, quantity)
        window.last_id = agg_id


class Sequencer:
    """One connection's held symbols and the backfills it waits for."""

    def __init__(self, connection_name: str, backfiller: Backfiller):
        self.name = connection_name
        self.backfiller = backfiller
        self.last_ids = backfiller.last_ids  # shared by the feeder's connections
        self.pending: dict[str, _Pending] = {}
        self._results: deque[Backfill] = deque()

    def accept(self, trade: Trade, windows: dict[str, PriceWindow]) -> None:
        """The receive loop's logic for one trade, for the slow path (held frames, closing)."""
        symbol, price, event_ms, agg_id, quantity = trade
        if agg_id is None:
            fold(windows, symbol, price, event_ms, None, quantity)
            return
        pending = self.pending.get(symbol)
        if pending is not None:
            pending.held.append(trade)
            return
        last = self.last_ids.get(symbol)
        if last is not None and agg_id != last + 1:
            if agg_id > last:
                self.gap(symbol, last, trade)
            return
        self.last_ids[symbol] = agg_id
        fold(windows, symbol, price, event_ms, agg_id, quantity)

    def gap(self, symbol: str, last: int, trade: Trade) -> None:
        """A frame skipped ids ``last + 1 .. trade.agg_id - 1``: fetch them, hold the symbol."""
        logger.info(
            "%s: %s jumped from aggregate id %d to %d: backfilling %d trades",
            self.name,
            symbol,
            last,
            trade.agg_id,
            trade.agg_id - last - 1,
        )
        self._start(symbol, last, trade.agg_id - 1).held.append(trade)

    def subscribed(self, symbols) -> None:
        """Newly (re)subscribed symbols: fetch what was traded since we last saw them, and their minutes."""
        for symbol in symbols:
            self.backfiller.request_minutes(symbol)
            pending = self.pending.get(symbol)
            if pending is not None:
                pending.recheck = True
                continue
            last = self.last_ids.get(symbol)
            if last is not None or symbol in self.backfiller.armed_since:
                self._start(symbol, last, None)

    def drain(self, windows: dict[str, PriceWindow]) -> set[str]:
        """Fold the backfills that arrived, then the frames they held; returns their symbols."""
        drained: set[str] = set()
        while self._results:
            result = self._results.popleft()
            pending = self.pending.get(result.symbol)
            if pending is None or pending.request is not result:
                continue  # superseded
            del self.pending[result.symbol]
            symbol = result.symbol
            drained.add(symbol)
            last = self.last_ids.get(symbol)
            for agg_id, price, time_ms, quantity in result.trades:
                if last is None or agg_id > last:
                    fold(windows, symbol, price, time_ms, agg_id, quantity)
                    last = agg_id
            if last is not None:
                self.last_ids[symbol] = last
            if not result.complete and pending.held:
                # Reported by the backfill worker; the live frames go on from the first held one.
                first_held = pending.held[0].agg_id
                if last is None or last < first_held - 1:
                    self.last_ids[symbol] = first_held - 1
            for trade in pending.held:
                self.accept(trade, windows)
            if pending.recheck and symbol not in self.pending:
                self._start(symbol, self.last_ids.get(symbol), None)
        return drained

    def _start(self, symbol: str, after_id: int | None, until_id: int | None) -> _Pending:
        request = Backfill(symbol, after_id, until_id, self._results.append)
        pending = self.pending[symbol] = _Pending(request)
        self.backfiller.request(request)
        return pending
