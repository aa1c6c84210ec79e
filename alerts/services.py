"""Writes of alerts: create (absolute, percent, cross; repeat, expiry, note, channels), update,
soft-delete, and the admin's bulk re-arm/delete.

Every function that changes a user's alerts calls ``invalidate_alert_lists``
inside its transaction, so the cached list pages are dropped on commit.
"""

from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone

from alerts.cache import invalidate_alert_lists
from alerts.models import (
    DEFAULT_REARM_PERCENT,
    MAX_DB_ID,
    MIN_COOLDOWN_SECONDS,
    NOTE_MAX_LENGTH,
    PRICE_DECIMALS,
    Alert,
    Channel,
)
from feeds.models import Symbol
from feeds.prices import PriceUnavailable, current_price
from feeds.selectors import symbol_get
from feeds.store import announce_symbols


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


def _check_target_price(listing: Symbol, target_price: Decimal, *, field: str = "target_price") -> None:
    what = "" if field == "target_price" else f"The target ({_plain(target_price)}) "
    if not target_price.is_finite() or target_price <= 0:
        raise ValidationError({field: f"{what}Must be greater than 0."})
    # Binance's PRICE_FILTER: a bound of 0 means that side is not limited.
    if listing.min_price and target_price < listing.min_price:
        raise ValidationError(
            {field: f"{what}Must be at least {_plain(listing.min_price)} for {listing.symbol}."}
        )
    if listing.max_price and target_price > listing.max_price:
        raise ValidationError(
            {field: f"{what}Must be at most {_plain(listing.max_price)} for {listing.symbol}."}
        )


def _inferred_direction(symbol: str, target_price: Decimal) -> str:
    try:
        price = current_price(symbol)
    except PriceUnavailable as exc:
        raise ValidationError(
            {"direction": f'{exc} The direction cannot be inferred: send "direction": "above" or "below".'}
        ) from exc
    if target_price == price:
        raise ValidationError(
            {
                "direction": f"The target equals the current price of {symbol} ({_plain(price)}): "
                'send "direction": "above" or "below".'
            }
        )
    return Alert.Direction.ABOVE if target_price > price else Alert.Direction.BELOW


class AlertLimitReached(Exception):
    """The user already has as many active alerts as the setting allows."""


def _latest_price(symbol: str, purpose: str) -> Decimal:
    try:
        return current_price(symbol)
    except PriceUnavailable as exc:
        raise ValidationError({purpose: f"{exc} Try again in a moment."}) from exc


def percent_target(reference: Decimal, change_percent: Decimal) -> Decimal:
    """The absolute target ``change_percent`` % away from ``reference``, exact to 8 decimals.

    Rounded outward (a rise up, a fall down), so the alert never fires on a
    move smaller than the one asked for.
    """
    exact = reference * (100 + change_percent) / 100
    rounding = ROUND_CEILING if change_percent > 0 else ROUND_FLOOR
    return exact.quantize(Decimal(1).scaleb(-PRICE_DECIMALS), rounding=rounding)


def rearm_price(target_price: Decimal, direction: str, rearm_percent: Decimal) -> Decimal:
    """The price a fired repeating alert's market must pass (strictly) to re-arm: exact."""
    sign = -1 if direction == Alert.Direction.ABOVE else 1
    return target_price * (100 + sign * rearm_percent) / 100


def _check_repeat(repeat: str, cooldown_seconds: int | None, rearm_percent: Decimal) -> int | None:
    if repeat not in Alert.Repeat.values:
        raise ValidationError({"repeat": 'Must be "once" or "every".'})
    if not rearm_percent.is_finite() or not 0 <= rearm_percent < 100:
        raise ValidationError({"rearm_percent": "Must be at least 0 and less than 100."})
    if repeat == Alert.Repeat.ONCE:
        if cooldown_seconds is not None:
            raise ValidationError({"cooldown_seconds": 'Only a repeating alert ("repeat": "every") has one.'})
        return None
    if cooldown_seconds is None:
        raise ValidationError({"cooldown_seconds": 'Required with "repeat": "every" (at least 60).'})
    if cooldown_seconds < MIN_COOLDOWN_SECONDS:
        raise ValidationError({"cooldown_seconds": f"Must be at least {MIN_COOLDOWN_SECONDS} seconds."})
    return cooldown_seconds


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "Must be in the future."})


def _owned_channels(user, channel_ids: list[int] | None) -> list[Channel]:
    if not channel_ids:
        return []
    ids = set(channel_ids)
    channels = list(Channel.objects.filter(user=user, pk__in=[i for i in ids if 0 < i <= MAX_DB_ID]))
    missing = sorted(ids - {channel.pk for channel in channels})
    if missing:
        raise ValidationError({"channels": f"No channel with id {missing[0]} belongs to you."})
    return channels


def alert_check(
    *,
    symbol: str,
    user=None,
    target_price: Decimal | None = None,
    repeat: str | None = None,
    cooldown_seconds: int | None = None,
    rearm_percent: Decimal = DEFAULT_REARM_PERCENT,
    expires_at: datetime | None = None,
) -> None:
    """alert_create's checks of the fields given (None: not checked), without writing; every problem at once.

    ``user``: also the per-user cap of active alerts (a new alert).

    The admin's alert form runs them to show refusals in words before it saves
    through alert_create or alert_update (which check again).
    """
    checks = [lambda: _trading_symbol(symbol.strip().upper())]
    if target_price is not None:
        checks[0] = lambda: _check_target_price(_trading_symbol(symbol.strip().upper()), target_price)
    if repeat is not None:
        checks.append(lambda: _check_repeat(repeat, cooldown_seconds, rearm_percent))
    checks.append(lambda: _check_expiry(expires_at))
    errors: dict = {}
    for check in checks:
        try:
            check()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if user is not None:
        try:
            _check_cap(user)
        except AlertLimitReached as exc:
            errors["user"] = [str(exc)]
    if errors:
        raise ValidationError(errors)


def _resolve_target(
    symbol: str,
    target_price: Decimal | None,
    change_percent: Decimal | None,
    direction: str | None,
) -> tuple[Decimal, str, bool, Decimal | None]:
    """(target, side, crossing, reference) from what the user sent."""
    if (target_price is None) == (change_percent is None):
        raise ValidationError({"target_price": "Send exactly one of target_price and change_percent."})
    if direction is not None and direction not in Alert.DIRECTION_WORDS:
        raise ValidationError({"direction": 'Must be "above", "below" or "cross".'})
    if change_percent is not None:
        if not change_percent.is_finite() or change_percent == 0 or change_percent <= -100:
            raise ValidationError({"change_percent": "Must be non-zero and greater than -100."})
        side = Alert.Direction.ABOVE if change_percent > 0 else Alert.Direction.BELOW
        if direction not in (None, Alert.CROSS, side):
            raise ValidationError(
                {"direction": f'A {"rise" if change_percent > 0 else "fall"} of the price is "{side}".'}
            )
        reference = _latest_price(symbol, "change_percent")
        return percent_target(reference, change_percent), side, direction == Alert.CROSS, reference
    if direction in (None, Alert.CROSS):
        return target_price, _inferred_direction(symbol, target_price), direction == Alert.CROSS, None
    return target_price, direction, False, None


def _lock_user(user) -> None:
    # Serializes this user's creates (PostgreSQL row lock; SQLite's write lock is global),
    # so concurrent requests cannot both pass the cap.
    type(user).objects.select_for_update().filter(pk=user.pk).exists()


def _check_cap(user, adding: int = 1) -> None:
    """The per-user cap of active alerts: ``adding`` more (a watchlist counts each symbol) must fit."""
    cap = settings.ALERTS_MAX_WAITING_PER_USER
    if cap <= 0:
        return
    active = Alert.objects.filter(user=user, status__in=Alert.ACTIVE_STATUSES).count()
    if active + adding > cap:
        if adding == 1:
            raise AlertLimitReached(
                f"You have {cap} active alerts, the most allowed: "
                "delete one or wait for one to fire or expire."
            )
        raise AlertLimitReached(
            f"You have {active} active alerts and these {adding} would pass the limit of {cap}: "
            "nothing was created or resumed."
        )


def alert_common_fields(
    *,
    user,
    repeat: str = Alert.Repeat.ONCE,
    cooldown_seconds: int | None = None,
    rearm_percent: Decimal = DEFAULT_REARM_PERCENT,
    expires_at: datetime | None = None,
    note: str = "",
    channels: list[int] | None = None,
) -> tuple[dict, list[Channel]]:
    """The checked columns every alert of one request shares, and the channels it names."""
    cooldown_seconds = _check_repeat(repeat, cooldown_seconds, rearm_percent)
    _check_expiry(expires_at)
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"At most {NOTE_MAX_LENGTH} characters."})
    chosen = _owned_channels(user, channels)
    fields = {
        "repeat": repeat,
        "cooldown_seconds": cooldown_seconds,
        "rearm_percent": rearm_percent,
        "expires_at": expires_at,
        "note": note,
    }
    return fields, chosen


def alert_symbol_fields(
    *,
    symbol: str,
    target_price: Decimal | None = None,
    direction: str | None = None,
    change_percent: Decimal | None = None,
) -> dict:
    """One symbol's checked target columns: its own latest price resolves a percent target or a
    missing direction (feeds.prices: the feeder's price if fresh, else Binance REST)."""
    symbol = symbol.strip().upper()
    listing = _trading_symbol(symbol)
    target, side, crossing, reference = _resolve_target(symbol, target_price, change_percent, direction)
    _check_target_price(
        listing, target, field="change_percent" if change_percent is not None else "target_price"
    )
    return {
        "symbol": symbol,
        "direction": side,
        "target_price": target,
        "crossing": crossing,
        "reference_price": reference,
        "change_percent": change_percent,
    }


def alert_insert(*, user, common: dict, target: dict, channels: list[Channel], group=None) -> Alert:
    """Write one checked alert (inside the caller's transaction, after its cap check)."""
    alert = Alert.objects.create(
        user=user,
        group=group,
        rearm_price=rearm_price(target["target_price"], target["direction"], common["rearm_percent"]),
        armed_at=timezone.now(),
        **common,
        **target,
    )
    if channels:
        alert.channels.set(channels)
    return alert


def alert_create(
    *,
    user,
    symbol: str,
    target_price: Decimal | None = None,
    direction: str | None = None,
    change_percent: Decimal | None = None,
    repeat: str = Alert.Repeat.ONCE,
    cooldown_seconds: int | None = None,
    rearm_percent: Decimal = DEFAULT_REARM_PERCENT,
    expires_at: datetime | None = None,
    note: str = "",
    channels: list[int] | None = None,
) -> Alert:
    """A waiting alert for a trading symbol.

    The target is absolute (``target_price``) or a percent move from the latest
    price (``change_percent``). Without a direction, or with "cross", the side is
    fixed from the latest price. Raises AlertLimitReached at the per-user cap.
    """
    _trading_symbol(symbol.strip().upper())
    common, chosen = alert_common_fields(
        user=user,
        repeat=repeat,
        cooldown_seconds=cooldown_seconds,
        rearm_percent=rearm_percent,
        expires_at=expires_at,
        note=note,
        channels=channels,
    )
    target = alert_symbol_fields(
        symbol=symbol, target_price=target_price, direction=direction, change_percent=change_percent
    )
    with transaction.atomic():
        _lock_user(user)
        _check_cap(user)
        alert = alert_insert(user=user, common=common, target=target, channels=chosen)
        invalidate_alert_lists([user.pk])
        _follow_on_commit({target["symbol"]})
    return alert


def window_alert_fields(
    *,
    user,
    window: str,
    move_percent: Decimal | None = None,
    direction: str | None = None,
    volume_quote: Decimal | None = None,
    repeat: str = Alert.Repeat.ONCE,
    cooldown_seconds: int | None = None,
    expires_at: datetime | None = None,
    note: str = "",
    channels: list[int] | None = None,
) -> tuple[dict, list[Channel]]:
    """A window alert's checked columns, every one but the symbol, and the owner's channels it names."""
    if (move_percent is None) == (volume_quote is None):
        raise ValidationError(
            {"move_percent": "Send move_percent (a move) or volume_quote (a volume spike)."}
        )
    if window not in Alert.WINDOWS:
        raise ValidationError({"window": f"One of {', '.join(Alert.WINDOWS)}."})
    if move_percent is not None and direction not in Alert.MoveDirection.values:
        raise ValidationError({"direction": 'Must be "up", "down" or "either".'})
    cooldown_seconds = _check_repeat(repeat, cooldown_seconds, DEFAULT_REARM_PERCENT)
    _check_expiry(expires_at)
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"At most {NOTE_MAX_LENGTH} characters."})
    chosen = _owned_channels(user, channels)
    kind = Alert.Kind.MOVE if move_percent is not None else Alert.Kind.VOLUME
    fields = {
        "kind": kind,
        # Never read for the window kinds: "below" only for a move down, so lists sort sensibly.
        "direction": Alert.Direction.BELOW
        if direction == Alert.MoveDirection.DOWN
        else Alert.Direction.ABOVE,
        "target_price": None,
        "window_seconds": Alert.WINDOWS[window],
        "move_percent": move_percent,
        "move_direction": direction if kind == Alert.Kind.MOVE else None,
        "volume_quote": volume_quote,
        "repeat": repeat,
        "cooldown_seconds": cooldown_seconds,
        "expires_at": expires_at,
        "note": note,
    }
    return fields, chosen


def window_alert_insert(*, user, symbol: str, fields: dict, channels: list[Channel], group=None) -> Alert:
    """Write one checked window alert (inside the caller's transaction, after its cap check)."""
    alert = Alert.objects.create(user=user, symbol=symbol, group=group, armed_at=timezone.now(), **fields)
    if channels:
        alert.channels.set(channels)
    return alert


def window_alert_create(*, user, symbol: str, **window) -> Alert:
    """A waiting window alert (issue 18): a move within ``window`` (``move_percent`` and
    ``direction`` up/down/either) or a volume spike (``volume_quote``), for a trading symbol.

    Judged from the price history (alerts.engine.windows); counts against the same per-user cap.
    ``window``: the keyword arguments of ``window_alert_fields``.
    """
    symbol = symbol.strip().upper()
    _trading_symbol(symbol)
    fields, chosen = window_alert_fields(user=user, **window)
    with transaction.atomic():
        _lock_user(user)
        _check_cap(user)
        alert = window_alert_insert(user=user, symbol=symbol, fields=fields, channels=chosen)
        invalidate_alert_lists([user.pk])
        _follow_on_commit({symbol})
    return alert


_UNSET = object()


def _repeat_changes(
    alert: Alert, repeat: str | None, cooldown_seconds, rearm_percent: Decimal | None
) -> dict:
    """The column changes for a new repeat, cooldown or re-arm band (checked like on create).

    A new cooldown moves a re-arming alert's end of cooldown by the difference (it
    still counts from the firing); a repeating alert made one-shot while it waits
    to re-arm has fired for the last time: it becomes ``triggered``.
    """
    if repeat is None and cooldown_seconds is _UNSET and rearm_percent is None:
        return {}
    new_repeat = repeat or alert.repeat
    if cooldown_seconds is _UNSET:
        cooldown_seconds = alert.cooldown_seconds if new_repeat == Alert.Repeat.EVERY else None
    new_percent = alert.rearm_percent if rearm_percent is None else rearm_percent
    cooldown = _check_repeat(new_repeat, cooldown_seconds, new_percent)
    changes: dict = {"repeat": new_repeat, "cooldown_seconds": cooldown, "rearm_percent": new_percent}
    if new_repeat == Alert.Repeat.ONCE:
        changes.update(
            status=Case(
                When(status=Alert.Status.REARMING, then=Value(Alert.Status.TRIGGERED)), default=F("status")
            ),
            rearm_after_ms=None,
        )
    elif alert.cooldown_seconds is not None:
        changes["rearm_after_ms"] = F("rearm_after_ms") + (cooldown - alert.cooldown_seconds) * 1000
    return changes


def alert_update(
    *,
    alert: Alert,
    target_price: Decimal | None = None,
    direction: str | None = None,
    note: str | None = None,
    expires_at=_UNSET,
    repeat: str | None = None,
    cooldown_seconds=_UNSET,
    rearm_percent: Decimal | None = None,
    channels: list[int] | None = None,
) -> Alert:
    """Change a waiting (or re-arming) alert: target, direction, note, expiry, repeat or channels.

    A new target or direction re-arms it from now (``armed_at``): it fires only
    on prices seen after the change, and a re-arming alert waits again. Raises
    AlertNotEditable once the alert has triggered, expired or been deleted, even
    if that happened a moment ago in another process: the write is conditional
    on the alert still being active, so it can never revive a finished alert.
    ``channels``: the ids to notify from now on (empty: all enabled ones).
    """
    if alert.status not in Alert.EDITABLE_STATUSES:
        raise AlertNotEditable(f"Only a waiting alert can be changed; this one is {alert.status}.")
    if alert.kind in Alert.WINDOW_KINDS:
        given = {"target_price": target_price, "direction": direction, "rearm_percent": rearm_percent}
        refused = {
            name: "A window alert has no price target; create a new alert instead."
            for name, value in given.items()
            if value is not None
        }
        if refused:
            raise ValidationError(refused)
    changes: dict = {}
    side = alert.direction
    target = alert.target_price
    if direction is not None and direction not in Alert.DIRECTION_WORDS:
        raise ValidationError({"direction": 'Must be "above", "below" or "cross".'})
    if target_price is not None:
        _check_target_price(_trading_symbol(alert.symbol), target_price)
        target = target_price
    if direction == Alert.CROSS or (direction is None and target_price is not None and alert.crossing):
        side = _inferred_direction(alert.symbol, target)
        changes["crossing"] = True
    elif direction is not None:
        side = direction
        changes["crossing"] = False
    changes.update(_repeat_changes(alert, repeat, cooldown_seconds, rearm_percent))
    percent = changes.get("rearm_percent", alert.rearm_percent)
    if target_price is not None or direction is not None:
        changes.update(
            target_price=target,
            direction=side,
            armed_at=timezone.now(),
            # A paused alert stays paused (alerts.groups resumes it).
            status=Case(
                When(status=Alert.Status.PAUSED, then=Value(Alert.Status.PAUSED)),
                default=Value(Alert.Status.CREATED),
            ),
            rearm_after_ms=None,
        )
    if target_price is not None or direction is not None or rearm_percent is not None:
        changes["rearm_price"] = rearm_price(target, side, percent)
        if target_price is not None:
            # An absolute target replaces the percent the user first asked for.
            changes.update(reference_price=None, change_percent=None)
    if note is not None:
        if len(note) > NOTE_MAX_LENGTH:
            raise ValidationError({"note": f"At most {NOTE_MAX_LENGTH} characters."})
        changes["note"] = note
    if expires_at is not _UNSET:
        _check_expiry(expires_at)
        changes["expires_at"] = expires_at
    chosen = _owned_channels(alert.user, channels) if channels is not None else None
    with transaction.atomic():
        active = Alert.objects.filter(pk=alert.pk, status__in=Alert.EDITABLE_STATUSES)
        changed = active.update(**changes) if changes else active.exists()
        if not changed:
            alert.refresh_from_db(fields=["status"])
            raise AlertNotEditable(f"Only a waiting alert can be changed; this one is {alert.status}.")
        if chosen is not None:
            alert.channels.set(chosen)
        if changes or chosen is not None:
            invalidate_alert_lists([alert.user_id])
        if "armed_at" in changes:
            _follow_on_commit({alert.symbol})
    alert.refresh_from_db()
    return alert


MAX_SNOOZE_DAYS = 366


def alert_snooze(*, alert: Alert, until: datetime | None) -> Alert:
    """Pause the notifications of one alert until ``until`` (None: end the snooze now).

    The alert goes on being evaluated: a firing while snoozed is recorded (its
    notifications are "snoozed" rows, never sent: alerts.delivery.outbox), so
    trigger_count and last_triggered_at move and a one-shot alert ends as usual.
    When the snooze ends nothing recorded is sent late; later firings are
    delivered as usual. Raises AlertNotEditable for a finished alert.
    """
    if until is not None:
        now = timezone.now()
        if until <= now:
            raise ValidationError({"until": "Must be in the future (or null to end the snooze)."})
        if until > now + timedelta(days=MAX_SNOOZE_DAYS):
            raise ValidationError({"until": f"At most {MAX_SNOOZE_DAYS} days from now."})
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, status__in=Alert.EDITABLE_STATUSES).update(
            snoozed_until=until
        )
        if not changed:
            alert.refresh_from_db(fields=["status"])
            raise AlertNotEditable(f"Only a waiting alert can be snoozed; this one is {alert.status}.")
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
    """Put fired, expired or deleted alerts back to waiting, armed from now (admin action).

    Returns how many changed. A past expiry is cleared, or the alert would
    expire again at the next tick.
    """
    now = timezone.now()
    with transaction.atomic():
        changed = _bulk_set(
            alerts,
            exclude_status=Alert.Status.CREATED,
            status=Alert.Status.CREATED,
            triggered_at=None,
            triggered_price=None,
            armed_at=now,
            rearm_after_ms=None,
        )
        Alert.objects.filter(
            pk__in=alerts.values("pk"), status=Alert.Status.CREATED, expires_at__lte=now
        ).update(expires_at=None)
        if changed:
            _follow_on_commit(set(alerts.values_list("symbol", flat=True)))
    return changed


def _follow_on_commit(symbols: set[str]) -> None:
    """Once committed, the feeder follows these symbols within ~100 ms, not at its next refresh."""
    transaction.on_commit(lambda: announce_symbols(symbols))


def alerts_soft_delete(*, alerts: QuerySet[Alert]) -> int:
    """Soft-delete many alerts at once (admin action). Returns how many changed."""
    return _bulk_set(alerts, exclude_status=Alert.Status.DELETED, status=Alert.Status.DELETED)


def lock_for_hard_delete(alerts: QuerySet) -> None:
    """Lock these alerts' rows (in the caller's transaction) before Django's cascade deletes them.

    Notification rows have no database constraint on their alert (alerts.models),
    so a firing must not land between the cascade's collection of an alert's
    notifications and the alert's delete: the engine's trigger UPDATE holds the
    row lock until it commits its notifications, so taking the lock first waits
    for it (and the cascade then sees its rows), or makes a later firing wait
    and find the alert gone. On SQLite, whose writers take turns, nothing to do.
    """
    list(alerts.select_for_update().values_list("pk", flat=True))
