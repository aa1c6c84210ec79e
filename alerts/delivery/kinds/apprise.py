"""Apprise: chat and push services (Telegram, Discord, Slack, ntfy, Pushover, ...) by their Apprise URL.

Apprise reports only success or failure (the reason goes to its log), and a
failure may be a passing outage: retried like an SMTP error. A URL Apprise
cannot parse is refused when the channel is made, and is permanent at send time.
"""

import contextlib

from django.core.exceptions import ValidationError

from alerts.delivery.errors import NotificationError
from alerts.delivery.messages import Message


def _sender():
    import apprise  # imported lazily: loading its plugins takes a moment

    return apprise.Apprise()


def accepts(url: str) -> bool:
    """Whether Apprise knows this URL's service and can parse it."""
    return _sender().add(url)


def check_url(url: str) -> str:
    url = url.strip()
    if not url or not accepts(url):
        raise ValidationError(
            {"url": "Not an Apprise URL it can use, e.g. tgram://bottoken/ChatID or ntfys://topic."}
        )
    return url


def new_secret() -> str:
    return ""


def session():
    """Nothing shared: Apprise opens its own connections per service."""
    return contextlib.nullcontext()


def send(channel, message: Message, *, connection=None) -> None:
    """Send the title and text through Apprise; raises NotificationError when it reports a failure."""
    sender = _sender()
    if not sender.add(channel.url):
        raise NotificationError("Apprise cannot use this URL.", permanent=True)
    if not sender.notify(title=message.title, body=message.body):
        raise NotificationError("The Apprise service did not accept the message (see the worker's log).")
