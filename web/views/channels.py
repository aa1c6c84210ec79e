"""Channels (/app/channels): list, add (email, webhook, Apprise), edit, enable or disable, test, delete.

Through alerts.channels, the services behind /channels/: the same URL checks
(public addresses only, Apprise schemes), caps and throttles. A new webhook's
secret is kept in the session for the one page view that shows it, and a
test's preview (its templates filled with an example firing, as
POST /channels/<id>/test answers it) for the page view after the test.

Quiet hours are the API's ``quiet_hours`` ("" the account's, "off", or an own
"HH:MM-HH:MM"); the form asks which of the three with ``quiet_hours_mode``
and sends the API's value. Templates are ``title_template`` (Apprise) and
``body_template`` (a webhook's JSON body, an Apprise body).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from alerts.channels import (
    ChannelConflict,
    ChannelLimitReached,
    channel_create,
    channel_delete,
    channel_list,
    channel_preview,
    channel_test,
    channel_update,
)
from alerts.models import Channel
from alerts.serializers import ChannelCreateInputSerializer, ChannelUpdateInputSerializer
from alerts.throttling import ChannelCreateThrottle, ChannelTestThrottle
from web.forms import NON_FIELD, field_errors, post_data, validated
from web.throttles import throttle_wait, too_many_errors, too_many_message, with_retry_after
from web.views.common import not_found, owned_channel, signed_in

NEW_SECRET_KEY = "web:new-webhook-secret"
TEST_PREVIEW_KEY = "web:channel-test-preview"
QUIET_MODES = [
    ("account", "your account's quiet hours"),
    ("off", "never quiet"),
    ("own", "its own quiet hours:"),
]
EDIT_FIELDS = ("name", "quiet_hours", "title_template", "body_template")

# A short guide per Apprise service: the URL shape and where its parts come from.
APPRISE_GUIDE = [
    ("Telegram", "tgram://BOT_TOKEN/CHAT_ID", "Create a bot with @BotFather; the chat id from @userinfobot."),
    (
        "Discord",
        "discord://WEBHOOK_ID/WEBHOOK_TOKEN",
        "Channel settings, Integrations, Webhooks: copy the URL.",
    ),
    (
        "Slack",
        "slack://TOKEN_A/TOKEN_B/TOKEN_C/#channel",
        "An incoming webhook's URL holds the three tokens.",
    ),
    (
        "ntfy",
        "ntfys://my-secret-topic",
        "Subscribe to the same topic in the ntfy app (pick a hard-to-guess one).",
    ),
    ("Pushover", "pover://USER_KEY@APP_TOKEN", "Your user key and an application token from pushover.net."),
    ("Microsoft Teams", "msteams://TOKEN_A/TOKEN_B/TOKEN_C/", "From an incoming webhook connector's URL."),
    ("Google Chat", "gchat://WORKSPACE/KEY/TOKEN", "From a space's webhook URL."),
]


def quiet_hours_value(post) -> str | None:
    """The API's quiet_hours for the form's choice: "" (the account's), "off", or the own window typed.
    None when the post says nothing about quiet hours."""
    mode = post.get("quiet_hours_mode")
    if mode is None:
        return None
    if mode == "off":
        return "off"
    if mode == "own":
        return post.get("quiet_hours", "").strip()
    return ""


def _quiet_values(quiet_hours: str) -> dict:
    mode = "account" if not quiet_hours else "off" if quiet_hours == "off" else "own"
    return {"quiet_hours_mode": mode, "quiet_hours": quiet_hours if mode == "own" else ""}


OWN_QUIET_HOURS_MISSING = "Type the quiet hours as HH:MM-HH:MM (e.g. 23:00-07:00), or pick another choice."


def _own_window_missing(post) -> dict:
    if post.get("quiet_hours_mode") == "own" and not post.get("quiet_hours", "").strip():
        return {"quiet_hours": [OWN_QUIET_HOURS_MISSING]}
    return {}


def _with_quiet_hours(post, data: dict) -> dict:
    data = {name: value for name, value in data.items() if name != "quiet_hours_mode"}
    quiet = quiet_hours_value(post)
    if quiet is not None:
        data["quiet_hours"] = quiet
    for name in ("title_template", "body_template"):
        # Templates keep their spaces, and blank is the API's "the built-in message".
        if name in post:
            data[name] = post.get(name, "")
    return data


def _page(request, *, values=None, errors=None, status=200):
    context = {
        "channels": list(channel_list(user=request.user).select_related("user")),
        # Email: another address of the user's (confirmed by a mailed link before it gets anything);
        # the account's own address is the email channel every account has.
        "kinds": Channel.Kind.values,
        "values": values or {"kind": Channel.Kind.WEBHOOK, "quiet_hours_mode": "account"},
        "errors": errors or {},
        "new_secret": request.session.pop(NEW_SECRET_KEY, None),
        "test_preview": request.session.pop(TEST_PREVIEW_KEY, None),
        "guide": APPRISE_GUIDE,
        "quiet_modes": QUIET_MODES,
    }
    return render(request, "web/channels.html", context, status=status)


@signed_in
@require_http_methods(["GET", "POST"])
def channels(request):
    if request.method == "GET":
        return _page(request)
    values = {
        **post_data(request.POST),
        **{n: request.POST.get(n, "") for n in ("title_template", "body_template")},
    }
    wait = throttle_wait(request, [ChannelCreateThrottle])
    if wait is not None:
        return with_retry_after(_page(request, values=values, errors=too_many_errors(wait), status=429), wait)
    data, errors = validated(
        ChannelCreateInputSerializer, _with_quiet_hours(request.POST, post_data(request.POST))
    )
    if data is not None and _own_window_missing(request.POST):
        data, errors = None, _own_window_missing(request.POST)
    if data is not None:
        try:
            channel = channel_create(user=request.user, **data)
        except ValidationError as exc:
            errors = field_errors(exc)
        except (ChannelConflict, ChannelLimitReached) as exc:
            errors = {NON_FIELD: [str(exc)]}
        else:
            if channel.secret:
                request.session[NEW_SECRET_KEY] = {
                    "id": channel.pk,
                    "name": channel.name,
                    "secret": channel.secret,
                }
            messages.success(request, f"Channel added: {channel.name or channel.kind}.")
            return redirect("web:channels")
    return _page(request, values=values, errors=errors, status=400)


@signed_in
@require_POST
def channel_enabled(request, channel_id):
    channel = owned_channel(request, channel_id)
    if channel is None:
        return not_found(request, "channel")
    enabled = request.POST.get("enabled") == "true"
    channel_update(channel=channel, enabled=enabled)
    messages.success(
        request, f"Channel {channel.name or channel.kind} {'enabled' if enabled else 'disabled'}."
    )
    return redirect("web:channels")


@signed_in
@require_POST
def channel_test_view(request, channel_id):
    channel = owned_channel(request, channel_id)
    if channel is None:
        return not_found(request, "channel")
    wait = throttle_wait(request, [ChannelTestThrottle])
    if wait is not None:
        messages.error(request, too_many_message(wait))
        return redirect("web:channels")
    name = channel.name or channel.kind
    try:
        preview = channel_preview(channel=channel)
        outcome = channel_test(channel=channel)
    except ChannelConflict as exc:
        messages.error(request, f"Test of {name}: {exc}")
        return redirect("web:channels")
    request.session[TEST_PREVIEW_KEY] = {"id": channel.pk, "name": name, **preview}
    if outcome is None:
        messages.info(request, f"Test of {name}: the message is on its way; its outcome will show here.")
    elif outcome.delivered:
        messages.success(request, f"Test of {name}: delivered.")
    else:
        messages.error(request, f"Test of {name}: not delivered ({outcome.error}).")
    return redirect("web:channels")


@signed_in
@require_POST
def channel_delete_view(request, channel_id):
    channel = owned_channel(request, channel_id)
    if channel is None:
        return not_found(request, "channel")
    try:
        channel_delete(channel=channel)
    except ChannelConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Channel {channel.name or channel.kind} deleted.")
    return redirect("web:channels")


@signed_in
@require_http_methods(["GET", "POST"])
def channel_edit(request, channel_id):
    """Rename a channel, set its quiet hours and templates (PATCH /channels/<id>'s serializer and service)."""
    channel = owned_channel(request, channel_id)
    if channel is None:
        return not_found(request, "channel")
    if request.method == "GET":
        values = {name: getattr(channel, name) for name in EDIT_FIELDS}
        values.update(_quiet_values(channel.quiet_hours))
        return _edit_page(request, channel, values, {})
    values = {name: request.POST.get(name, "") for name in (*EDIT_FIELDS, "quiet_hours_mode")}
    named = {"name": request.POST["name"]} if "name" in request.POST else {}
    body = _with_quiet_hours(request.POST, named)
    data, errors = validated(ChannelUpdateInputSerializer, body)
    if data is not None and _own_window_missing(request.POST):
        data, errors = None, _own_window_missing(request.POST)
    if data is not None:
        try:
            channel_update(channel=channel, **data)
        except ValidationError as exc:
            errors = field_errors(exc)
        else:
            messages.success(request, f"Channel {channel.name or channel.kind} saved.")
            return redirect("web:channels")
    return _edit_page(request, channel, values, errors, status=400)


def _edit_page(request, channel, values, errors, status=200):
    context = {
        "channel": channel,
        "values": values,
        "errors": errors,
        "quiet_modes": QUIET_MODES,
        "show_title": channel.kind == Channel.Kind.APPRISE,
        "show_templates": channel.kind != Channel.Kind.EMAIL,
    }
    return render(request, "web/channel_edit.html", context, status=status)
