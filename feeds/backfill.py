"""The feeder's backfill worker: fetches the aggregate trades a connection missed, from Binance's REST API.

Aggregate trade ids are consecutive per symbol (PROTOCOL.md section 6), so
what a connection missed is an id range: after a gap in the ids of its frames
(``until_id`` known), or after a (re)subscription (open-ended: everything
after the last id folded, or, for a symbol never followed, everything since
the earliest ``armed_at`` of its waiting alerts). One thread per feeder pages
through ``GET /api/v3/aggTrades`` and hands each connection its result; the
connection holds only that symbol's live frames meanwhile, so a slow
backfill never delays another symbol.

The same thread fills a newly followed symbol's minute history (24 h) from
``GET /api/v3/klines`` (``MinuteFill``, ``feeds.history.fill_minutes``).

Nothing older than ``cap_seconds`` is fetched: a longer gap (a feeder down
for hours) is logged and recorded in Redis (``feeds.store.record_gap``), never
skipped silently; so is a gap Binance did not let us fill within
``hold_seconds`` (unreachable, or rate-limited for longer).
"""

import contextlib
import decimal
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from feeds import history, store
from feeds.rest import MAX_AGG_TRADES, MAX_KLINES, AggTrade, BinanceRest, RateLimited, RestError

logger = logging.getLogger("feeds.feeder")

# Between attempts after an error other than a rate limit.
RETRY_SECONDS = 0.5


@dataclass(eq=False)
class Backfill:
    """One request: the trades of ``symbol`` after ``after_id`` (or since it was armed), to ``until_id``."""

    symbol: str
    after_id: int | None
    until_id: int | None
    deliver: Callable[["Backfill"], None]
    trades: list[AggTrade] = field(default_factory=list)
    complete: bool = False


@dataclass(frozen=True)
class MinuteFill:
    """Fill a newly followed symbol's minute history (24 h) from ``GET /api/v3/klines``."""

    symbol: str


class Backfiller(threading.Thread):
    """The feeder's backfill thread, and the per-symbol state backfills start from."""

    def __init__(
        self,
        rest: BinanceRest,
        *,
        cap_seconds: float,
        hold_seconds: float,
        redis_client: redis.Redis | None = None,
    ):
        super().__init__(name="feeder-backfill", daemon=True)
        self.rest = rest
        self.cap_seconds = cap_seconds
        self.hold_seconds = hold_seconds
        self.redis_client = redis_client
        # The last aggregate id folded per symbol, by any connection (a successor continues its
        # predecessor's sequence); dict reads and writes are atomic under the GIL.
        self.last_ids: dict[str, int] = {}
        # Earliest armed_at (ms) of each followed symbol's waiting alerts, from the symbol source.
        self.armed_since: dict[str, int] = {}
        self._queue: queue.Queue[Backfill | MinuteFill | None] = queue.Queue()
        self._stopping = threading.Event()
        self.backfills = 0
        self.minute_fills = 0
        self.trades_fetched = 0
        self.gaps_reported = 0

    def load_last_ids(self) -> None:
        """Start from the ids the previous feeder wrote: a restart backfills what it missed."""
        try:
            saved = store.last_trade_ids(client=self.redis_client)
        except redis.RedisError as exc:
            logger.warning("backfill: cannot read the last trade ids from Redis (%s)", exc)
            return
        for symbol, agg_id in saved.items():
            self.last_ids.setdefault(symbol, agg_id)

    def request(self, backfill: Backfill) -> None:
        self._queue.put(backfill)

    def request_minutes(self, symbol: str) -> None:
        """Fill the symbol's minute history from klines, unless it was filled within the last 24 h."""
        self._queue.put(MinuteFill(symbol))

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        # Quote volumes (sums of price x quantity) stay exact past the default 28 digits.
        decimal.getcontext().prec = history.WIDE.prec
        while not self._stopping.is_set():
            backfill = self._queue.get()
            if backfill is None:
                break
            if isinstance(backfill, MinuteFill):
                self._fill_minutes(backfill.symbol)
                continue
            try:
                self._fill(backfill)
            except Exception:  # a bug must not stop later backfills, nor leave frames held
                logger.exception("backfill of %s failed", backfill.symbol)
            self.backfills += 1
            self.trades_fetched += len(backfill.trades)
            backfill.deliver(backfill)

    # --- minute history from klines ------------------------------------------

    def _fill_minutes(self, symbol: str) -> None:
        """The closed minutes of the last 24 h from klines (two pages), once per symbol per 24 h.

        A failure (Binance unreachable past ``hold_seconds``, Redis down) is
        logged and releases the claim, so the next (re)subscription tries again.
        """
        try:
            if not history.mark_filled(symbol, client=self.redis_client):
                return
        except redis.RedisError as exc:
            logger.warning("history: cannot claim the klines fill of %s (%s)", symbol, exc)
            return
        now_ms = int(time.time() * 1000)
        end_ms = now_ms - now_ms % 60_000  # the current minute opens here; the ones before are closed
        start_ms = end_ms - history.MINUTE_RETENTION_S * 1000
        deadline = time.monotonic() + self.hold_seconds
        klines = []
        while start_ms < end_ms:
            page = self._ask(
                symbol,
                deadline,
                lambda s=start_ms: self.rest.minute_klines(symbol, start_ms=s, end_ms=end_ms - 1),
            )
            if page is None:
                logger.warning(
                    "history: klines of %s not fetched in time; the next follow tries again", symbol
                )
                self._release_fill(symbol)
                return
            klines += page
            if len(page) < MAX_KLINES:
                break
            start_ms = page[-1].open_ms + 60_000
        candles = [
            history.Candle(store.ms_to_datetime(k.open_ms), k.open, k.high, k.low, k.close, k.quote_volume)
            for k in klines
            if k.trades > 0 and k.open_ms < end_ms
        ]
        try:
            history.fill_minutes(symbol, candles, client=self.redis_client)
        except redis.RedisError as exc:
            logger.warning("history: cannot write the klines of %s (%s)", symbol, exc)
            self._release_fill(symbol)
            return
        self.minute_fills += 1

    def _release_fill(self, symbol: str) -> None:
        with contextlib.suppress(redis.RedisError):  # else the claim expires with the retention
            history.unmark_filled(symbol, client=self.redis_client)

    def _ask(self, symbol: str, deadline: float, call):
        """One REST call, waiting out rate limits and retrying errors until ``deadline`` (then None)."""
        while not self._stopping.is_set():
            try:
                return call()
            except RateLimited as exc:
                wait = exc.wait
            except RestError as exc:
                logger.warning("REST for %s: %s", symbol, exc)
                wait = RETRY_SECONDS
            if time.monotonic() + wait > deadline:
                return None
            self._stopping.wait(wait)
        return None

    # --- one backfill ---------------------------------------------------------

    def _fill(self, backfill: Backfill) -> None:
        symbol = backfill.symbol
        deadline = time.monotonic() + self.hold_seconds
        now_ms = int(time.time() * 1000)
        cap_ms = now_ms - int(self.cap_seconds * 1000)
        since_ms = self.armed_since.get(symbol)
        # Trades before the alerts were armed are not needed; older than the cap are not fetched.
        lower_ms = max(cap_ms, since_ms) if since_ms is not None else cap_ms
        if backfill.after_id is None:
            if since_ms is None:
                backfill.complete = True  # nothing to start from: live frames only
                return
            if since_ms < cap_ms:
                self._report(symbol, None, None, since_ms, cap_ms, "older than the backfill cap")
            page = self._page(backfill, deadline, start_ms=lower_ms)
        else:
            page = self._page(backfill, deadline, from_id=backfill.after_id + 1)
        # A full page: more may follow (judged before dropping what is too old).
        more = page is not None and len(page) == MAX_AGG_TRADES
        if page and page[0].time_ms < lower_ms:
            page, more = self._skip_old(backfill, page, lower_ms, since_ms, deadline)
        while page is not None:
            done = self._keep(backfill, page)
            if done or not more or not page:
                backfill.complete = True
                return
            page = self._page(backfill, deadline, from_id=page[-1].agg_id + 1)
            more = page is not None and len(page) == MAX_AGG_TRADES
        if backfill.trades:
            first = backfill.trades[-1].agg_id + 1
        else:
            first = None if backfill.after_id is None else backfill.after_id + 1
        self._report(symbol, first, backfill.until_id, None, None, "Binance did not answer in time")

    def _skip_old(self, backfill: Backfill, page, lower_ms: int, since_ms: int | None, deadline: float):
        """Drop what is older than ``lower_ms`` (reporting what was needed), jumping by time if need be."""
        skipped = [t for t in page if t.time_ms < lower_ms]
        needed = [t for t in skipped if since_ms is None or t.time_ms >= since_ms]
        kept = page[len(skipped) :]
        more = len(page) == MAX_AGG_TRADES
        if not kept and more:
            kept = self._page(backfill, deadline, start_ms=lower_ms)
            if kept is None:
                return None, False
            more = len(kept) == MAX_AGG_TRADES
        if needed:
            last_skipped = kept[0].agg_id - 1 if kept else needed[-1].agg_id
            self._report(
                backfill.symbol,
                needed[0].agg_id,
                last_skipped,
                needed[0].time_ms,
                lower_ms,
                "older than the backfill cap",
            )
        return kept, more

    def _keep(self, backfill: Backfill, page: list[AggTrade]) -> bool:
        """Add a page's trades up to ``until_id``; returns whether the range is complete."""
        until = backfill.until_id
        for trade in page:
            if until is not None and trade.agg_id > until:
                return True
            backfill.trades.append(trade)
        return until is not None and bool(page) and page[-1].agg_id >= until

    def _page(self, backfill: Backfill, deadline: float, **query) -> list[AggTrade] | None:
        """One page, waiting out rate limits and retrying errors until ``deadline`` (then None)."""
        return self._ask(backfill.symbol, deadline, lambda: self.rest.agg_trades(backfill.symbol, **query))

    def _report(self, symbol, first_id, last_id, from_ms, to_ms, reason: str) -> None:
        """A gap not backfilled: an operator must see it (the log, and ``feed:gaps`` in Redis)."""
        self.gaps_reported += 1
        ids = f"ids {first_id or '?'}..{last_id or '?'}" if first_id or last_id else "trades"
        span = ""
        if from_ms is not None and to_ms is not None:
            start, end = store.ms_to_datetime(from_ms), store.ms_to_datetime(to_ms)
            span = f" from {start:%H:%M:%S} to {end:%H:%M:%S} UTC"
        description = f"{ids}{span} not backfilled: {reason}"
        logger.error("backfill: %s %s", symbol, description)
        try:
            store.record_gap(symbol, description, client=self.redis_client)
        except redis.RedisError as exc:
            logger.warning("backfill: cannot record the gap in Redis (%s)", exc)
