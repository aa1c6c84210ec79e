"""Apprise: chat and push services (Telegram, Discord, Slack, ntfy, Pushover, ...) by their Apprise URL.

Apprise can also speak protocols whose host the user picks (json://, form://,
irc://, mailto://, syslog://, ...), which would make the server a relay into
its own network or a spam cannon. So a scheme is accepted as given only when it
is in APPRISE_ALLOWED_SCHEMES (services whose host the service itself fixes);
any other scheme only for a host inside the operator's OUTBOUND_ALLOW_NETWORKS,
and it is sent under that stricter policy. Every send, and every redirect hop a
plugin follows, connects through the egress guard, within OUTBOUND_TIMEOUT_SECONDS.

Apprise reports only success or failure (the reason goes to its log), and a
failure may be a passing outage: retried like an SMTP error. A URL Apprise
cannot parse is refused when the channel is made, and is permanent at send time.
"""

import contextlib

from django.conf import settings
from django.core.exceptions import ValidationError

from alerts.delivery import egress
from alerts.delivery.deadline import outbound_timeout, send_deadline
from alerts.delivery.errors import NotificationError
from alerts.delivery.messages import Message


def _sender():
    import apprise  # imported lazily: loading its plugins takes a moment

    # Sequential, in the calling thread: no pool thread can outlive the egress
    # guard or the send deadline held around it.
    return apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))


def accepts(url: str) -> bool:
    """Whether Apprise knows this URL's service and can parse it."""
    return _sender().add(url)


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].strip().lower() if "://" in url else ""


def host_is_fixed(url: str) -> bool:
    """Whether the service behind this scheme decides the host (the user names only tokens)."""
    return scheme_of(url) in {scheme.lower() for scheme in settings.APPRISE_ALLOWED_SCHEMES}


def check_url(url: str) -> str:
    url = url.strip()
    if problem := egress.control_character_problem(url):
        raise ValidationError({"url": problem})
    if not url or not accepts(url):
        raise ValidationError(
            {"url": "Not an Apprise URL it can use, e.g. tgram://bottoken/ChatID or ntfys://topic."}
        )
    if not host_is_fixed(url):
        allowed = ", ".join(settings.APPRISE_ALLOWED_SCHEMES)
        if not settings.OUTBOUND_ALLOW_NETWORKS.strip():
            raise ValidationError(
                {
                    "url": f"{scheme_of(url)}:// lets you pick any host and is not accepted here. "
                    f"Accepted schemes: {allowed}. Email goes through the email channel."
                }
            )
        if problem := egress.destination_problem(url, networks_only=True):
            raise ValidationError(
                {"url": f"{scheme_of(url)}:// only reaches the operator's networks: {problem}"}
            )
    return url


def private_url(url: str) -> str:
    """The URL as Apprise shows it in privacy mode: tokens and passwords masked, the rest kept."""
    import apprise

    try:
        service = apprise.Apprise.instantiate(url)
        shown = service.url(privacy=True) if service else ""
    except Exception:  # a URL Apprise cannot parse any more: show none of it
        shown = ""
    if shown and "?" not in url:
        shown = shown.split("?", 1)[0]  # the defaults Apprise appends say nothing about this channel
    return shown or (f"{scheme_of(url)}://••••••" if scheme_of(url) else "••••••")


def new_secret() -> str:
    return ""


def _bounded(sender, timeout: float) -> None:
    """Override the per-URL timeouts a user may set (?cto=, ?rto=) with the service's own."""
    for service in sender:
        service.socket_connect_timeout = timeout
        service.socket_read_timeout = timeout


def session():
    """Nothing shared: Apprise opens its own connections per service."""
    return contextlib.nullcontext()


def send(channel, message: Message, *, connection=None) -> None:
    """Send the title and text through Apprise; raises NotificationError when it reports a failure."""
    if egress.control_character_problem(channel.url):  # stored before the check existed
        raise NotificationError("invalid URL", permanent=True)
    sender = _sender()
    if not sender.add(channel.url):
        raise NotificationError("Apprise cannot use this URL.", permanent=True)
    timeout = outbound_timeout()
    _bounded(sender, timeout)
    with egress.guarded(networks_only=not host_is_fixed(channel.url)) as guard, send_deadline(timeout):
        delivered = sender.notify(title=message.title, body=message.body)
    if guard.refused:
        raise NotificationError("destination not allowed", permanent=True)
    if not delivered:
        raise NotificationError("not accepted by the service")
