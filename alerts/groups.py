"""Watchlists: one rule over many symbols, one alert per symbol, managed together (an AlertGroup).

``POST /alerts/`` with ``"symbols": [...]`` instead of ``"symbol"`` makes a group:
every symbol is checked, and a percent target resolved from that symbol's own
latest price (``feeds.prices.current_price``: the feeder's price if fresh, else
Binance REST), before anything is written; then one transaction locks the
user, checks the per-user cap counting every symbol, and writes the group and
all its alerts, or nothing. Each alert fires on its own, exactly like one made
alone. ``/alert-groups/<id>`` changes, pauses, resumes, snoozes or deletes them
all at once, in one transaction each: a change one symbol refuses changes none.

Paused alerts (status ``paused``) are neither evaluated nor followed by the
feeder and do not count toward the cap; resuming checks the cap again (all or
nothing) and re-arms them from now, so they fire only on prices after the
resume (one whose expiry passed meanwhile becomes ``expired``).
"""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from alerts.cache import invalidate_alert_lists
from alerts.models import DEFAULT_REARM_PERCENT, MAX_DB_ID, Alert, AlertGroup
from alerts.services import (
    AlertNotEditable,
    _check_cap,
    _follow_on_commit,
    _lock_user,
    _trading_symbol,
    alert_common_fields,
    alert_insert,
    alert_symbol_fields,
    alert_update,
    rearm_price,
    window_alert_fields,
    window_alert_insert,
)

UNSET = object()


class GroupNotEditable(Exception):
    """Nothing in the group can change any more: every alert in it has fired, expired or been deleted."""


def _per_symbol(exc: ValidationError, index: int, symbol: str) -> ValidationError:
    """A symbol's refusal, named by its place in ``symbols`` (or by the field, with the symbol said)."""
    errors: dict[str, list[str]] = {}
    for field, messages in exc.message_dict.items():
        key = f"symbols.{index}" if field == "symbol" else field
        errors.setdefault(key, []).extend(f"{symbol}: {message}" for message in messages)
    return ValidationError(errors)


def check_symbols(symbols: list[str]) -> list[str]:
    """The symbols upper-cased, or a ValidationError: none, too many, a repeat."""
    cap = settings.ALERTS_MAX_SYMBOLS_PER_GROUP
    if not symbols:
        raise ValidationError({"symbols": "Send at least one symbol."})
    if cap > 0 and len(symbols) > cap:
        raise ValidationError({"symbols": f"At most {cap} symbols in one watchlist ({len(symbols)} sent)."})
    cleaned: list[str] = []
    for index, symbol in enumerate(symbols):
        symbol = symbol.strip().upper()
        if symbol in cleaned:
            raise ValidationError({f"symbols.{index}": f"{symbol} is listed twice."})
        cleaned.append(symbol)
    return cleaned


def _trading_symbols(symbols: list[str]) -> list[str]:
    """The watchlist's symbols, checked: no repeats, each one trading (every refusal named by its item)."""
    symbols = check_symbols(symbols)
    errors: dict = {}
    for index, symbol in enumerate(symbols):
        try:
            _trading_symbol(symbol)
        except ValidationError as exc:
            errors.update(_per_symbol(exc, index, symbol).message_dict)
    if errors:
        raise ValidationError(errors)
    return symbols


def alert_group_create(
    *,
    user,
    symbols: list[str],
    target_price: Decimal | None = None,
    direction: str | None = None,
    change_percent: Decimal | None = None,
    repeat: str = Alert.Repeat.ONCE,
    cooldown_seconds: int | None = None,
    rearm_percent: Decimal = DEFAULT_REARM_PERCENT,
    expires_at: datetime | None = None,
    note: str = "",
    channels: list[int] | None = None,
) -> AlertGroup:
    """A watchlist: one waiting alert per symbol, all or none. Raises AlertLimitReached when the
    user's active alerts plus these would pass ALERTS_MAX_WAITING_PER_USER."""
    symbols = _trading_symbols(symbols)
    common, chosen = alert_common_fields(
        user=user,
        repeat=repeat,
        cooldown_seconds=cooldown_seconds,
        rearm_percent=rearm_percent,
        expires_at=expires_at,
        note=note,
        channels=channels,
    )
    targets = []
    for index, symbol in enumerate(symbols):
        try:
            targets.append(
                alert_symbol_fields(
                    symbol=symbol,
                    target_price=target_price,
                    direction=direction,
                    change_percent=change_percent,
                )
            )
        except ValidationError as exc:
            # The first symbol that cannot have its alert: nothing is created, so say it at once
            # (with Binance REST down, each further percent target would wait for its timeout too).
            raise _per_symbol(exc, index, symbol) from exc
    with transaction.atomic():
        _lock_user(user)
        _check_cap(user, adding=len(targets))
        group = AlertGroup.objects.create(user=user)
        for target in targets:
            alert_insert(user=user, common=common, target=target, channels=chosen, group=group)
        invalidate_alert_lists([user.pk])
        _follow_on_commit(set(symbols))
    return group


def window_alert_group_create(*, user, symbols: list[str], **window) -> AlertGroup:
    """A watchlist of window alerts ("any of these ten coins down 8% within 24h"): one move or
    volume-spike alert per symbol, all or none, each judged on its own symbol's history.
    ``window``: the keyword arguments of ``alerts.services.window_alert_fields``."""
    symbols = _trading_symbols(symbols)
    fields, chosen = window_alert_fields(user=user, **window)
    with transaction.atomic():
        _lock_user(user)
        _check_cap(user, adding=len(symbols))
        group = AlertGroup.objects.create(user=user)
        for symbol in symbols:
            window_alert_insert(user=user, symbol=symbol, fields=fields, channels=chosen, group=group)
        invalidate_alert_lists([user.pk])
        _follow_on_commit(set(symbols))
    return group


def _editable(group: AlertGroup) -> list[Alert]:
    return list(group.alerts.filter(status__in=Alert.EDITABLE_STATUSES).order_by("id"))


def _retarget(alert: Alert, change_percent: Decimal, direction: str | None) -> None:
    """A new percent target for one alert, from its own symbol's latest price; re-armed from now."""
    target = alert_symbol_fields(symbol=alert.symbol, change_percent=change_percent, direction=direction)
    changed = Alert.objects.filter(pk=alert.pk, status__in=Alert.EDITABLE_STATUSES).update(
        **target,
        rearm_price=rearm_price(target["target_price"], target["direction"], alert.rearm_percent),
        armed_at=timezone.now(),
        status=Case(
            When(status=Alert.Status.PAUSED, then=Value(Alert.Status.PAUSED)),
            default=Value(Alert.Status.CREATED),
        ),
        rearm_after_ms=None,
    )
    if not changed:
        raise AlertNotEditable(f"Alert {alert.pk} ({alert.symbol}) has just fired, expired or been deleted.")


def _pause(group: AlertGroup) -> None:
    group.alerts.filter(status__in=Alert.ACTIVE_STATUSES).update(
        status=Alert.Status.PAUSED, rearm_after_ms=None
    )


def _resume(group: AlertGroup) -> None:
    now = timezone.now()
    paused = group.alerts.filter(status=Alert.Status.PAUSED)
    paused.filter(expires_at__lte=now).update(status=Alert.Status.EXPIRED)
    waking = list(paused.values_list("pk", "symbol"))
    if not waking:
        return
    _check_cap(group.user, adding=len(waking))
    Alert.objects.filter(pk__in=[pk for pk, _ in waking], status=Alert.Status.PAUSED).update(
        status=Alert.Status.CREATED, armed_at=now, rearm_after_ms=None
    )
    _follow_on_commit({symbol for _, symbol in waking})


def alert_group_update(
    *,
    group: AlertGroup,
    paused: bool | None = None,
    snoozed_until=UNSET,
    change_percent: Decimal | None = None,
    direction: str | None = None,
    **changes,
) -> AlertGroup:
    """Change every alert of the group that has not finished (waiting, re-arming or paused), in one
    transaction: the fields of PATCH /alerts/<id> (``changes``), a percent target resolved per
    symbol, a snooze, a pause or a resume (cap checked: AlertLimitReached). Alerts that fired for
    good, expired or were deleted are left as they are. Raises GroupNotEditable if none is left."""
    alerts = _editable(group)
    asked = changes or paused is not None or snoozed_until is not UNSET or change_percent is not None
    asked = asked or direction is not None
    if asked and not alerts:
        raise GroupNotEditable("Every alert of this watchlist has fired, expired or been deleted.")
    if snoozed_until is not UNSET and snoozed_until is not None and snoozed_until <= timezone.now():
        raise ValidationError({"snoozed_until": "Must be in the future (or null to end the snooze)."})
    with transaction.atomic():
        _lock_user(group.user)
        for alert in alerts:
            try:
                if change_percent is not None:
                    _retarget(alert, change_percent, direction)
                    alert.refresh_from_db()
                    if changes:
                        alert_update(alert=alert, **changes)
                elif changes or direction is not None:
                    alert_update(alert=alert, direction=direction, **changes)
            except ValidationError as exc:
                raise _per_symbol(exc, 0, alert.symbol) from exc
        if snoozed_until is not UNSET:
            group.alerts.filter(status__in=Alert.EDITABLE_STATUSES).update(snoozed_until=snoozed_until)
        if paused is True:
            _pause(group)
        elif paused is False:
            _resume(group)
        invalidate_alert_lists([group.user_id])
    return group


def alert_group_delete(*, group: AlertGroup) -> int:
    """Soft-delete every alert of the group and remove the group; returns how many alerts changed."""
    with transaction.atomic():
        deleted = group.alerts.exclude(status=Alert.Status.DELETED).update(status=Alert.Status.DELETED)
        invalidate_alert_lists([group.user_id])
        group.delete()
    return deleted


def alert_group_list(*, user):
    """The user's watchlists, newest first, with their alerts."""
    return AlertGroup.objects.filter(user=user).prefetch_related("alerts").order_by("-created_at", "-id")


def alert_group_get(*, user, group_id: int) -> AlertGroup | None:
    """The user's watchlist with this id; None for none or someone else's (both a 404)."""
    if not 0 < group_id <= MAX_DB_ID:
        return None
    return AlertGroup.objects.filter(user=user, pk=group_id).prefetch_related("alerts").first()
