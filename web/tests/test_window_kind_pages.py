"""Issue 18's kinds through the web app's forms (Django test client): moves within a window, volume
spikes, watchlists (with their page: pause, resume, delete all), snooze, the deliveries' reasons,
and the channels' quiet hours and templates; refusals in the API's words next to their field;
another user's objects are 404 pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertGroup, Channel, Notification

pytestmark = pytest.mark.django_db


def post_alert(client, **fields):
    return client.post("/app/alerts/new", {"repeat": "once", "rearm_percent": "0.1", **fields})


def errors_of(html: str, field: str) -> str:
    """The text of the error list shown next to ``field`` (empty when there is none)."""
    marker = f'<ul class="errors" id="{field}-errors">'
    if marker not in html:
        return ""
    return html.split(marker, 1)[1].split("</ul>", 1)[0]


# --- The create form: every kind --------------------------------------------------------------


def test_a_move_alert_from_the_form(alice, alice_web):
    # Without script every field is posted: the price direction ("") and the move's ("up"), and a
    # stray target price; the kind decides what is sent.
    response = alice_web.post(
        "/app/alerts/new",
        {
            "kind": "move",
            "symbol": "btcusdt",
            "target_price": "70000",
            "direction": ["", "up"],
            "move_percent": "5",
            "window": "1h",
            "repeat": "once",
            "rearm_percent": "0.1",
        },
    )
    (alert,) = Alert.objects.filter(user=alice)
    assert response.status_code == 302 and response["Location"] == f"/app/alerts/{alert.pk}"
    assert (alert.kind, alert.move_percent, alert.move_direction, alert.window, alert.target_price) == (
        "move",
        Decimal("5"),
        "up",
        "1h",
        None,
    )
    page = alice_web.get(response["Location"]).content.decode()
    assert "up 5% within 1h" in page and "move within a window" in page
    assert "only the price and its firings are drawn" in page
    assert "up 5% within 1h" in alice_web.get("/app/").content.decode()


def test_a_volume_spike_from_the_form(alice, alice_web):
    response = post_alert(
        alice_web, kind="volume", symbol="SOLUSDT", volume_quote="25000000", window="5m", direction=""
    )
    (alert,) = Alert.objects.filter(user=alice)
    assert response.status_code == 302
    assert (alert.kind, alert.volume_quote, alert.window) == ("volume", Decimal("25000000"), "5m")
    assert "quote volume 25,000,000 within 5m" in alice_web.get("/app/").content.decode()


def test_a_bad_move_is_refused_in_the_api_words_next_to_its_fields(alice, alice_web):
    response = post_alert(
        alice_web, kind="move", symbol="BTCUSDT", move_percent="", direction="sideways", window="2h"
    )
    html = response.content.decode()
    assert response.status_code == 400 and not Alert.objects.filter(user=alice).exists()
    assert "This field is required." in errors_of(html, "move_percent")
    assert "Must be &quot;up&quot;, &quot;down&quot; or &quot;either&quot;." in errors_of(
        html, "move-direction"
    )
    assert "Must be one of 1m, 5m, 15m, 1h, 4h, 24h." in errors_of(html, "window")
    # The form comes back as it was, the move still chosen.
    assert 'id="kind-move" name="kind" value="move" checked' in html


def test_a_volume_below_the_minimum_is_refused(alice, alice_web):
    response = post_alert(alice_web, kind="volume", symbol="BTCUSDT", volume_quote="0", window="5m")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Ensure this value is greater than or equal to" in errors_of(html, "volume_quote")


def test_a_watchlist_of_moves_is_one_alert_per_symbol_answered_by_its_page(alice, alice_web):
    response = post_alert(
        alice_web,
        kind="move",
        symbols="btcusdt, ETHUSDT\nSOLUSDT",
        move_percent="8",
        direction="down",
        window="24h",
    )
    (group,) = AlertGroup.objects.filter(user=alice)
    assert response.status_code == 302 and response["Location"] == f"/app/groups/{group.pk}"
    alerts = list(group.alerts.order_by("id"))
    assert [a.symbol for a in alerts] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert {(a.kind, a.move_direction, a.window) for a in alerts} == {("move", "down", "24h")}
    page = alice_web.get(response["Location"]).content.decode()
    assert page.count("down 8% within 24h") == 3 and "Pause all" in page and "Delete all" in page
    dashboard = alice_web.get("/app/").content.decode()
    assert dashboard.count(f'href="/app/groups/{group.pk}"') == 3


def test_a_watchlist_of_price_alerts(alice, alice_web, fresh_price):
    fresh_price("BTCUSDT", "65000")
    fresh_price("ETHUSDT", "3000")
    post_alert(alice_web, kind="price", symbols="BTCUSDT ETHUSDT", change_percent="-5")
    (group,) = AlertGroup.objects.filter(user=alice)
    assert sorted(group.alerts.values_list("symbol", "target_price")) == [
        ("BTCUSDT", Decimal("61750")),
        ("ETHUSDT", Decimal("2850")),
    ]


def test_a_bad_watchlist_is_refused_in_the_api_words(alice, alice_web, settings):
    response = post_alert(
        alice_web, kind="move", symbols="BTCUSDT NOSUCHCOIN", move_percent="5", direction="up", window="1h"
    )
    assert response.status_code == 400 and not Alert.objects.filter(user=alice).exists()
    assert "NOSUCHCOIN: Unknown symbol NOSUCHCOIN" in errors_of(response.content.decode(), "symbols")
    both = post_alert(
        alice_web,
        kind="move",
        symbol="BTCUSDT",
        symbols="ETHUSDT",
        move_percent="5",
        direction="up",
        window="1h",
    )
    assert "Send symbol or symbols, not both." in errors_of(both.content.decode(), "symbols")
    settings.ALERTS_MAX_SYMBOLS_PER_GROUP = 2
    many = post_alert(
        alice_web, kind="volume", symbols="BTCUSDT ETHUSDT SOLUSDT", volume_quote="1", window="5m"
    )
    assert "At most 2 symbols in one watchlist (3 sent)." in errors_of(many.content.decode(), "symbols")


def test_each_kind_is_checked_by_the_serializer_the_api_picks_for_it():
    from alerts.serializers import create_input_serializer
    from web.views.alert_forms import KIND_SERIALIZERS

    bodies = {"price": {"target_price": "1"}, "move": {"move_percent": "5"}, "volume": {"volume_quote": "1"}}
    for kind, body in bodies.items():
        assert type(create_input_serializer(body)) is KIND_SERIALIZERS[kind], kind


def test_the_form_offers_every_kind_with_the_api_field_names(alice_web):
    html = alice_web.get("/app/alerts/new").content.decode()
    for name in ("symbols", "move_percent", "volume_quote", "window", "target_price", "change_percent"):
        assert f'name="{name}"' in html, name
    assert html.count('name="kind"') == 3 and 'data-kind-input="kind"' in html
    assert 'data-kinds="move volume"' in html


def test_a_window_alert_edits_only_what_the_api_lets_change(alice, alice_web):
    alice_web.post(
        "/app/alerts/new",
        {
            "kind": "move",
            "symbol": "BTCUSDT",
            "move_percent": "5",
            "direction": "either",
            "window": "15m",
            "repeat": "once",
        },
    )
    (alert,) = Alert.objects.filter(user=alice)
    form = alice_web.get(f"/app/alerts/{alert.pk}/edit").content.decode()
    assert 'name="target_price"' not in form and "cannot change: duplicate it instead" in form
    response = alice_web.post(
        f"/app/alerts/{alert.pk}/edit", {"repeat": "every", "cooldown_seconds": "10", "note": "hi"}
    )
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 60." in errors_of(
        response.content.decode(), "cooldown_seconds"
    )
    response = alice_web.post(
        f"/app/alerts/{alert.pk}/edit", {"repeat": "every", "cooldown_seconds": "600", "note": "hi"}
    )
    alert.refresh_from_db()
    assert response.status_code == 302 and (alert.repeat, alert.cooldown_seconds, alert.note) == (
        "every",
        600,
        "hi",
    )
    assert (alert.move_direction, alert.window) == ("either", "15m")
    duplicate = alice_web.get(f"/app/alerts/new?from={alert.pk}").content.decode()
    assert (
        'id="kind-move" name="kind" value="move" checked' in duplicate and 'value="15m" selected' in duplicate
    )


# --- Watchlists: pause, resume, delete all ------------------------------------------------------


def make_watchlist(client, user) -> AlertGroup:
    post_alert(client, kind="volume", symbols="BTCUSDT ETHUSDT", volume_quote="1000000", window="5m")
    return AlertGroup.objects.get(user=user)


def test_pause_resume_and_delete_a_watchlist(alice, alice_web):
    group = make_watchlist(alice_web, alice)
    alice_web.post(f"/app/groups/{group.pk}/paused", {"paused": "true"})
    assert set(group.alerts.values_list("status", flat=True)) == {"paused"}
    (first, _) = group.alerts.order_by("id")
    page = alice_web.get(f"/app/alerts/{first.pk}").content.decode()
    assert ">paused<" in page and f'action="/app/groups/{group.pk}/paused"' in page
    assert "Resume all" in alice_web.get(f"/app/groups/{group.pk}").content.decode()
    assert ">paused<" in alice_web.get("/app/").content.decode()
    alice_web.post(f"/app/groups/{group.pk}/paused", {"paused": "false"})
    assert set(group.alerts.values_list("status", flat=True)) == {"created"}
    response = alice_web.post(f"/app/groups/{group.pk}/delete")
    assert response.status_code == 302 and not AlertGroup.objects.filter(pk=group.pk).exists()
    assert set(Alert.objects.filter(user=alice).values_list("status", flat=True)) == {"deleted"}


def test_a_resume_past_the_cap_is_refused_in_the_api_words(alice, alice_web, settings):
    group = make_watchlist(alice_web, alice)
    alice_web.post(f"/app/groups/{group.pk}/paused", {"paused": "true"})
    settings.ALERTS_MAX_WAITING_PER_USER = 1
    response = alice_web.post(f"/app/groups/{group.pk}/paused", {"paused": "false"}, follow=True)
    assert "active alerts" in response.content.decode()
    assert set(group.alerts.values_list("status", flat=True)) == {"paused"}


def test_another_users_watchlist_is_a_404_and_unchanged(alice, alice_web, bob_web):
    group = make_watchlist(alice_web, alice)
    assert bob_web.get(f"/app/groups/{group.pk}").status_code == 404
    assert bob_web.post(f"/app/groups/{group.pk}/paused", {"paused": "true"}).status_code == 404
    assert bob_web.post(f"/app/groups/{group.pk}/delete").status_code == 404
    assert set(group.alerts.values_list("status", flat=True)) == {"created"}


# --- Snooze and the deliveries' reasons ---------------------------------------------------------


def test_snooze_an_alert_until_a_time_and_end_it(alice, alice_web, make_alert):
    alert = make_alert(alice)
    until = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    response = alice_web.post(f"/app/alerts/{alert.pk}/snooze", {"until": until.strftime("%Y-%m-%dT%H:%M")})
    alert.refresh_from_db()
    assert response.status_code == 302 and alert.snoozed_until == until
    page = alice_web.get(f"/app/alerts/{alert.pk}").content.decode()
    assert f'until <time datetime="{until.isoformat()}"' in page and "End the snooze" in page
    dashboard = alice_web.get("/app/").content.decode()
    assert "snoozed until" in dashboard and f'href="/app/alerts/{alert.pk}#snooze"' in dashboard
    alice_web.post(f"/app/alerts/{alert.pk}/snooze", {"end": "1"})
    alert.refresh_from_db()
    assert alert.snoozed_until is None


def test_a_snooze_in_the_past_is_refused_in_the_api_words(alice, alice_web, make_alert):
    alert = make_alert(alice)
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = alice_web.post(f"/app/alerts/{alert.pk}/snooze", {"until": past})
    assert response.status_code == 400
    assert "Must be in the future (or null to end the snooze)." in errors_of(
        response.content.decode(), "until"
    )
    garbage = alice_web.post(f"/app/alerts/{alert.pk}/snooze", {"until": "soon"})
    assert "Datetime has wrong format." in errors_of(garbage.content.decode(), "until")
    alert.refresh_from_db()
    assert alert.snoozed_until is None


def test_another_users_alert_cannot_be_snoozed(alice, bob_web, make_alert):
    alert = make_alert(alice)
    until = (timezone.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    assert bob_web.post(f"/app/alerts/{alert.pk}/snooze", {"until": until}).status_code == 404
    alert.refresh_from_db()
    assert alert.snoozed_until is None


def test_the_firing_history_says_why_a_delivery_was_not_sent(alice, alice_web, make_notification):
    held_until = timezone.now() + timedelta(hours=5)
    first = make_notification(alice, status=Notification.Status.SNOOZED)
    make_notification(
        alert=first.alert, status=Notification.Status.HELD, held_until=held_until, channel="webhook"
    )
    make_notification(alert=first.alert, status=Notification.Status.UNCONFIRMED, channel="apprise")
    page = alice_web.get(f"/app/alerts/{first.alert.pk}").content.decode()
    assert "the alert was snoozed when it fired: recorded, never sent" in page
    assert f"sent in one digest when they end at {held_until:%Y-%m-%d %H:%M} UTC" in page
    assert "the address is not confirmed yet: sent once it is" in page


# --- Channels: quiet hours and templates ---------------------------------------------------------


def test_a_webhook_with_quiet_hours_and_a_json_template(alice, alice_web):
    response = alice_web.post(
        "/app/channels",
        {
            "kind": "webhook",
            "name": "bot",
            "url": "https://example.com/hook",
            "quiet_hours_mode": "own",
            "quiet_hours": "23:00-07:00",
            "title_template": "",
            "body_template": '{"text": "{{symbol}} at {{price}}"}',
        },
    )
    assert response.status_code == 302
    channel = Channel.objects.get(user=alice, kind="webhook")
    assert (
        channel.quiet_hours == "23:00-07:00"
        and channel.body_template == '{"text": "{{symbol}} at {{price}}"}'
    )
    assert "23:00-07:00" in alice_web.get("/app/channels").content.decode()


def test_bad_quiet_hours_and_templates_are_refused_in_the_api_words(alice, alice_web):
    base = {"kind": "webhook", "url": "https://example.com/hook", "quiet_hours_mode": "own"}
    bad_hours = alice_web.post("/app/channels", {**base, "quiet_hours": "25:00-07:00"})
    assert bad_hours.status_code == 400 and errors_of(bad_hours.content.decode(), "quiet_hours")
    bad_json = alice_web.post(
        "/app/channels", {**base, "quiet_hours": "", "quiet_hours_mode": "off", "body_template": "{not json"}
    )
    assert bad_json.status_code == 400 and errors_of(bad_json.content.decode(), "body_template")
    title = alice_web.post(
        "/app/channels", {**base, "quiet_hours_mode": "account", "title_template": "{{symbol}}"}
    )
    assert "Only an Apprise channel has a title template." in errors_of(
        title.content.decode(), "title_template"
    )
    missing = alice_web.post("/app/channels", {**base, "quiet_hours": ""})
    assert "HH:MM-HH:MM" in errors_of(missing.content.decode(), "quiet_hours")
    assert not Channel.objects.filter(user=alice, kind="webhook").exists()


def test_edit_a_channels_quiet_hours_and_template(alice, alice_web):
    channel = Channel.objects.create(
        user=alice, kind="apprise", name="tg", url="tgram://123456789:abcdefg_hijklmnop/12345"
    )
    form = alice_web.get(f"/app/channels/{channel.pk}/edit").content.decode()
    assert (
        'name="title_template"' in form
        and 'id="quiet-account" name="quiet_hours_mode" value="account" checked' in form
    )
    response = alice_web.post(
        f"/app/channels/{channel.pk}/edit",
        {
            "name": "tg",
            "quiet_hours_mode": "off",
            "title_template": "{{symbol}}!",
            "body_template": "at {{price}}",
        },
    )
    channel.refresh_from_db()
    assert response.status_code == 302
    assert (channel.quiet_hours, channel.title_template, channel.body_template) == (
        "off",
        "{{symbol}}!",
        "at {{price}}",
    )
    edit = f"/app/channels/{channel.pk}/edit"
    bad_hours = alice_web.post(edit, {"quiet_hours_mode": "own", "quiet_hours": "7pm"})
    bad_template = alice_web.post(edit, {"quiet_hours_mode": "off", "body_template": "{{nope}}"})
    assert bad_hours.status_code == bad_template.status_code == 400
    assert errors_of(bad_hours.content.decode(), "quiet_hours")
    assert "nope" in errors_of(bad_template.content.decode(), "body_template")
    channel.refresh_from_db()
    assert (channel.quiet_hours, channel.body_template) == ("off", "at {{price}}")


def test_another_users_channel_cannot_be_edited(alice, bob_web):
    channel = Channel.objects.create(user=alice, kind="webhook", name="mine", url="https://example.com/h")
    assert bob_web.get(f"/app/channels/{channel.pk}/edit").status_code == 404
    assert bob_web.post(f"/app/channels/{channel.pk}/edit", {"quiet_hours_mode": "off"}).status_code == 404
    channel.refresh_from_db()
    assert channel.quiet_hours == ""


def test_a_channel_test_shows_its_rendered_preview(alice, alice_web, settings):
    settings.CHANNEL_TEST_WAIT_SECONDS = 0.1  # no worker here: the page says it is on its way
    channel = Channel.objects.create(
        user=alice,
        kind="webhook",
        name="bot",
        url="https://example.com/h",
        body_template='{"text": "{{symbol}} hit {{price}}"}',
    )
    page = alice_web.post(f"/app/channels/{channel.pk}/test", follow=True).content.decode()
    assert "What the test of bot sent" in page
    body = page.split('<pre id="preview-body">', 1)[1].split("</pre>", 1)[0]
    assert body.startswith("{&quot;text&quot;: &quot;") and "{{symbol}}" not in body and " hit " in body
    # Shown once: the next view of the page no longer has it.
    assert "What the test of" not in alice_web.get("/app/channels").content.decode()


def test_another_users_channel_cannot_be_tested(alice, bob_web):
    channel = Channel.objects.create(user=alice, kind="webhook", name="mine", url="https://example.com/h")
    assert bob_web.post(f"/app/channels/{channel.pk}/test").status_code == 404
