"""The figures of the admin's operations page, read through the same selectors as /health and
`pricealert_status` (plus the few the page adds: failures by kind, failing channels, most
watched symbols, activity per minute)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from alerts.selectors import (
    FailingChannel,
    MinuteActivity,
    activity_per_minute,
    failing_channels,
    most_watched_symbols,
    recent_failures_by_kind,
)
from feeds.selectors import symbol_statuses
from feeds.store import latest_price, redis_client
from operations.chart import Series, per_minute_chart
from operations.status import Status, collect_status

logger = logging.getLogger(__name__)

FAILURES_WINDOW = timedelta(hours=1)
FAILING_CHANNELS_WINDOW = timedelta(hours=24)
FAILING_CHANNELS_SHOWN = 10
WATCHED_SYMBOLS_SHOWN = 10
ACTIVITY_WINDOW = timedelta(hours=1)
FIRINGS_COLOUR, DELIVERIES_COLOUR = "#ba2121", "#417690"


@dataclass(frozen=True, slots=True)
class WatchedRow:
    symbol: str
    alerts: int
    users: int
    catalogue_status: str  # "UNKNOWN": no longer in the catalogue
    price: Decimal | None  # the latest price the feeder wrote; None: none (or Redis is down)
    price_age_seconds: float | None


@dataclass(frozen=True)
class Operations:
    status: Status  # what pricealert_status prints
    feed: dict  # /health's "feed" block, by its rule: ok or stale, the freshest connection, waiting symbols
    failures_by_kind: dict[str, int]  # the last hour's
    failing_channels: list[FailingChannel]
    watched: list[WatchedRow]
    activity: list[MinuteActivity]
    chart: str

    @property
    def failures_last_hour(self) -> int:
        return sum(self.failures_by_kind.values())

    @property
    def firings_last_hour(self) -> int:
        return sum(minute.firings for minute in self.activity)

    @property
    def deliveries_last_hour(self) -> int:
        return sum(minute.deliveries for minute in self.activity)


def _watched_rows() -> list[WatchedRow]:
    watched = most_watched_symbols(limit=WATCHED_SYMBOLS_SHOWN)
    statuses = symbol_statuses([row.symbol for row in watched])
    prices = {}
    try:
        client = redis_client()
        prices = {row.symbol: latest_price(row.symbol, client) for row in watched}
    except Exception:  # Redis down: the page still shows the database's figures
        logger.warning("operations page: latest prices unavailable", exc_info=True)
    rows = []
    for row in watched:
        latest = prices.get(row.symbol)
        rows.append(
            WatchedRow(
                row.symbol,
                row.alerts,
                row.users,
                statuses.get(row.symbol, "UNKNOWN"),
                latest.price if latest else None,
                round(latest.age_seconds, 1) if latest else None,
            )
        )
    return rows


def feed_summary(status: Status) -> dict:
    """/health's "feed" block (operations.health.feed_status) from what ``collect_status`` read:
    "stale" when alerts wait and no connection spoke within FEED_STALE_SECONDS."""
    if not status.redis_ok:
        return {"status": "unknown", "age_seconds": None, "waiting_symbols": status.waiting_symbols}
    freshest = min((beat.age_seconds for beat in status.heartbeats), default=None)
    waiting = status.waiting_symbols
    stale = bool(waiting) and (freshest is None or freshest > settings.FEED_STALE_SECONDS)
    return {
        "status": "stale" if stale else "ok",
        "age_seconds": None if freshest is None else round(freshest, 1),
        "waiting_symbols": waiting,
    }


def collect_operations(now: datetime) -> Operations:
    """Every figure of the page as of ``now`` (timezone-aware)."""
    # The activity ends with the minute under way, and covers the hour before it.
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    activity = activity_per_minute(since=end - ACTIVITY_WINDOW, until=end)
    firings = sum(minute.firings for minute in activity)
    deliveries = sum(minute.deliveries for minute in activity)
    chart = per_minute_chart(
        [minute.minute for minute in activity],
        [
            Series("firings", [minute.firings for minute in activity], FIRINGS_COLOUR),
            Series("deliveries", [minute.deliveries for minute in activity], DELIVERIES_COLOUR),
        ],
        summary=f"Per minute over the last hour: {firings} firings and {deliveries} deliveries in all.",
    )
    status = collect_status()
    return Operations(
        status=status,
        feed=feed_summary(status),
        failures_by_kind=recent_failures_by_kind(since=now - FAILURES_WINDOW),
        failing_channels=failing_channels(since=now - FAILING_CHANNELS_WINDOW, limit=FAILING_CHANNELS_SHOWN),
        watched=_watched_rows(),
        activity=activity,
        chart=chart,
    )
