"""Operators find notifications by user, see which channels fail, and go from a user to their records."""

import pytest
from django.utils import timezone

from alerts.models import Channel, Notification

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/admin/alerts/notification/"


def test_notifications_show_and_search_the_users_email(admin_client, alice, bob, make_notification):
    hook = Channel.objects.create(
        user=alice, kind="webhook", name="my-hook", url="https://e.com/h", secret="s"
    )
    mine = make_notification(alice, via=hook, channel="webhook")
    Notification.objects.filter(pk=mine.pk).update(to="my-hook", user=alice)  # as the outbox writes it
    make_notification(bob)
    response = admin_client.get(NOTIFICATIONS, {"q": "alice@example"})
    assert [n.pk for n in response.context["cl"].result_list] == [mine.pk]
    assert "alice@example.com" in response.content.decode()
    assert admin_client.get(NOTIFICATIONS, {"user__exact": alice.pk}).context["cl"].result_count == 1


def test_channels_show_failures_last_error_and_last_delivery_in_one_query(
    admin_client, alice, bob, make_notification, django_assert_max_num_queries
):
    hooks = [
        Channel.objects.create(
            user=user, kind="webhook", name=f"h{user.pk}", url="https://e.com/h", secret="s"
        )
        for user in (alice, bob)
    ]
    sent_at = timezone.now()
    make_notification(alice, via=hooks[0], status="failed", last_error="old failure")
    make_notification(alice, via=hooks[0], status="failed", last_error="HTTP 500")
    make_notification(alice, via=hooks[0], status="sent", sent_at=sent_at)
    response = admin_client.get("/admin/alerts/channel/")
    shown = {channel.pk: channel for channel in response.context["cl"].result_list}
    assert (shown[hooks[0].pk].failure_count, shown[hooks[0].pk].last_error) == (2, "HTTP 500")
    assert shown[hooks[0].pk].last_sent_at == sent_at
    assert (shown[hooks[1].pk].failure_count, shown[hooks[1].pk].last_sent_at) == (0, None)
    assert "HTTP 500" in response.content.decode()
    for user in (alice, bob):  # more channels: the same number of queries
        for n in range(5):
            Channel.objects.create(user=user, kind="apprise", url="ntfys://topic", name=f"a{n}")
    with django_assert_max_num_queries(12):
        admin_client.get("/admin/alerts/channel/")


def test_a_users_page_links_to_their_alerts_channels_and_notifications(admin_client, alice):
    page = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    for model in ("alert", "channel", "notification"):
        link = f"/admin/alerts/{model}/?user__exact={alice.pk}"
        assert link in page
        assert admin_client.get(link).status_code == 200


def test_an_alert_page_shows_only_its_latest_deliveries_and_links_to_all(
    admin_client, alice, make_notification
):
    first = make_notification(alice, status="sent")
    alert = first.alert
    for firing in range(2, 31):
        Notification.objects.create(alert=alert, user=alice, to="alice@example.com", firing=firing)
    response = admin_client.get(f"/admin/alerts/alert/{alert.pk}/change/")
    (inline,) = response.context["inline_admin_formsets"]
    assert len(inline.formset.forms) == 20
    assert first.pk not in {form.instance.pk for form in inline.formset.forms}
    page = response.content.decode()
    assert f"/admin/alerts/notification/?alert__exact={alert.pk}" in page
    assert "30 notification(s)" in page
    assert admin_client.get(NOTIFICATIONS, {"alert__exact": alert.pk}).context["cl"].result_count == 30
