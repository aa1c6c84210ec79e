"""An email channel for another address: confirmed by the emailed link before it receives anything."""

from datetime import timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.mailbox import link_params, send_queued_account_emails
from alerts import engine
from alerts.delivery.send import deliver
from alerts.models import Alert, Channel, Notification
from feeds import store
from feeds.windows import PriceWindow

pytestmark = pytest.mark.django_db


def fire(symbol, price):
    armed = max(Alert.objects.filter(symbol=symbol).values_list("armed_at", flat=True))
    at = int((armed + timedelta(seconds=1)).timestamp() * 1000)
    store.write_windows([PriceWindow(symbol, price, price, price, at - 100, at)])
    return engine.evaluate_pending()


def test_another_address_gets_nothing_until_confirmed_then_its_held_firings(
    alice, alice_client, mail, clean_redis, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = alice_client.post(
            "/channels/", {"kind": "email", "name": "work", "url": "Alice@Work.Example"}
        )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["address"], body["verified"]) == ("Alice@work.example", False)
    with connection.cursor() as cursor:  # the address is encrypted at rest like any channel URL
        cursor.execute("SELECT url FROM alerts_channel WHERE id = %s", [body["id"]])
        assert "work.example" not in cursor.fetchone()[0]
    # The confirmation goes to the new address.
    assert send_queued_account_emails(clean_redis) == 1
    (confirm,) = mail.wait_for(1)
    assert confirm.rcpt_tos == ["Alice@work.example"]
    token = link_params(confirm.message.get_content(), "/app/verify")["token"]
    # A test message is refused before confirmation.
    assert alice_client.post(f"/channels/{body['id']}/test").status_code == 409

    alert = Alert.objects.create(user=alice, symbol="BTCUSDT", direction="above", target_price="70000")
    with django_capture_on_commit_callbacks(execute=True):
        fire("BTCUSDT", "70001")
    rows = {n.via_id: n for n in Notification.objects.filter(alert=alert)}
    assert rows[body["id"]].status == "unconfirmed"
    own = Channel.objects.get(user=alice, kind="email", url="")
    assert rows[own.pk].status == "pending"  # alice's own, confirmed address is not held

    with django_capture_on_commit_callbacks(execute=True):
        assert APIClient().post("/verify", {"token": token}).status_code == 200

    assert alice_client.get(f"/channels/{body['id']}").json()["verified"] is True
    held = rows[body["id"]]
    held.refresh_from_db()
    assert held.status == "pending"
    assert deliver(held.pk, None).outcome == "sent"
    assert mail.wait_for(2)[1].rcpt_tos == ["Alice@work.example"]


def test_repointing_an_address_asks_again_and_the_own_channel_takes_no_url(alice, alice_client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    created = alice_client.post("/channels/", {"kind": "email", "name": "w", "url": "a@work.example"}).json()
    assert created["verified"] is True  # a closed install trusts addresses as typed
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    moved = alice_client.patch(f"/channels/{created['id']}", {"url": "b@work.example"}).json()
    assert (moved["address"], moved["verified"]) == ("b@work.example", False)
    own = alice_client.get("/channels/").json()[0]
    response = alice_client.patch(f"/channels/{own['id']}", {"url": "c@work.example"})
    assert response.status_code == 400
    assert alice_client.post("/channels/", {"kind": "email", "url": "not an address"}).status_code == 400
    assert alice_client.post("/channels/", {"kind": "email"}).status_code == 409


def test_a_token_for_another_users_address_confirms_only_that_users_channel(
    alice, bob, alice_client, django_capture_on_commit_callbacks
):
    from accounts.verification import verification_token

    alice_client.post("/channels/", {"kind": "email", "name": "w", "url": "shared@work.example"})
    bob_channel = Channel.objects.create(user=bob, kind="email", name="w", url="shared@work.example")
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = APIClient().post("/verify", {"token": verification_token(alice, "shared@work.example")})
    assert confirmed.status_code == 200
    bob_channel.refresh_from_db()
    assert bob_channel.verified_at is None
    assert Channel.objects.get(user=alice, kind="email", url__gt="").verified_at is not None
