"""Writes of alerts: create, update, soft-delete, and the admin's bulk re-arm/delete.

Every function that changes a user's alerts calls ``invalidate_alert_lists``
inside its transaction, so the cached list pages are dropped on commit.
"""

from decimal import Decimal

import redis
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from alerts.cache import invalidate_alert_lists
from alerts.models import Alert
from feeds.models import Symbol
from feeds.selectors import symbol_get
from feeds.store import latest_price


class AlertNotEditable(Exception):
    """The alert is no longer waiting (triggered or deleted), so it cannot be changed."""


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _trading_symbol(symbol: str) -> Symbol:
    listing = symbol_get(symbol)
    if listing is None:
        raise ValidationError({"symbol": f"Unknown symbol {symbol}: not a Binance spot symbol."})
    if not listing.is_trading:
        raise ValidationError(
            {"symbol": f"Symbol {symbol} is not trading on Binance right now (status {listing.status})."}
        )
    return listing


def _check_target_price(listing: Symbol, target_price: Decimal) -> None:
    if not target_price.is_finite() or target_price <= 0:
        raise ValidationError({"target_price": "Must be greater than 0."})
    # Binance's PRICE_FILTER: a bound of 0 means that side is not limited.
    if listing.min_price and target_price < listing.min_price:
        raise ValidationError(
            {"target_price": f"Must be at least {_plain(listing.min_price)} for {listing.symbol}."}
        )
    if listing.max_price and target_price > listing.max_price:
        raise ValidationError(
            {"target_price": f"Must be at most {_plain(listing.max_price)} for {listing.symbol}."}
        )


def _inferred_direction(symbol: str, target_price: Decimal) -> str:
    try:
        latest = latest_price(symbol)
    except redis.RedisError:
        latest = None
    if latest is None:
        raise ValidationError(
            {
                "direction": f"No price is known for {symbol} yet, so the direction cannot be inferred: "
                'send "direction": "above" or "below".'
            }
        )
    if target_price == latest.price:
        raise ValidationError(
            {
                "direction": f"The target equals the current price of {symbol} ({_plain(latest.price)}): "
                'send "direction": "above" or "below".'
            }
        )
    return Alert.Direction.ABOVE if target_price > latest.price else Alert.Direction.BELOW


def alert_create(*, user, symbol: str, target_price: Decimal, direction: str | None = None) -> Alert:
    """A waiting alert for a trading symbol; without a direction, it is inferred from the latest price."""
    symbol = symbol.strip().upper()
    listing = _trading_symbol(symbol)
    _check_target_price(listing, target_price)
    if direction is None:
        direction = _inferred_direction(symbol, target_price)
    elif direction not in Alert.Direction.values:
        raise ValidationError({"direction": 'Must be "above" or "below".'})
    with transaction.atomic():
        alert = Alert.objects.create(user=user, symbol=symbol, direction=direction, target_price=target_price)
        invalidate_alert_lists([user.pk])
    return alert


def alert_update(*, alert: Alert, target_price: Decimal | None = None, direction: str | None = None) -> Alert:
    """Change the target and/or direction of a waiting alert.

    Raises AlertNotEditable once the alert has triggered or been deleted, even
    if that happened a moment ago in another process: the write is conditional
    on the alert still waiting, so it can never re-arm a triggered alert.
    """
    if alert.status != Alert.Status.CREATED:
        raise AlertNotEditable(f"Only a waiting alert can be changed; this one is {alert.status}.")
    changes = {}
    if target_price is not None:
        _check_target_price(_trading_symbol(alert.symbol), target_price)
        changes["target_price"] = target_price
    if direction is not None:
        if direction not in Alert.Direction.values:
            raise ValidationError({"direction": 'Must be "above" or "below".'})
        changes["direction"] = direction
    with transaction.atomic():
        waiting = Alert.objects.filter(pk=alert.pk, status=Alert.Status.CREATED)
        changed = waiting.update(**changes) if changes else waiting.exists()
        if not changed:
            alert.refresh_from_db(fields=["status"])
            raise AlertNotEditable(f"Only a waiting alert can be changed; this one is {alert.status}.")
        if changes:
            invalidate_alert_lists([alert.user_id])
    alert.refresh_from_db()
    return alert


def alert_delete(*, alert: Alert) -> None:
    """Soft delete: the alert stops waiting and leaves the default list. Deleting twice is harmless."""
    # One statement, so no transaction of its own (it would cost BEGIN and COMMIT round
    # trips on the busiest write): the list cache is bumped once it commits, by itself
    # or with the caller's transaction. Either way the row ends up deleted.
    if (
        Alert.objects.filter(pk=alert.pk)
        .exclude(status=Alert.Status.DELETED)
        .update(status=Alert.Status.DELETED)
    ):
        invalidate_alert_lists([alert.user_id])
    alert.status = Alert.Status.DELETED


def _bulk_set(alerts: QuerySet[Alert], *, exclude_status: str, **values) -> int:
    with transaction.atomic():
        rows = list(alerts.exclude(status=exclude_status).values_list("pk", "user_id"))
        # Conditional on the status again: a row another process changed since the read is left alone.
        changed = (
            Alert.objects.filter(pk__in=[pk for pk, _ in rows])
            .exclude(status=exclude_status)
            .update(**values)
        )
        invalidate_alert_lists({user_id for _, user_id in rows})
    return changed


def alerts_rearm(*, alerts: QuerySet[Alert]) -> int:
    """Put triggered or deleted alerts back to waiting (admin action). Returns how many changed."""
    return _bulk_set(
        alerts,
        exclude_status=Alert.Status.CREATED,
        status=Alert.Status.CREATED,
        triggered_at=None,
        triggered_price=None,
    )


def alerts_soft_delete(*, alerts: QuerySet[Alert]) -> int:
    """Soft-delete many alerts at once (admin action). Returns how many changed."""
    return _bulk_set(alerts, exclude_status=Alert.Status.DELETED, status=Alert.Status.DELETED)
