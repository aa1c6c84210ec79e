"""The admin: watchlists listed with a way to their alerts; channel quiet hours and templates and the
account's time zone checked as the API checks them."""

from decimal import Decimal

import pytest

from alerts.models import Alert, AlertGroup, Channel

pytestmark = pytest.mark.django_db


def test_watchlists_are_listed_and_lead_to_their_alerts(admin_client, alice):
    group = AlertGroup.objects.create(user=alice)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        Alert.objects.create(
            user=alice, group=group, symbol=symbol, direction="above", target_price=Decimal("1")
        )
    page = admin_client.get("/admin/alerts/alertgroup/").content.decode()
    assert "alice@example.com" in page
    alerts_page = admin_client.get(f"/admin/alerts/alert/?group__exact={group.pk}")
    assert alerts_page.status_code == 200
    assert alerts_page.content.decode().count("USDT") >= 2


def test_a_channel_template_that_cannot_render_is_refused_in_words(admin_client, alice):
    channel = Channel.objects.create(user=alice, kind="webhook", url="https://example.com/h", secret="s")
    url = f"/admin/alerts/channel/{channel.pk}/change/"
    form = {"name": "n", "new_url": "", "enabled": "on", "quiet_hours": "", "title_template": ""}
    response = admin_client.post(url, {**form, "body_template": '{"price": {{price}}}'})
    assert response.status_code == 200 and "Not valid JSON" in response.content.decode()
    response = admin_client.post(url, {**form, "quiet_hours": "late", "body_template": ""})
    assert response.status_code == 200 and "HH:MM-HH:MM" in response.content.decode()
    response = admin_client.post(url, {**form, "quiet_hours": "off", "body_template": '{"t": "{{symbol}}"}'})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.quiet_hours, channel.body_template) == ("off", '{"t": "{{symbol}}"}')


def test_a_users_time_zone_and_quiet_hours_are_on_their_page(admin_client, alice):
    url = f"/admin/accounts/user/{alice.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "Time zone" in page and "Quiet hours" in page
