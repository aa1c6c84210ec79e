"""Webhooks: a signed JSON POST to the channel's http(s) URL.

Every failure is a NotificationError: ``permanent`` when retrying cannot help (a
4xx answer, a redirect), and ``disable_channel`` when the endpoint says it is
gone for good (404, 410), so the channel is switched off with that reason for
its owner to see. 5xx, 408, 429, timeouts and connection errors are retried.
The whole request (connect and read) has OUTBOUND_TIMEOUT_SECONDS, and goes only
where the egress policy allows (alerts.delivery.egress), redirects never followed.
Error texts are short categories ("timed out", "HTTP 404"), never the
destination's own words.

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
from django.core.exceptions import ValidationError

from alerts.delivery import egress
from alerts.delivery.deadline import outbound_timeout, send_deadline
from alerts.delivery.errors import NotificationError, failure_category
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
    if problem := egress.control_character_problem(url):
        raise ValidationError({"url": problem})
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "A webhook URL must be an http:// or https:// URL with a host."})
    if problem := egress.destination_problem(url):
        raise ValidationError({"url": problem})
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
    # The channel's own JSON shape if it has a template (rendered and escaped in compose), else ours.
    body = (message.json_body or json.dumps(message.payload, separators=(",", ":"), sort_keys=True)).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(channel.secret, timestamp, body),
        DELIVERY_HEADER: message.delivery_id,
    }
    if egress.control_character_problem(channel.url):  # stored before the check existed
        raise NotificationError("invalid URL", permanent=True)
    timeout = outbound_timeout()
    try:
        with egress.guarded(), send_deadline(timeout):
            response = (connection or requests).post(
                channel.url, data=body, headers=headers, timeout=(timeout, timeout), allow_redirects=False
            )
    except requests.RequestException as exc:  # refused by the policy, timed out, DNS, TLS, a reset
        category = failure_category(exc)
        raise NotificationError(category, permanent=category == "destination not allowed") from exc
    code = response.status_code
    if 200 <= code < 300:
        return
    # The status code only: the reason phrase is the destination's own words.
    if code in GONE_STATUSES:
        raise NotificationError(f"HTTP {code}: the endpoint is gone", disable_channel=True)
    if code >= 500 or code in RETRY_4XX:
        raise NotificationError(f"HTTP {code}")
    # Other 4xx (and redirects, which are not followed): this request will never be accepted.
    raise NotificationError(f"HTTP {code}", permanent=True)
