"""The notifications admin: list with status filter, the "retry" action, and the alert page's inline."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.admin import INLINE_NOTIFICATIONS
from alerts.models import Notification
from tests.support.broker import queued_tasks

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/alerts/notification/"


@pytest.fixture
def triggered(alice, make_triggered_alert):
    return make_triggered_alert(alice)


def test_the_list_shows_recipient_status_attempts_and_error(admin_client, triggered, make_notification):
    make_notification(
        alert=triggered, status="failed", attempts=8, last_error="421 4.7.0 Service not available"
    )
    content = admin_client.get(CHANGELIST).content.decode()
    for text in (
        "alice@example.com",
        "failed",
        "421 4.7.0 Service not available",
        f"#{triggered.pk} BTCUSDT",
    ):
        assert text in content


@pytest.mark.parametrize("status", ["pending", "sent", "failed"])
def test_the_list_filters_by_status(admin_client, triggered, status, make_notification):
    ids = {s: make_notification(alert=triggered, status=s).pk for s in ("pending", "sent", "failed")}
    response = admin_client.get(CHANGELIST, {"status__exact": status})
    assert [n.pk for n in response.context["cl"].result_list] == [ids[status]]


def test_retry_resends_failed_and_idle_pending_but_never_sent_or_busy_ones(
    admin_client, triggered, clean_redis, django_capture_on_commit_callbacks, make_notification
):
    failed = make_notification(alert=triggered, status="failed", attempts=8, last_error="421")
    idle = make_notification(alert=triggered)
    busy = make_notification(
        alert=triggered, attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    sent = make_notification(alert=triggered, status="sent", attempts=1, sent_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "retry", "_selected_action": [failed.pk, idle.pk, busy.pk, sent.pk]},
            follow=True,
        )
    messages = [str(m) for m in response.context["messages"]]
    assert "2 notification(s) queued to send again." in messages
    assert "2 skipped: already sent, or being sent or retried right now." in messages
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 0, "421")
    assert queued_tasks(clean_redis) == [("alerts.tasks.send_notifications", [[failed.pk, idle.pk], None])]
    assert Notification.objects.get(pk=sent.pk).status == "sent"


def test_notifications_cannot_be_added_by_hand(admin_client):
    assert admin_client.get(CHANGELIST + "add/").status_code == 403


def test_the_alert_page_shows_its_notifications(admin_client, triggered, make_notification):
    make_notification(
        alert=triggered, status="sent", attempts=2, sent_at=timezone.now(), last_error="451 greylisted"
    )
    content = admin_client.get(f"/admin/alerts/alert/{triggered.pk}/change/").content.decode()
    assert f"Latest {INLINE_NOTIFICATIONS} notifications" in content  # the inline's heading
    assert "451 greylisted" in content
    assert "alice@example.com" in content


def test_a_notification_whose_channel_was_deleted_still_shows(
    admin_client, triggered, alice, make_notification
):
    from alerts.models import Channel

    hook = Channel.objects.create(
        user=alice, kind="webhook", url="https://example.com/h", secret="s", name="h"
    )
    row = make_notification(alert=triggered, channel="webhook", via=hook, last_error="gone soon")
    hook.delete()
    assert "gone soon" in admin_client.get(CHANGELIST).content.decode()
    assert admin_client.get(f"{CHANGELIST}{row.pk}/change/").status_code == 200
    assert "gone soon" in admin_client.get(f"/admin/alerts/alert/{triggered.pk}/change/").content.decode()
