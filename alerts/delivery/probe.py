"""A channel's test send (`POST /channels/<id>/test`): sent by a worker, answered within a second.

A test message used to be sent inside the web request, so a destination that
accepts and never answers held a web worker for the whole timeout, and the
upstream's error text came back in the answer. Now the request is queued like
any delivery (same egress policy, same deadline) and the web waits briefly on
a one-use Redis list for the worker's outcome:

- it arrives in time: the answer carries it (``delivered``, ``error``);
- it does not: 202, and the outcome lands on the channel
  (``last_test_delivered``, ``last_test_error``, ``last_test_at``) when the
  worker is done.

The error is a short category ("timed out", "HTTP 404", "destination not
allowed"), never what the destination said.
"""

import json
import logging
import secrets
from dataclasses import dataclass

from django.utils import timezone

from alerts.delivery.compose import test_message_for
from alerts.delivery.errors import NotificationError
from alerts.delivery.kinds import KINDS
from alerts.models import Channel
from feeds.store import redis_client

logger = logging.getLogger(__name__)

OUTCOME_KEY = "channels:test:{token}"
# The worker's outcome waits this long for the web to read it, then goes.
OUTCOME_TTL_SECONDS = 60


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    delivered: bool
    error: str | None


def new_token() -> str:
    """Names the one-use list a test's outcome is posted to."""
    return secrets.token_hex(16)


def wait_for_outcome(token: str, seconds: float) -> ProbeOutcome | None:
    """The worker's outcome for this test if it comes within ``seconds``, else None."""
    try:
        answer = redis_client().blpop([OUTCOME_KEY.format(token=token)], timeout=seconds)
    except Exception:  # Redis is down: the test is queued (or not) all the same; say "later"
        logger.warning("Could not wait for the outcome of channel test %s", token, exc_info=True)
        return None
    if answer is None:
        return None
    outcome = json.loads(answer[1])
    return ProbeOutcome(outcome["delivered"], outcome["error"])


def run_test(channel_id: int, token: str) -> ProbeOutcome | None:
    """Send the test message (whether or not the channel is enabled); record and post the outcome."""
    channel = Channel.objects.select_related("user").filter(pk=channel_id).first()
    if channel is None:
        return None
    try:
        KINDS[channel.kind].send(channel, test_message_for(channel))
        outcome = ProbeOutcome(True, None)
    except NotificationError as exc:
        # A failed test never disables the channel: only a real delivery does.
        outcome = ProbeOutcome(False, exc.category)
    Channel.objects.filter(pk=channel_id).update(
        last_test_at=timezone.now(),
        last_test_delivered=outcome.delivered,
        last_test_error=outcome.error or "",
    )
    key = OUTCOME_KEY.format(token=token)
    try:
        client = redis_client()
        client.rpush(key, json.dumps({"delivered": outcome.delivered, "error": outcome.error}))
        client.expire(key, OUTCOME_TTL_SECONDS)
    except Exception:  # the outcome is on the channel all the same
        logger.warning("Could not post the test outcome of channel %s", channel_id, exc_info=True)
    return outcome
