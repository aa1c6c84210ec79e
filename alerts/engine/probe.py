"""A batch's probes in one statement: which moved symbols have price alerts to fire or re-arm, and which
(symbol, window) pairs have window alerts (``statements.batch_probe_query``).

A tick asks once and hands each answer to its pass: the window kinds'
(``windows.evaluate_window_alerts``) and the price kinds' with expiry
(``evaluation.evaluate_with_expiry``). Asking before either runs is safe: the
window pass changes only window alerts, which the crossing probes never
count, and an earliest expiry read before them is at most the true one (an
earlier cut costs a segment, never an expiry).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alerts.dialect import dialect
from alerts.engine.evaluation import Reach, reach_of
from alerts.engine.rungs import grouped_with_extremes
from alerts.engine.statements import batch_probe_query, idle_probe_query
from alerts.engine.windows import ReachRow, Thresholds, thresholds_of
from feeds.windows import PriceWindow


@dataclass(frozen=True, slots=True)
class BatchProbe:
    reach: Reach
    window_pairs: dict[tuple[str, int], Thresholds]


def probe_batch(windows: Sequence[PriceWindow], *, also: tuple[str, list] | None = None) -> BatchProbe:
    """Both probes for these (non-empty) windows, one round trip; ``also``: a data-modifying statement
    (its SQL and params) to run in the same one, as a CTE (where ``Dialect.updates_in_with``)."""
    by_symbol, extremes = grouped_with_extremes(windows)
    cte = None if also is None else (f"also AS ({also[0]})", also[1])
    rows = dialect().fetch_prepared(*batch_probe_query(extremes, cte))
    return _answer(by_symbol, extremes, rows)


def probe_unless_idle(
    windows: Sequence[PriceWindow],
    move: Callable[[str, list], tuple[str, list]],
    reach: Sequence[ReachRow] = (),
) -> tuple[BatchProbe, int | None]:
    """Both probes, and ``move`` in the same statement only if they find nothing to do
    (``statements.idle_probe_query``, with the window bounds' ``reach``): the answer (no window rows
    when the move ran), and the move's returned value (None: it did not run)."""
    by_symbol, extremes = grouped_with_extremes(windows)
    rows = dialect().fetch_prepared(*idle_probe_query(extremes, move, reach))
    moved = [row[-1] for row in rows if row[0] is None]
    answer = _answer(by_symbol, extremes, [row for row in rows if row[0] is not None])
    return answer, (moved[0] if moved else None)


def _answer(by_symbol, extremes, rows) -> BatchProbe:
    crossing = [(symbol, up, down, expiry) for symbol, window, up, down, expiry, *_ in rows if window is None]
    window_rows = [(symbol, window, *rest) for symbol, window, _, _, _, *rest in rows if window is not None]
    return BatchProbe(reach_of(by_symbol, extremes, crossing), thresholds_of(window_rows))
