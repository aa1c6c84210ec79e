"""Bulk actions leave a trace in the admin history: who ran which action, on how many, how many changed."""

import pytest
from django.contrib.admin.models import LogEntry

from alerts.models import Channel, Notification
from conftest import client_for

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


@pytest.mark.parametrize(
    "action, start_enabled, words, enabled_after, reason_after",
    [
        (
            "disable",
            [True, False],
            'Bulk action "disable" on 2 selected: 1 changed.',
            False,
            "Disabled by an operator.",
        ),
        ("enable", [False, True], 'Bulk action "enable" on 2 selected: 1 changed.', True, ""),
    ],
)
def test_channel_bulk_switches_are_logged_and_tell_the_owner(
    admin_client, admin_user, alice, action, start_enabled, words, enabled_after, reason_after
):
    channels = [
        Channel.objects.create(
            user=alice,
            kind="webhook",
            name=f"h{n}",
            url="https://e.com/h",
            secret="s",
            enabled=enabled,
            disabled_reason="" if enabled else "Disabled by an operator.",
        )
        for n, enabled in enumerate(start_enabled)
    ]
    response = admin_client.post(
        "/admin/alerts/channel/", {"action": action, "_selected_action": [c.pk for c in channels]}
    )
    assert response.status_code == 302
    for channel in channels:
        (entry,) = history(channel)
        assert entry.user == admin_user and words in entry.get_change_message()
        channel.refresh_from_db()
        assert (channel.enabled, channel.disabled_reason) == (enabled_after, reason_after)
    # The owner reads why in the API.
    body = client_for(alice).get(f"/channels/{channels[0].pk}").json()
    assert (body["enabled"], body["disabled_reason"]) == (enabled_after, reason_after)


def test_retrying_a_channels_failures_is_logged_and_leaves_other_channels_alone(
    admin_client, admin_user, alice, make_notification, django_capture_on_commit_callbacks
):
    hook, other = (
        Channel.objects.create(user=alice, kind="webhook", name=n, url="https://e.com/h", secret="s")
        for n in ("a", "b")
    )
    mine = [make_notification(alice, via=hook, status="failed") for _ in range(2)]
    sent = make_notification(alice, via=hook, status="sent")
    elsewhere = make_notification(alice, via=other, status="failed")
    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post("/admin/alerts/channel/", {"action": "retry_failed", "_selected_action": [hook.pk]})
    assert [n.status for n in Notification.objects.filter(pk__in=[m.pk for m in mine])] == ["pending"] * 2
    assert Notification.objects.get(pk=sent.pk).status == "sent"
    assert Notification.objects.get(pk=elsewhere.pk).status == "failed"
    (entry,) = history(hook)
    assert 'Bulk action "retry failed notifications" on 1 selected: 2 changed.' in entry.get_change_message()
