"""Refetching a span of the stream the engine found lost: every followed symbol's trades, from REST.

The engine trims the stream only up to its committed checkpoint, so entries go
unread only when Redis lost them (restarted empty, or the safety bound trimmed
them while the engine was down for a day). The engine then knows the span it
missed (its checkpoint's time to the first entry left) and asks for it
(``feeds.store.request_refetch``). The feeder's backfill worker, which already
paces every REST request under Binance's weight limit, takes the request and
pages ``GET /api/v3/aggTrades`` by time, then by id, for each symbol with
waiting alerts, and writes the trades to the stream again as windows of
``WINDOW_MS`` of event time, the live feeder's resolution. The engine reads
them like any other windows: each keeps its own event times (an alert is still
judged only on trades after it was armed), and a window read twice fires
nothing twice, so refetching a little more than was lost costs nothing.

The price history (``feeds.history``) is not rebuilt from them: folding trades
in is not idempotent, and a trimmed stream leaves the history whole.

Nothing older than the backfill cap is fetched; a symbol Binance does not
answer for within the hold time is reported as a gap (``feed:gaps``), like a
live backfill. The outcome goes beside the loss report, so an operator sees
both.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from feeds.rest import MAX_AGG_TRADES, AggTrade
from feeds.windows import PriceWindow

# The live feeder flushes every 0.2 s; refetched trades are grouped as finely.
WINDOW_MS = 200


@dataclass(frozen=True, slots=True)
class Span:
    """What the engine found lost: trades with event times in ``[from_ms, until_ms]``."""

    from_ms: int
    until_ms: int
    evaluator: str


@dataclass(slots=True)
class Refetched:
    """One span's outcome: the windows to write, and what could not be fetched."""

    windows: list[list[PriceWindow]] = field(default_factory=list)
    trades: int = 0
    symbols: int = 0
    unanswered: list[str] = field(default_factory=list)

    def describe(self, span: Span, *, capped_from_ms: int) -> str:
        from feeds.store import ms_to_datetime  # the store imports Django settings: only when reporting

        start, end = ms_to_datetime(capped_from_ms), ms_to_datetime(span.until_ms)
        text = (
            f"refetched {self.trades} trades of {self.symbols} symbols from REST,"
            f" {start:%H:%M:%S} to {end:%H:%M:%S} UTC"
        )
        if capped_from_ms > span.from_ms:
            text += (
                f" (older than the backfill cap not fetched, from {ms_to_datetime(span.from_ms):%H:%M:%S})"
            )
        if self.unanswered:
            text += f"; Binance did not answer for {', '.join(sorted(self.unanswered))}"
        return text


# Fetches one page for a symbol (``start_ms=`` or ``from_id=``), or None when Binance did not answer in time.
PageFetcher = Callable[..., list[AggTrade] | None]


def trades_in_span(symbol: str, from_ms: int, until_ms: int, page: PageFetcher) -> list[AggTrade] | None:
    """The symbol's trades with event times in ``[from_ms, until_ms]``, oldest first; None if unanswered.

    The first page is found by time, the rest by id (``fromId``), because a
    time range longer than an hour is not accepted everywhere (PROTOCOL.md 6).
    """
    trades: list[AggTrade] = []
    batch = page(symbol, start_ms=from_ms)
    while batch is not None:
        for trade in batch:
            if trade.time_ms > until_ms:
                return trades
            if trade.time_ms >= from_ms:
                trades.append(trade)
        if len(batch) < MAX_AGG_TRADES:
            return trades
        batch = page(symbol, from_id=batch[-1].agg_id + 1)
    return None


def windows_of(symbol: str, trades: Iterable[AggTrade]) -> dict[int, PriceWindow]:
    """The trades folded into one window per ``WINDOW_MS`` of event time, keyed by that slot."""
    windows: dict[int, PriceWindow] = {}
    for trade in trades:
        agg_id, price, time_ms = trade.agg_id, trade.price, trade.time_ms
        slot = time_ms // WINDOW_MS
        window = windows.get(slot)
        if window is None:
            windows[slot] = PriceWindow(symbol, price, price, price, time_ms, time_ms, agg_id)
        else:
            window.add(price, time_ms)
    return windows


def refetch(symbols: Iterable[str], span: Span, page: PageFetcher, *, cap_from_ms: int) -> Refetched:
    """Fetch the span for every symbol; one stream entry per ``WINDOW_MS`` slot, in event order.

    Each entry holds every symbol's window of one slot, so the entries run in
    event time across symbols, as the live feeder's flushes do: a batch the
    engine reads never holds one symbol's later trades before another's
    earlier ones (its expiry cuts rely on that).
    """
    from_ms = max(span.from_ms, cap_from_ms)
    outcome = Refetched()
    slots: dict[int, list[PriceWindow]] = {}
    for symbol in sorted(set(symbols)):
        trades = trades_in_span(symbol, from_ms, span.until_ms, page)
        if trades is None:
            outcome.unanswered.append(symbol)
            continue
        outcome.symbols += 1
        outcome.trades += len(trades)
        for slot, window in windows_of(symbol, trades).items():
            slots.setdefault(slot, []).append(window)
    outcome.windows = [slots[slot] for slot in sorted(slots)]
    return outcome
