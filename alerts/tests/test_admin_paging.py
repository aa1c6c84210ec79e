"""The big admin lists: counted only up to a cap (and saying so), searched by index-friendly terms."""

import pytest

from alerts import admin_lists
from alerts.admin import AlertAdmin
from alerts.models import Alert, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_cap(monkeypatch):
    """A cap of 5 and pages of 2 alerts, so that a few alerts go past both."""
    monkeypatch.setattr(admin_lists, "CAPPED_COUNT", 5)
    monkeypatch.setattr(AlertAdmin, "list_per_page", 2)


def test_a_list_past_the_cap_says_more_than_and_offers_no_select_all_across(
    admin_client, alice, make_alert, small_cap
):
    for _ in range(7):
        make_alert(alice)
    response = admin_client.get("/admin/alerts/alert/", {"o": "1"})
    page = response.content.decode()
    assert response.context["cl"].paginator.capped
    assert "more than 5 alerts: the first 5 are paged" in page
    # No "select all across pages": no action on an unknown number of alerts.
    assert 'class="question' not in page and "Select all 6" not in page


def test_a_list_within_the_cap_counts_exactly(admin_client, alice, make_alert, small_cap):
    for _ in range(3):
        make_alert(alice)
    response = admin_client.get("/admin/alerts/alert/")
    assert not response.context["cl"].paginator.capped
    assert response.context["cl"].result_count == 3
    page = response.content.decode()
    assert "3 alerts" in page and "more than" not in page
    assert 'class="question' in page and "Select all 3 alerts" in page  # as Django offers it


def test_the_count_reads_at_most_the_cap_plus_one(alice, make_alert, small_cap, django_assert_num_queries):
    for _ in range(7):
        make_alert(alice)
    paginator = admin_lists.CappedCountPaginator(Alert.objects.order_by("-id"), 2)
    with django_assert_num_queries(1) as queries:
        assert paginator.count == 6
    assert "LIMIT 6" in queries.captured_queries[0]["sql"]
    assert paginator.num_pages == 3


def results(admin_client, model, term) -> list[int]:
    response = admin_client.get(f"/admin/alerts/{model}/", {"q": term})
    assert response.status_code == 200
    return sorted(row.pk for row in response.context["cl"].result_list)


def test_alerts_are_found_by_id_symbol_or_part_of_an_email(admin_client, alice, bob, make_alert):
    btc = make_alert(alice, symbol="BTCUSDT")
    eth = make_alert(bob, symbol="ETHUSDT", target_price="3000")
    assert results(admin_client, "alert", str(eth.pk)) == [eth.pk]
    assert results(admin_client, "alert", "ethusdt") == [eth.pk]
    assert results(admin_client, "alert", "alice@exa") == [btc.pk]
    assert results(admin_client, "alert", "nobody") == []
    assert results(admin_client, "alert", "9" * 30) == []  # past any id: nothing, not an error


def test_notifications_are_found_by_their_id_their_alerts_symbol_or_the_users_email(
    admin_client, alice, bob, make_notification, make_alert
):
    mine = make_notification(alice)
    Notification.objects.filter(pk=mine.pk).update(user=alice)
    other_alert = make_alert(bob, symbol="ETHUSDT", target_price="3000", status="triggered")
    theirs = Notification.objects.create(alert=other_alert, user=bob, to="hook-name", channel="webhook")
    assert results(admin_client, "notification", "alice@example") == [mine.pk]
    assert results(admin_client, "notification", "ETHUSDT") == [theirs.pk]
    assert results(admin_client, "notification", str(other_alert.pk)) == [theirs.pk]  # the alert's id
    assert results(admin_client, "notification", str(mine.pk)) == [mine.pk]


def test_notifications_filter_by_channel_kind_without_reading_the_table(
    admin_client, alice, make_notification
):
    email = make_notification(alice)
    hook = make_notification(alice, channel="webhook")
    response = admin_client.get("/admin/alerts/notification/", {"channel": "webhook"})
    assert [row.pk for row in response.context["cl"].result_list] == [hook.pk]
    assert email.pk not in [row.pk for row in response.context["cl"].result_list]
    page = admin_client.get("/admin/alerts/notification/").content.decode()
    assert "?channel=apprise" in page  # every kind offered, even one with no notification yet


def test_the_big_lists_sort_only_by_an_index_even_when_a_url_asks_otherwise(admin_client, alice, make_alert):
    low, high = make_alert(alice, trigger_count=9), make_alert(alice, trigger_count=1)
    page = admin_client.get("/admin/alerts/alert/").content.decode()
    assert 'href="?o=1"' in page  # the id column sorts
    assert "?o=8" not in page  # "fired" does not offer to
    response = admin_client.get("/admin/alerts/alert/", {"o": "8"})  # fired, ascending, asked by hand
    assert [alert.pk for alert in response.context["cl"].result_list] == [high.pk, low.pk]  # newest first
    order_by = str(response.context["cl"].queryset.query).split("ORDER BY")[1]
    assert "trigger_count" not in order_by and "created_at" in order_by
