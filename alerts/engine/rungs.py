"""The engine's pure maths: which windows each alert is judged on, as staircases and rungs.

No database here (nor Django): windows in, steps and rungs out. The statement
builders (``alerts.engine.statements``) turn rungs into SQL.

An alert counts only the windows whose last event came after it was armed: a
suffix of the symbol's windows in event order. A trigger needs, for each arming
time, the best price of that suffix (the staircase); a re-arm needs only the
price furthest back over all the windows.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from feeds.windows import PriceWindow

# (highest high, lowest low, latest last event ms) of one symbol's windows.
Extremes = tuple[Decimal, Decimal, int]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a crossing staircase: alerts armed before ``before_ms`` saw ``price``."""

    before_ms: int
    price: Decimal


def staircase(windows: Sequence[PriceWindow], *, above: bool) -> list[Step]:
    """The windows that matter for one direction (``above``, else below), oldest first.

    For an alert created at T the windows it saw are those whose last event is
    after T: a suffix of the windows in event order. The best price in a suffix
    (highest for ``above``, lowest for ``below``) is always a window that beats
    every later window, so keeping only those ("records from the right") loses
    nothing, and the prices on the kept steps strictly worsen with time. The
    first step an alert is older than gives the best price it saw.
    """
    ordered = sorted(windows, key=lambda w: w.last_event_ms)
    steps: list[Step] = []
    best: Decimal | None = None
    for window in reversed(ordered):
        price = window.high if above else window.low
        if best is None or (price > best if above else price < best):
            best = price
            steps.append(Step(window.last_event_ms, price))
    steps.reverse()
    return steps


@dataclass(frozen=True, slots=True)
class Rung:
    """Work for alerts of ``symbol`` armed in ``[since_ms, before_ms)`` (None: unbounded), up to ``price``.

    ``first`` and ``last`` delimit the symbol's windows (1-based, inclusive) in
    the statement's window list, for the alerts that look for their own window.
    """

    symbol: str
    since_ms: int | None
    before_ms: int | None
    price: Decimal
    first: int
    last: int


def group_by_symbol(windows: Iterable[PriceWindow]) -> dict[str, list[PriceWindow]]:
    """The windows grouped by symbol, in the order they came."""
    grouped: dict[str, list[PriceWindow]] = defaultdict(list)
    for window in windows:
        grouped[window.symbol].append(window)
    return grouped


def grouped_with_extremes(
    windows: Iterable[PriceWindow],
) -> tuple[dict[str, list[PriceWindow]], dict[str, Extremes]]:
    """``group_by_symbol`` and ``symbol_extremes`` in one pass (a tick's hundreds of windows, every tick)."""
    grouped: dict[str, list[PriceWindow]] = {}
    extremes: dict[str, list] = {}
    for window in windows:
        found = extremes.get(window.symbol)
        if found is None:
            grouped[window.symbol] = [window]
            extremes[window.symbol] = [window.high, window.low, window.last_event_ms]
            continue
        grouped[window.symbol].append(window)
        if window.high > found[0]:
            found[0] = window.high
        if window.low < found[1]:
            found[1] = window.low
        if window.last_event_ms > found[2]:
            found[2] = window.last_event_ms
    return grouped, {symbol: (high, low, last) for symbol, (high, low, last) in extremes.items()}


def symbol_extremes(windows_by_symbol: dict[str, list[PriceWindow]]) -> dict[str, Extremes]:
    """Per symbol: (highest high, lowest low, latest last event ms) over its windows."""
    return {
        symbol: (max(w.high for w in ws), min(w.low for w in ws), max(w.last_event_ms for w in ws))
        for symbol, ws in windows_by_symbol.items()
    }


def _window_points(windows_by_symbol: dict[str, Sequence[PriceWindow]], price):
    """The windows as one list of (last event ms, price), symbol by symbol in event order.

    Returns the list and, per symbol, (symbol, its windows in order, first index, last index).
    """
    points: list[tuple[int, Decimal]] = []
    spans = []
    for symbol, windows in windows_by_symbol.items():
        ordered = sorted(windows, key=lambda w: w.last_event_ms)
        first = len(points) + 1
        points += [(w.last_event_ms, price(w)) for w in ordered]
        spans.append((symbol, ordered, first, len(points)))
    return points, spans


def trigger_rungs(windows_by_symbol: dict[str, Sequence[PriceWindow]], *, above: bool):
    """(rungs, window points) for a trigger: each symbol's staircase (see ``staircase``) as rungs.

    An alert armed between a step and the one before it saw exactly the windows
    from that step on, and the step's price is the best of them.
    """
    points, spans = _window_points(windows_by_symbol, lambda w: w.high if above else w.low)
    rungs: list[Rung] = []
    for symbol, ordered, first, last in spans:
        since = None
        for step in staircase(ordered, above=above):
            rungs.append(Rung(symbol, since, step.before_ms, step.price, first, last))
            since = step.before_ms
    return rungs, points


def rearm_rungs(windows_by_symbol: dict[str, Sequence[PriceWindow]], *, above: bool):
    """(rungs, window points) for a re-arm of fired "above" alerts (``above``) or "below" ones.

    One rung per symbol, at the price furthest back: fired "above" alerts re-arm
    on a low under their re-arm price, "below" ones on a high over it.
    """
    points, spans = _window_points(windows_by_symbol, lambda w: w.low if above else w.high)
    rungs = []
    for symbol, _, first, last in spans:
        prices = [price for _, price in points[first - 1 : last]]
        rungs.append(Rung(symbol, None, None, min(prices) if above else max(prices), first, last))
    return rungs, points
