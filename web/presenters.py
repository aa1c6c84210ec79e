"""How an alert reads on a page: its condition in words, the live price, the distance to the target.

Pure formatting of what the selectors and the price store return; nothing
here decides anything about an alert.
"""

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

import redis
from django.conf import settings
from django.utils import timezone

from alerts.delivery.messages import format_price
from alerts.models import Alert, Notification
from feeds.store import LatestPrice, latest_price

# A status the pages have no word for shows as itself.
STATUS_WORDS = {
    Alert.Status.CREATED: "waiting",
    Alert.Status.REARMING: "re-arming",
    Alert.Status.TRIGGERED: "triggered",
    Alert.Status.EXPIRED: "expired",
    Alert.Status.DELETED: "deleted",
    Alert.Status.PAUSED: "paused",
}


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def _get(alert, name):
    return alert.get(name) if isinstance(alert, dict) else getattr(alert, name)


def percent_text(value: Decimal) -> str:
    """Decimal("-5.0000") -> "-5%", Decimal("2.5") -> "+2.5%"."""
    text = format(Decimal(value).normalize(), "f")
    return f"{'+' if value > 0 else ''}{text}%"


def window_name(seconds) -> str | None:
    """3600 -> "1h" (the API's name of a window), None for a price alert."""
    return next((name for name, length in Alert.WINDOWS.items() if length == seconds), None)


def window_condition(alert) -> str | None:
    """ "up 5% within 1h", "quote volume 25,000,000 within 5m"; None for a price alert.

    The words of ``Alert.describe``, with the volume grouped in thousands as prices are.
    """
    kind, window = _get(alert, "kind"), window_name(_get(alert, "window_seconds"))
    if kind == Alert.Kind.MOVE:
        move = format(Decimal(_get(alert, "move_percent")).normalize(), "f")
        return f"{_get(alert, 'move_direction')} {move}% within {window}"
    if kind == Alert.Kind.VOLUME:
        return f"quote volume {format_price(Decimal(_get(alert, 'volume_quote')))} within {window}"
    return None


def condition(alert) -> str:
    """ "above 70,000.5", "cross 3,000", "-5% from 3,120.5" (a percent alert's move and reference),
    "up 5% within 1h", "quote volume 25,000,000 within 5m" (the window kinds)."""
    words = window_condition(alert)
    if words is not None:
        return words
    target = _get(alert, "target_price")
    change, reference = _get(alert, "change_percent"), _get(alert, "reference_price")
    if change is not None and reference is not None:
        words = f"{percent_text(change)} from {format_price(reference)}"
        return f"cross {words}" if _get(alert, "crossing") else words
    side = Alert.CROSS if _get(alert, "crossing") else _get(alert, "direction")
    return f"{side} {format_price(target)}"


@dataclass(frozen=True, slots=True)
class PriceView:
    """The latest price of a symbol as a page shows it: a price, stale, or none at all."""

    symbol: str
    latest: LatestPrice | None
    stale: bool
    unavailable: bool = False

    @property
    def price(self) -> Decimal | None:
        return None if self.latest is None or self.stale else self.latest.price

    @property
    def text(self) -> str:
        if self.unavailable:
            return "price store unavailable"
        if self.latest is None:
            return "no price yet"
        if self.stale:
            return f"stale (last trade {self.latest.age_seconds:.0f} s ago)"
        return format_price(self.latest.price)


def price_views(symbols) -> dict[str, PriceView]:
    """The latest price of each symbol from the price store; older than FEED_STALE_SECONDS is stale."""
    views = {}
    for symbol in sorted(set(symbols)):
        try:
            latest = latest_price(symbol)
        except redis.RedisError:
            views[symbol] = PriceView(symbol, None, stale=True, unavailable=True)
            continue
        stale = latest is not None and latest.age_seconds > settings.FEED_STALE_SECONDS
        views[symbol] = PriceView(symbol, latest, stale=stale)
    return views


def distance_percent(target: Decimal | None, price: Decimal | None) -> str:
    """How far the target is from the price, in percent of the price: "+1.23%" (above it), "-0.40%"."""
    if target is None or price is None or price <= 0:
        return "n/a"  # no price yet, or a window alert (no price target)
    distance = ((Decimal(target) - price) / price * 100).quantize(Decimal("0.01"))
    if distance == 0:
        return "0.00%"  # not "-0.00%" for a target a hair under the price
    return f"{'+' if distance > 0 else ''}{distance}%"


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert: object
    condition: str
    price: PriceView
    distance: str
    status: str
    status_words: str

    @property
    def id(self):
        return _get(self.alert, "id")

    @property
    def symbol(self):
        return _get(self.alert, "symbol")

    @property
    def last_fired(self):
        return _get(self.alert, "last_triggered_at") or _get(self.alert, "triggered_at")

    @property
    def editable(self) -> bool:
        return self.status in Alert.ACTIVE_STATUSES

    @property
    def snoozable(self) -> bool:
        return self.status in Alert.EDITABLE_STATUSES

    @property
    def group_id(self):
        return _get(self.alert, "group_id")

    @property
    def snoozed_until(self):
        """When the alert's snooze ends, if it is snoozed now (a past snooze is no snooze)."""
        until = _get(self.alert, "snoozed_until")
        return until if until is not None and until > timezone.now() else None

    @property
    def rearmable(self) -> bool:
        return self.status in (Alert.Status.TRIGGERED, Alert.Status.EXPIRED)


def alert_rows(alerts) -> list[AlertRow]:
    """Each alert (a dict of the list page or a model) with its words, live price and distance."""
    prices = price_views(_get(alert, "symbol") for alert in alerts)
    rows = []
    for alert in alerts:
        status = _get(alert, "status")
        view = prices[_get(alert, "symbol")]
        rows.append(
            AlertRow(
                alert=alert,
                condition=condition(alert),
                price=view,
                distance=distance_percent(_get(alert, "target_price"), view.price),
                status=status,
                status_words=status_words(status),
            )
        )
    return rows


def delivery_reason(notification) -> str:
    """Why a delivery was not sent (yet), in words; "" for one that was tried."""
    status = notification.status
    if status == Notification.Status.SNOOZED:
        return "the alert was snoozed when it fired: recorded, never sent"
    if status == Notification.Status.HELD:
        until = notification.held_until
        when = f" at {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if until else ""
        return f"in the channel's quiet hours: sent in one digest when they end{when}"
    if status == Notification.Status.UNCONFIRMED:
        return "the address is not confirmed yet: sent once it is"
    if status == Notification.Status.SUPPRESSED:
        return "over your notifications-per-hour cap: recorded, never sent"
    return ""
