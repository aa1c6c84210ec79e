"""Create, edit and duplicate an alert (/app/alerts/new, /app/alerts/<id>/edit), every kind the API has.

The form's fields are the API's (symbol or symbols, target_price or
change_percent, direction, move_percent, volume_quote, window, repeat,
cooldown_seconds, rearm_percent, expires_at, note, channels). ``kind`` picks
which of them a post sends: a price alert, a move within a window or a volume
spike (app.js shows only the chosen kind's fields; without script every field
shows and ``kind`` still decides). The post is checked by the serializer
``POST /alerts/`` picks for that kind (``create_input_serializer``) and saved by the
service it calls (``alert_create``, ``window_alert_create`` or, for a
watchlist, ``alert_group_create`` / ``window_alert_group_create``), whose
refusals show next to their field. A watchlist's answer is its page.
An edit sends only the fields the user changed, as a PATCH would, so saving
an unchanged target does not re-arm the alert.
"""

from datetime import UTC

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from alerts.channels import channel_list
from alerts.groups import alert_group_create, alert_group_get, window_alert_group_create
from alerts.models import DEFAULT_REARM_PERCENT, Alert
from alerts.serializers import (
    AlertCreateInputSerializer,
    AlertUpdateInputSerializer,
    MoveAlertCreateInputSerializer,
    VolumeAlertCreateInputSerializer,
)
from alerts.services import (
    AlertLimitReached,
    AlertNotEditable,
    alert_create,
    alert_update,
    window_alert_create,
)
from alerts.throttling import AlertCreateThrottle
from feeds.prices import PriceUnavailable
from feeds.prices import current_price as fresh_price
from feeds.selectors import symbol_get, symbol_search
from web.forms import NON_FIELD, field_errors, post_data, validated
from web.presenters import condition
from web.throttles import throttle_wait, too_many_errors, with_retry_after
from web.views.common import not_found, owned_alert, signed_in

# Fields an edit can change (the API's PATCH), and those a blank input sets to "none".
EDITABLE = (
    "target_price",
    "direction",
    "repeat",
    "cooldown_seconds",
    "rearm_percent",
    "expires_at",
    "note",
    "channels",
)
# A window alert has no price target: its edit changes only these (the API refuses the others).
WINDOW_EDITABLE = ("repeat", "cooldown_seconds", "expires_at", "note", "channels")
NULLABLE_WHEN_BLANK = ("expires_at", "cooldown_seconds")

# The fields each kind sends (besides symbol or symbols); the others in the post are left out.
COMMON = ("repeat", "cooldown_seconds", "expires_at", "note", "channels")
KIND_FIELDS = {
    Alert.Kind.PRICE: ("target_price", "change_percent", "direction", "rearm_percent", *COMMON),
    Alert.Kind.MOVE: ("move_percent", "direction", "window", *COMMON),
    Alert.Kind.VOLUME: ("volume_quote", "window", *COMMON),
}
# The serializer POST /alerts/ (create_input_serializer) checks each kind's body with.
KIND_SERIALIZERS = {
    Alert.Kind.PRICE: AlertCreateInputSerializer,
    Alert.Kind.MOVE: MoveAlertCreateInputSerializer,
    Alert.Kind.VOLUME: VolumeAlertCreateInputSerializer,
}
# Both direction selects are named "direction" (the API's name); without script both are posted,
# and the kind's own words pick its one.
DIRECTION_WORDS = {
    Alert.Kind.PRICE: ("", *Alert.DIRECTION_WORDS),
    Alert.Kind.MOVE: tuple(Alert.MoveDirection.values),
}


def _plain(value) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _local_input(value) -> str:
    """A datetime as a datetime-local input shows it (UTC, to the minute)."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _window_name(alert: Alert) -> str:
    return alert.window or ""


def form_values(alert: Alert) -> dict:
    """An alert's fields as the form's inputs show them (strings; channels a list of ids)."""
    window_kind = alert.kind in Alert.WINDOW_KINDS
    return {
        "kind": alert.kind,
        "symbol": alert.symbol,
        "symbols": "",
        "target_price": _plain(alert.target_price),
        "change_percent": "",
        "direction": alert.move_direction
        if window_kind
        else Alert.CROSS
        if alert.crossing
        else alert.direction,
        "move_percent": _plain(alert.move_percent),
        "volume_quote": _plain(alert.volume_quote),
        "window": _window_name(alert),
        "repeat": alert.repeat,
        "cooldown_seconds": "" if alert.cooldown_seconds is None else str(alert.cooldown_seconds),
        "rearm_percent": _plain(alert.rearm_percent),
        "expires_at": _local_input(alert.expires_at),
        "note": alert.note,
        "channels": [str(channel.pk) for channel in alert.channels.all()],
    }


def _duplicate_values(alert: Alert) -> dict:
    values = form_values(alert)
    if alert.change_percent is not None:
        # A copy of a percent alert moves from the price now, not from the old reference.
        values.update(target_price="", change_percent=_plain(alert.change_percent))
        if not alert.crossing:
            values["direction"] = ""
    if alert.expires_at is not None and alert.status == Alert.Status.EXPIRED:
        values["expires_at"] = ""
    return values


def _form_context(request, values: dict, errors: dict, *, alert: Alert | None = None) -> dict:
    symbol = values.get("symbol", "")
    return {
        "values": values,
        "errors": errors,
        "alert": alert,
        "condition": condition(alert) if alert is not None else "",
        "channels": list(channel_list(user=request.user)),
        "directions": [("", "from the current price"), *[(word, word) for word in Alert.DIRECTION_WORDS]],
        "kinds": Alert.Kind.choices,
        "kind": values.get("kind") or Alert.Kind.PRICE,
        "move_directions": Alert.MoveDirection.choices,
        "windows": list(Alert.WINDOWS),
        "repeats": Alert.Repeat.choices,
        "symbol": symbol.upper(),
        "default_rearm_percent": _plain(DEFAULT_REARM_PERCENT),
    }


def _kind(post) -> str:
    kind = post.get("kind", "")
    return kind if kind in KIND_FIELDS else Alert.Kind.PRICE


def _direction(post, kind: str) -> str:
    """The kind's own direction among the posted ones (else the first: the API words its refusal)."""
    posted = post.getlist("direction")
    return next(
        (value for value in posted if value in DIRECTION_WORDS.get(kind, ())), posted[0] if posted else ""
    )


def split_symbols(text: str) -> list[str]:
    """A watchlist as typed: symbols separated by commas, spaces or lines."""
    return [symbol for symbol in text.replace(",", " ").split() if symbol]


def _submitted(request) -> dict:
    names = ("symbol", "symbols", "target_price", "change_percent", "move_percent", "volume_quote", "window")
    values = {name: request.POST.get(name, "") for name in names}
    values.update({name: request.POST.get(name, "") for name in EDITABLE if name != "channels"})
    values["channels"] = request.POST.getlist("channels")
    values["kind"] = _kind(request.POST)
    values["direction"] = _direction(request.POST, values["kind"])
    return values


def create_payload(post) -> dict:
    """The API's create body a post stands for: the chosen kind's fields, a watchlist as a list."""
    kind = _kind(post)
    data = post_data(post, lists=("channels",))
    payload = {name: data[name] for name in KIND_FIELDS[kind] if name in data}
    if "direction" in payload:
        payload["direction"] = _direction(post, kind)
    if "symbol" in data:
        payload["symbol"] = data["symbol"]
    if "symbols" in data:
        payload["symbols"] = split_symbols(data["symbols"])
    return payload


def _create(user, kind: str, payload: dict):
    """Check and save as POST /alerts/ does: (alert or watchlist, {}) or (None, errors).

    The serializer is the one ``create_input_serializer`` picks for a body of this kind; picked by
    the form's kind, so a move sent without its move_percent is told "This field is required."
    (as the API tells a body that names the kind's other fields) rather than checked as a price.
    """
    serializer = KIND_SERIALIZERS[kind](data=payload)
    if not serializer.is_valid():
        return None, field_errors(serializer.errors)
    data = serializer.validated_data
    price_kind = isinstance(serializer, AlertCreateInputSerializer)
    try:
        if "symbols" in data:
            create = alert_group_create if price_kind else window_alert_group_create
        else:
            create = alert_create if price_kind else window_alert_create
        return create(user=user, **data), {}
    except ValidationError as exc:
        return None, field_errors(exc)
    except AlertLimitReached as exc:
        return None, {NON_FIELD: [str(exc)]}


@signed_in
@require_http_methods(["GET", "POST"])
def alert_new(request):
    if request.method == "GET":
        values = {"repeat": Alert.Repeat.ONCE, "rearm_percent": _plain(DEFAULT_REARM_PERCENT), "channels": []}
        source = request.GET.get("from", "")
        if source.isdigit():
            original = owned_alert(request, source)
            if original is None:
                return not_found(request, "alert")
            values = _duplicate_values(original)
        elif request.GET.get("symbol", "").isalnum():
            values["symbol"] = request.GET["symbol"].upper()
        return render(request, "web/alert_form.html", _form_context(request, values, {}))

    values = _submitted(request)
    wait = throttle_wait(request, [AlertCreateThrottle])
    if wait is not None:
        context = _form_context(request, values, too_many_errors(wait))
        return with_retry_after(render(request, "web/alert_form.html", context, status=429), wait)
    created, errors = _create(request.user, _kind(request.POST), create_payload(request.POST))
    if isinstance(created, Alert):
        messages.success(request, f"Alert created: {created.symbol} {condition(created)}.")
        return redirect("web:alert", alert_id=created.pk)
    if created is not None:
        count = len(alert_group_get(user=request.user, group_id=created.pk).alerts.all())
        messages.success(
            request, f"Watchlist created: {count} alert{'s' if count != 1 else ''}, one per symbol."
        )
        return redirect("web:group", group_id=created.pk)
    return render(request, "web/alert_form.html", _form_context(request, values, errors), status=400)


def _changes(alert: Alert, post) -> dict:
    """The API's PATCH body for what the user changed in the form (unchanged inputs left out)."""
    before = form_values(alert)
    changes = {}
    for name in WINDOW_EDITABLE if alert.kind in Alert.WINDOW_KINDS else EDITABLE:
        if name == "channels":
            chosen = sorted(value for value in post.getlist("channels") if value.strip())
            if chosen != sorted(before["channels"]):
                changes["channels"] = chosen
            continue
        value = _direction(post, alert.kind) if name == "direction" else post.get(name, "")
        value = value if name == "note" else value.strip()
        if value == before[name]:
            continue
        if name == "note":
            changes[name] = value
        elif value == "" and name in NULLABLE_WHEN_BLANK:
            changes[name] = None
        elif value != "":
            changes[name] = value
    return changes


@signed_in
@require_http_methods(["GET", "POST"])
def alert_edit(request, alert_id):
    alert = owned_alert(request, alert_id)
    if alert is None:
        return not_found(request, "alert")
    if request.method == "GET":
        errors = {}
        if alert.status not in Alert.ACTIVE_STATUSES:
            errors = {NON_FIELD: [f"Only a waiting alert can be changed; this one is {alert.status}."]}
        return render(
            request, "web/alert_form.html", _form_context(request, form_values(alert), errors, alert=alert)
        )

    values = _submitted(request)
    values.update(symbol=alert.symbol, kind=alert.kind)
    changes = _changes(alert, request.POST)
    data, errors = validated(AlertUpdateInputSerializer, changes)
    if data is not None:
        try:
            alert = alert_update(alert=alert, **data)
        except ValidationError as exc:
            errors = field_errors(exc)
        except AlertNotEditable as exc:
            errors = {NON_FIELD: [str(exc)]}
        else:
            messages.success(request, "Alert saved." if changes else "Nothing changed.")
            return redirect("web:alert", alert_id=alert.pk)
    return render(
        request, "web/alert_form.html", _form_context(request, values, errors, alert=alert), status=400
    )


@signed_in
@require_GET
def symbol_options(request):
    """The symbol picker's suggestions for what is typed so far (an htmx fragment of <option>s)."""
    return render(
        request, "web/_symbol_options.html", {"symbols": symbol_search(request.GET.get("symbol", ""))}
    )


@signed_in
@require_GET
def current_price(request):
    """The price of ?symbol= beside the target, with the number app.js computes percents from.

    The one a percent alert would be resolved from (feeds.prices.current_price): the feeder's
    latest if fresh, else Binance's ticker; for a symbol nobody follows yet, too.
    """
    symbol = request.GET.get("symbol", "").strip().upper()
    context = {"symbol": symbol, "price": None, "problem": ""}
    if symbol.isalnum() and len(symbol) <= 32 and symbol_get(symbol) is not None:
        try:
            context["price"] = fresh_price(symbol)
        except PriceUnavailable as exc:
            context["problem"] = str(exc)
    elif symbol:
        context["problem"] = f"Unknown symbol {symbol}."
    return render(request, "web/_current_price.html", context)
