"""Channels (/app/channels): list, add (email, webhook, Apprise), enable or disable, test, delete.

Through alerts.channels, the services behind /channels/: the same URL checks
(public addresses only, Apprise schemes), caps and throttles. A new webhook's
secret is kept in the session for the one page view that shows it.
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
    channel_test,
    channel_update,
)
from alerts.models import Channel
from alerts.serializers import ChannelCreateInputSerializer
from alerts.throttling import ChannelCreateThrottle, ChannelTestThrottle
from web.forms import NON_FIELD, field_errors, post_data, validated
from web.throttles import throttle_wait, too_many_message
from web.views.common import not_found, owned_channel, signed_in

NEW_SECRET_KEY = "web:new-webhook-secret"

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


def _page(request, *, values=None, errors=None, status=200):
    context = {
        "channels": list(channel_list(user=request.user).select_related("user")),
        "kinds": [kind for kind in Channel.Kind.values if kind != Channel.Kind.EMAIL],
        "values": values or {"kind": Channel.Kind.WEBHOOK},
        "errors": errors or {},
        "new_secret": request.session.pop(NEW_SECRET_KEY, None),
        "guide": APPRISE_GUIDE,
    }
    return render(request, "web/channels.html", context, status=status)


@signed_in
@require_http_methods(["GET", "POST"])
def channels(request):
    if request.method == "GET":
        return _page(request)
    values = post_data(request.POST)
    wait = throttle_wait(request, [ChannelCreateThrottle])
    if wait is not None:
        response = _page(request, values=values, errors={NON_FIELD: [too_many_message(wait)]}, status=429)
        response["Retry-After"] = str(wait)
        return response
    data, errors = validated(ChannelCreateInputSerializer, values)
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
    outcome = channel_test(channel=channel)
    name = channel.name or channel.kind
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
