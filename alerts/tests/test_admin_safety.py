"""The admin forms refuse, in words, what the API refuses: no admin edit can break an alert or a channel."""

from decimal import Decimal

import pytest

from alerts.models import Alert, Channel
from feeds.models import Symbol

pytestmark = pytest.mark.django_db

ADD = "/admin/alerts/alert/add/"
RAW_CONSTRAINT = "is violated"


def change_url(alert):
    return f"/admin/alerts/alert/{alert.pk}/change/"


def alert_form(user, **fields):
    data = {
        "user": user.pk,
        "symbol": "BTCUSDT",
        "direction": "above",
        "target_price": "70000",
        "repeat": "once",
        "rearm_percent": "0.1",
        "note": "",
        "notifications-TOTAL_FORMS": "0",
        "notifications-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return data


def refused(response, *words):
    assert response.status_code == 200, response.status_code  # the form again, not a redirect
    page = response.content.decode()
    assert "Please correct the error" in page
    assert RAW_CONSTRAINT not in page
    for text in words:
        assert text in page, text
    return page


def test_an_alert_cannot_be_given_another_users_channel(admin_client, alice, bob):
    bobs = Channel.objects.create(user=bob, kind="webhook", url="https://example.com/h", secret="s")
    response = admin_client.post(ADD, alert_form(alice, channels=[bobs.pk]))
    refused(response, f"Channel #{bobs.pk} belongs to another user")
    assert not Alert.objects.exists()


def test_an_alerts_change_page_offers_only_its_owners_channels(admin_client, alice, bob, make_alert):
    bobs = Channel.objects.create(user=bob, kind="webhook", url="https://example.com/h", secret="s")
    alert = make_alert(alice)
    response = admin_client.post(change_url(alert), alert_form(alice, channels=[bobs.pk]))
    assert response.status_code == 200
    assert "channels" in response.context["adminform"].form.errors
    assert not alert.channels.exists()


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"repeat": "every", "cooldown_seconds": ""}, "Required with"),
        ({"repeat": "every", "cooldown_seconds": "5"}, "Must be at least 60 seconds."),
        ({"repeat": "once", "cooldown_seconds": "120"}, "Only a repeating alert"),
        ({"rearm_percent": "100"}, "Must be at least 0 and less than 100."),
        ({"symbol": "NOPEUSDT"}, "Unknown symbol NOPEUSDT"),
        ({"target_price": "0"}, "Must be greater than 0."),
        ({"expires_at_0": "2001-01-01", "expires_at_1": "00:00:00"}, "Must be in the future."),
    ],
)
def test_a_new_alert_with_hostile_values_is_refused_in_words(admin_client, alice, fields, words):
    refused(admin_client.post(ADD, alert_form(alice, **fields)), words)
    assert not Alert.objects.exists()


def test_a_target_outside_the_symbols_price_band_is_refused(admin_client, alice):
    Symbol.objects.filter(symbol="BTCUSDT").update(max_price=Decimal("1000"))
    refused(admin_client.post(ADD, alert_form(alice)), "Must be at most 1000 for BTCUSDT.")


def test_a_repeating_alert_without_cooldown_cannot_be_saved_on_its_change_page(
    admin_client, alice, make_alert
):
    alert = make_alert(alice)
    response = admin_client.post(change_url(alert), alert_form(alice, repeat="every", cooldown_seconds=""))
    refused(response, "Required with")
    alert.refresh_from_db()
    assert (alert.repeat, alert.cooldown_seconds) == ("once", None)


def test_an_admin_change_goes_through_the_api_update(admin_client, alice, make_alert):
    """Made one-shot while re-arming, it has fired for the last time (as PATCH /alerts/<id> does)."""
    alert = make_alert(alice, repeat="every", cooldown_seconds=120, status="rearming", rearm_after_ms=1)
    response = admin_client.post(change_url(alert), alert_form(alice, repeat="once", cooldown_seconds=""))
    assert response.status_code == 302, response.content.decode()[:2000]
    alert.refresh_from_db()
    assert (alert.repeat, alert.cooldown_seconds, alert.status) == ("once", None, "triggered")


def test_a_fired_alert_is_read_only_and_there_is_no_hard_delete_action(admin_client, alice, make_alert):
    fired = make_alert(alice, status="triggered")
    response = admin_client.post(change_url(fired), alert_form(alice, target_price="1"))
    assert response.status_code == 403
    fired.refresh_from_db()
    assert fired.target_price == Decimal("70000")
    changelist = admin_client.get("/admin/alerts/alert/").content.decode()
    assert "delete_selected" not in changelist
    assert "soft_delete" in changelist


def test_the_symbol_catalogue_is_read_only(admin_client):
    page = admin_client.get("/admin/feeds/symbol/BTCUSDT/change/")
    assert page.status_code == 200
    assert 'name="max_price"' not in page.content.decode()
    response = admin_client.post("/admin/feeds/symbol/BTCUSDT/change/", {"max_price": "1", "status": "BREAK"})
    assert response.status_code == 403
    assert Symbol.objects.get(symbol="BTCUSDT").status == "TRADING"
    assert admin_client.get("/admin/feeds/symbol/add/").status_code == 403


CHANNEL_ADD = "/admin/alerts/channel/add/"


@pytest.mark.parametrize(
    "kind, url, words",
    [
        ("webhook", "not a url", "A webhook URL must be an http:// or https:// URL with a host."),
        ("webhook", "", "A webhook URL must be"),
        ("webhook", "http://127.0.0.1/hook", "not an allowed destination"),
        ("apprise", "json://10.0.0.1/", "json:// lets you pick any host"),
        ("apprise", "nonsense", "Not an Apprise URL"),
    ],
)
def test_a_channel_with_a_hostile_url_is_refused_in_words(admin_client, alice, kind, url, words):
    before = Channel.objects.count()
    response = admin_client.post(CHANNEL_ADD, {"user": alice.pk, "kind": kind, "name": "x", "new_url": url})
    refused(response, words)
    assert Channel.objects.count() == before


def test_a_new_webhook_made_in_the_admin_gets_a_secret_and_a_checked_url(admin_client, alice):
    response = admin_client.post(
        CHANNEL_ADD,
        {"user": alice.pk, "kind": "webhook", "name": "hook", "new_url": " https://example.com/h "},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get(kind="webhook")
    assert channel.url == "https://example.com/h"
    assert len(channel.secret) == 64


def test_a_second_email_channel_is_refused_in_words(admin_client, alice):
    response = admin_client.post(CHANNEL_ADD, {"user": alice.pk, "kind": "email", "name": "again"})
    refused(response, "already has an email channel")


def test_re_pointing_a_channel_is_checked_and_an_empty_url_keeps_it(admin_client, alice):
    channel = Channel.objects.create(user=alice, kind="webhook", url="https://example.com/h", secret="s")
    url = f"/admin/alerts/channel/{channel.pk}/change/"
    refused(
        admin_client.post(url, {"name": "n", "new_url": "ftp://x", "enabled": "on"}), "A webhook URL must be"
    )
    response = admin_client.post(url, {"name": "renamed", "new_url": "", "enabled": "on"})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.url) == ("renamed", "https://example.com/h")


@pytest.mark.parametrize(
    "kind, url, shown, hidden",
    [
        (
            "webhook",
            "https://user:pw@hooks.example.com:8443/t/abc123?k=zz9",
            "https://hooks.example.com:8443/",
            "abc123",
        ),
        ("apprise", "tgram://123456:AAtoken/4242", "tgram://", "AAtoken"),
    ],
)
def test_channel_urls_and_secrets_are_masked_in_the_admin(admin_client, alice, kind, url, shown, hidden):
    channel = Channel.objects.create(user=alice, kind=kind, url=url, secret="s3cr3t-signing-key")
    pages = [
        admin_client.get(f"/admin/alerts/channel/{channel.pk}/change/").content.decode(),
        admin_client.get("/admin/alerts/channel/").content.decode(),
    ]
    assert shown in pages[0]
    for page in pages:
        for secret in (hidden, "s3cr3t-signing-key", "pw@", "zz9"):
            assert secret not in page


def test_channels_have_no_bulk_delete_and_an_email_channel_cannot_be_deleted(admin_client, alice):
    changelist = admin_client.get("/admin/alerts/channel/").content.decode()
    assert "delete_selected" not in changelist
    assert 'value="disable"' in changelist and 'value="enable"' in changelist
    email = Channel.objects.get(user=alice, kind="email")
    response = admin_client.post(f"/admin/alerts/channel/{email.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Channel.objects.filter(pk=email.pk).exists()


def test_deleting_a_channel_in_the_admin_updates_its_owners_cached_alert_list(
    admin_client, alice, alice_client, make_alert, django_capture_on_commit_callbacks
):
    hook = Channel.objects.create(user=alice, kind="webhook", url="https://example.com/h", secret="s")
    alert = make_alert(alice)
    alert.channels.set([hook])
    assert alice_client.get("/alerts/").json()["results"][0]["channels"] == [hook.pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/alerts/channel/{hook.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Channel.objects.filter(pk=hook.pk).exists()
    assert alice_client.get("/alerts/").json()["results"][0]["channels"] == []


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"target_price": "-5"}, "Must be greater than 0."),
        ({"target_price": "abc"}, "Enter a number."),
        ({"target_price": "1e30"}, "no more than"),
        ({"target_price": "0.000000001"}, "no more than 8 decimal places"),
        ({"rearm_percent": "-1"}, "Must be at least 0 and less than 100."),
        ({"repeat": "every", "cooldown_seconds": "-60"}, "greater than or equal to 0"),
        ({"repeat": "sometimes"}, "Select a valid choice."),
        ({"direction": "sideways"}, "Select a valid choice."),
        ({"note": "x" * 501}, "at most 500 characters"),
        ({"user_id": "999999"}, "Select a valid choice."),
    ],
)
def test_more_hostile_alert_values_are_refused_in_words(admin_client, alice, fields, words):
    form = alert_form(alice, **fields)
    if "user_id" in form:  # no such user
        form["user"] = form.pop("user_id")
    refused(admin_client.post(ADD, form), words)
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"target_price": "0"}, "Must be greater than 0."),
        ({"rearm_percent": "100"}, "Must be at least 0 and less than 100."),
        ({"repeat": "every", "cooldown_seconds": "5"}, "Must be at least 60 seconds."),
        ({"expires_at_0": "2001-01-01", "expires_at_1": "00:00:00"}, "Must be in the future."),
    ],
)
def test_a_waiting_alerts_change_page_refuses_hostile_values_in_words(
    admin_client, alice, make_alert, fields, words
):
    alert = make_alert(alice)
    refused(admin_client.post(change_url(alert), alert_form(alice, **fields)), words)
    alert.refresh_from_db()
    assert (alert.target_price, alert.repeat, alert.expires_at) == (Decimal("70000"), "once", None)


@pytest.mark.parametrize(
    "fields, words",
    [
        (
            {"kind": "webhook", "name": "n" * 101, "new_url": "https://example.com/h"},
            "at most 100 characters",
        ),
        ({"kind": "webhook", "new_url": "https://example.com/" + "a" * 2000}, "at most 2000 characters"),
        ({"kind": "webhook", "new_url": "http://169.254.169.254/latest"}, "not an allowed destination"),
        ({"kind": "telegram", "new_url": "https://example.com/h"}, "Select a valid choice."),
        ({"kind": "apprise", "new_url": "json://127.0.0.1:8080/"}, "json:// lets you pick any host"),
    ],
)
def test_more_hostile_channel_values_are_refused_in_words(admin_client, alice, fields, words):
    before = Channel.objects.count()
    refused(admin_client.post(CHANNEL_ADD, {"user": alice.pk, "name": "x", **fields}), words)
    assert Channel.objects.count() == before
