"""POST /channels/<id>/test: queued to a real delivery worker, answered within about a second.

The worker here is Celery's own test worker in a thread of this process,
consuming the real Redis broker; the database is shared with it (transactional
tests), so the test message travels exactly the production path.
"""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from alerts.delivery import probe
from alerts.delivery.kinds.webhook import sign
from alerts.models import Channel
from pricealert.celery import app
from tests.support.http import HookServer

# serialized_rollback as in the other transactional tests: mixing the two modes breaks later ones.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("allow_local_delivery"),
]


@pytest.fixture
def delivery_worker():
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        yield


def outcome(body: dict) -> dict:
    """The answer without its preview (what the test sends: alerts/tests/test_templates_api.py)."""
    assert set(body["preview"]) == {"title", "body"}
    return {key: value for key, value in body.items() if key != "preview"}


def email_channel(user):
    return Channel.objects.get(user=user, kind="email")


def test_an_email_test_is_answered_with_its_outcome(alice, alice_client, delivery_worker):
    response = alice_client.post(f"/channels/{email_channel(alice).pk}/test")
    assert response.status_code == 200
    assert outcome(response.json()) == {"delivered": True, "error": None}
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "test message" in mail.outbox[0].body


def test_a_webhook_test_is_delivered_and_signed(alice, alice_client, delivery_worker):
    with HookServer() as server:
        hook = alice_client.post("/channels/", {"kind": "webhook", "url": server.url + "/in"}, format="json")
        hook = hook.json()
        body = alice_client.post(f"/channels/{hook['id']}/test").json()
    assert outcome(body) == {"delivered": True, "error": None}
    (request,) = server.received
    timestamp = request.headers["X-Pricealert-Timestamp"]
    assert request.headers["X-Pricealert-Signature"] == sign(hook["secret"], timestamp, request.body)
    listed = alice_client.get(f"/channels/{hook['id']}").json()
    assert listed["last_test_delivered"] is True and listed["last_test_error"] == ""
    assert listed["last_test_at"] is not None


def test_a_failing_webhook_says_why_in_a_category_and_is_not_disabled(alice, alice_client, delivery_worker):
    """The destination's own words (its reason phrase, its body) never come back."""
    banner = b"220 mail.internal.corp ESMTP Postfix (Debian)"
    with HookServer(default=410, body=banner) as server:
        hook = Channel.objects.create(user=alice, kind="webhook", url=server.url, secret="s")
        body = alice_client.post(f"/channels/{hook.pk}/test").json()
    assert outcome(body) == {"delivered": False, "error": "HTTP 410: the endpoint is gone"}
    hook.refresh_from_db()
    assert hook.enabled and hook.last_test_error == "HTTP 410: the endpoint is gone"


def test_an_unreachable_webhook_says_connection_refused(alice, alice_client, delivery_worker, closed_port):
    hook = Channel.objects.create(
        user=alice, kind="webhook", url=f"http://127.0.0.1:{closed_port}/x", secret="s"
    )
    response = alice_client.post(f"/channels/{hook.pk}/test")
    assert response.status_code == 200
    assert outcome(response.json()) == {"delivered": False, "error": "connection refused"}


def test_a_destination_that_never_answers_costs_the_web_about_a_second(
    alice, alice_client, delivery_worker, silent_url, settings
):
    settings.CHANNEL_TEST_WAIT_SECONDS = 1.0
    settings.OUTBOUND_TIMEOUT_SECONDS = settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS = 3.0
    hook = Channel.objects.create(user=alice, kind="webhook", url=silent_url, secret="s")
    started = time.monotonic()
    response = alice_client.post(f"/channels/{hook.pk}/test")
    answered_in = time.monotonic() - started
    assert response.status_code == 202
    assert response.json()["delivered"] is None
    assert answered_in < 2.5  # the wait, not the send's 3 s timeout
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        hook.refresh_from_db()
        if hook.last_test_at is not None:
            break
        time.sleep(0.1)
    assert hook.last_test_delivered is False and hook.last_test_error == "timed out"


def test_without_a_worker_the_test_is_queued_and_its_outcome_lands_on_the_channel(alice, alice_client):
    channel = email_channel(alice)
    response = alice_client.post(f"/channels/{channel.pk}/test")
    assert response.status_code == 202
    channel.refresh_from_db()
    assert channel.last_test_requested_at is not None and channel.last_test_at is None
    assert mail.outbox == []  # nothing was sent by the web request
    # what the worker does when it gets to the message
    assert probe.run_test(channel.pk, "token") == probe.ProbeOutcome(True, None)
    shown = alice_client.get(f"/channels/{channel.pk}").json()
    assert shown["last_test_delivered"] is True and shown["last_test_at"] is not None
