"""Webhooks: a signed JSON POST to the channel's http(s) URL.

Every failure is a NotificationError: ``permanent`` when retrying cannot help (a
4xx answer, a redirect), and ``disable_channel`` when the endpoint says it is
gone for good (404, 410), so the channel is switched off with that reason for
its owner to see. 5xx, 408, 429, timeouts and connection errors are retried.
The timeout is the ALERTS_WEBHOOK_TIMEOUT_SECONDS setting.

Webhook requests are signed: ``X-Pricealert-Signature: sha256=<hex>``, the
HMAC-SHA256 with the channel's secret over ``<timestamp>.<body>``, where the
timestamp (Unix seconds) is sent in ``X-Pricealert-Timestamp``. Receivers
recompute it over the raw body and reject old timestamps (replays).
"""

import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError

from alerts.delivery.errors import NotificationError
from alerts.delivery.messages import Message

SIGNATURE_HEADER = "X-Pricealert-Signature"
TIMESTAMP_HEADER = "X-Pricealert-Timestamp"
DELIVERY_HEADER = "X-Pricealert-Delivery"
USER_AGENT = "pricealert-webhook/1"
# The endpoint is gone: delivering there again can never work.
GONE_STATUSES = (404, 410)
# Back off and try again (rate limited, or the server timed out reading us).
RETRY_4XX = (408, 429)


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "A webhook URL must be an http:// or https:// URL with a host."})
    return url


def new_secret() -> str:
    """The signing key, shown to the owner only in the answer that creates the channel."""
    return secrets.token_hex(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for this timestamp and raw body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@contextlib.contextmanager
def session() -> Iterator[requests.Session]:
    """A batch's HTTP session: a connection to a host is kept alive for its next webhooks."""
    with requests.Session() as http:
        yield http


def send(channel, message: Message, *, connection=None) -> None:
    """POST the message's JSON payload, signed; raises NotificationError unless a 2xx answers.

    ``connection``: a batch's ``session()``, else a request of its own.
    """
    body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(channel.secret, timestamp, body),
        DELIVERY_HEADER: message.delivery_id,
    }
    timeout = settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS
    try:
        response = (connection or requests).post(
            channel.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout as exc:
        raise NotificationError(f"timed out after {timeout:g} s: {exc}") from exc
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
