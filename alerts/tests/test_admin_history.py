"""Bulk actions leave a trace in the admin history: who ran which action, on how many, how many changed."""

import pytest
from django.contrib.admin.models import LogEntry

pytestmark = pytest.mark.django_db


def history(obj):
    return list(LogEntry.objects.filter(object_id=str(obj.pk), content_type__model=obj._meta.model_name))


@pytest.mark.parametrize(
    "action, words",
    [
        ("rearm", 'Bulk action "re-arm" on 2 selected: 1 changed.'),
        ("soft_delete", '"soft delete" on 2 selected: 2'),
    ],
)
def test_an_alert_bulk_action_is_logged_on_each_selected_alert(
    admin_client, admin_user, alice, make_alert, action, words
):
    waiting = make_alert(alice)
    fired = make_alert(alice, status="triggered")
    admin_client.post("/admin/alerts/alert/", {"action": action, "_selected_action": [waiting.pk, fired.pk]})
    for alert in (waiting, fired):
        (entry,) = history(alert)
        assert entry.user == admin_user
        assert words in entry.get_change_message()
    page = admin_client.get(f"/admin/alerts/alert/{waiting.pk}/history/").content.decode()
    assert "selected" in page and admin_user.email in page


def test_the_notification_retry_action_is_logged(admin_client, admin_user, alice, make_notification):
    failed = make_notification(alice, status="failed", attempts=3)
    admin_client.post("/admin/alerts/notification/", {"action": "retry", "_selected_action": [failed.pk]})
    (entry,) = history(failed)
    assert entry.user == admin_user
    assert 'Bulk action "retry sending" on 1 selected: 1 changed.' in entry.get_change_message()
