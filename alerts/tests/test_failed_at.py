"""Every way a notification is given up on records when (the operations page counts the last
hour's failures by it); a retry clears it; no other status has one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.delivery import claims, outbox
from alerts.models import Notification

pytestmark = pytest.mark.django_db


def test_a_failed_send_records_when(alice, make_notification):
    notification = make_notification(alice)
    claimed = claims.claim_notification(notification.pk, expected_attempts=0)
    before = timezone.now()
    assert claims.mark_notification_failed(claimed, "HTTP 404")
    notification.refresh_from_db()
    assert notification.status == "failed"
    assert before <= notification.failed_at <= timezone.now()


def test_a_sent_or_retrying_notification_has_no_failure_time(alice, make_notification):
    sent, retrying = make_notification(alice), make_notification(alice)
    claims.mark_notification_sent(claims.claim_notification(sent.pk, expected_attempts=0))
    claimed = claims.claim_notification(retrying.pk, expected_attempts=0)
    claims.mark_notification_retry(claimed, "HTTP 503", retry_at=timezone.now() + timedelta(minutes=1))
    assert list(Notification.objects.values_list("failed_at", flat=True)) == [None, None]


def test_exhausted_attempts_found_by_the_sweeper_record_when(alice, make_notification, settings):
    stuck = make_notification(alice, attempts=settings.ALERTS_NOTIFY_MAX_ATTEMPTS)
    Notification.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=1))
    outbox.requeue_stuck()
    stuck.refresh_from_db()
    assert stuck.status == "failed" and stuck.failed_at is not None


def test_a_retry_from_the_admin_clears_it(alice, make_notification, django_capture_on_commit_callbacks):
    failed = make_notification(alice, status="failed", failed_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):
        assert outbox.retry_notifications([failed.pk]) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.failed_at) == ("pending", None)
