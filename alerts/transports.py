"""Delivery of alert messages to webhooks and to Apprise services (chat and push apps).

Email lives in alerts.notify; this module speaks HTTP. Every failure is a
NotificationError: ``permanent`` when retrying cannot help (a 4xx answer, a bad
URL), and ``disable_channel`` when the endpoint says it is gone for good (404,
410), so the channel is switched off with that reason for its owner to see.

Webhook requests are signed: ``X-Pricealert-Signature: sha256=<hex>``, the
HMAC-SHA256 with the channel's secret over ``<timestamp>.<body>``, where the
timestamp (Unix seconds) is sent in ``X-Pricealert-Timestamp``. Receivers
recompute it over the raw body and reject old timestamps (replays).
"""

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Pricealert-Signature"
TIMESTAMP_HEADER = "X-Pricealert-Timestamp"
DELIVERY_HEADER = "X-Pricealert-Delivery"
USER_AGENT = "pricealert-webhook/1"
# The endpoint is gone: delivering there again can never work.
GONE_STATUSES = (404, 410)
# Back off and try again (rate limited, or the server timed out reading us).
RETRY_4XX = (408, 429)


class NotificationError(Exception):
    """Sending failed; ``permanent`` when the same message can never succeed."""

    def __init__(self, message: str, *, permanent: bool = False, disable_channel: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent or disable_channel
        self.disable_channel = disable_channel


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel delivers: a title and plain text for people, a JSON payload for machines."""

    title: str
    body: str
    payload: dict
    delivery_id: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for this timestamp and raw body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def timeout() -> float:
    return settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS


def send_webhook(url: str, secret: str, message: Message) -> None:
    """POST the message's JSON payload, signed; raises NotificationError unless a 2xx answers."""
    body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        DELIVERY_HEADER: message.delivery_id,
    }
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout(), allow_redirects=False)
    except requests.Timeout as exc:
        raise NotificationError(f"timed out after {timeout():g} s: {exc}") from exc
    except requests.RequestException as exc:  # connection refused, DNS, TLS, a reset
        raise NotificationError(f"{type(exc).__name__}: {exc}") from exc
    code = response.status_code
    if 200 <= code < 300:
        return
    reason = f"HTTP {code} {response.reason or ''}".strip()
    if code in GONE_STATUSES:
        raise NotificationError(f"The webhook answered {reason}: the endpoint is gone.", disable_channel=True)
    if code >= 500 or code in RETRY_4XX:
        raise NotificationError(f"The webhook answered {reason}.")
    # Other 4xx (and redirects, which are not followed): this request will never be accepted.
    raise NotificationError(f"The webhook answered {reason}.", permanent=True)


def apprise_accepts(url: str) -> bool:
    """Whether Apprise knows this URL's service and can parse it."""
    import apprise  # imported lazily: loading its plugins takes a moment

    return apprise.Apprise().add(url)


def send_apprise(url: str, message: Message) -> None:
    """Send the title and text through Apprise; raises NotificationError when it reports a failure."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        raise NotificationError("Apprise cannot use this URL.", permanent=True)
    # Apprise reports only success or failure (the reason goes to its log), and a
    # failure may be a passing outage: retried like an SMTP error.
    if not sender.notify(title=message.title, body=message.body):
        raise NotificationError("The Apprise service did not accept the message (see the worker's log).")
