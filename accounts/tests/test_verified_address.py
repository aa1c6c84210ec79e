"""Verified addresses end to end: register, the link in a real SMTP mail, firings held until confirmed."""

import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from accounts.tests.mailbox import link_params, send_queued_account_emails
from alerts import engine
from alerts.delivery.send import deliver
from alerts.models import Alert, Notification
from conftest import PASSWORD
from feeds import store
from feeds.windows import PriceWindow
from tests.support.broker import queued_tasks

pytestmark = pytest.mark.django_db

HELD = "Held: the address is not confirmed yet; sent once it is."


def register(email="carol@example.com"):
    response = APIClient().post("/register", {"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.json()
    token = APIClient().post("/token", {"email": email, "password": PASSWORD}).json()["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def fire_alerts_on(symbol, price):
    """A trade past every alert on ``symbol``, after their arming: the engine fires them."""
    armed = max(Alert.objects.filter(symbol=symbol).values_list("armed_at", flat=True))
    at = int((armed + timedelta(seconds=1)).timestamp() * 1000)
    store.write_windows([PriceWindow(symbol, price, price, price, at - 100, at)])
    return engine.evaluate_pending()


def test_register_confirm_and_held_firings_are_sent_after(
    mail, clean_redis, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://alerts.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        client = register()
    assert send_queued_account_emails(clean_redis) == 1
    (welcome,) = mail.wait_for(1)
    assert welcome.rcpt_tos == ["carol@example.com"]
    token = link_params(welcome.message.get_content(), "/app/verify")["token"]
    assert "https://alerts.example.com/app/verify?token=" in welcome.message.get_content()

    # Not confirmed yet: can log in and create alerts; what fires is held, with the reason.
    me = client.get("/user").json()
    assert me["email_verified"] is False
    (email_channel,) = client.get("/channels/").json()
    assert email_channel["verified"] is False
    alert = Alert.objects.create(user_id=me["id"], symbol="BTCUSDT", direction="above", target_price="70000")
    with django_capture_on_commit_callbacks(execute=True):
        assert fire_alerts_on("BTCUSDT", "70001").fired == 1
    (held,) = Notification.objects.filter(alert=alert)
    assert (held.status, held.last_error) == ("unconfirmed", HELD)
    assert client.get(f"/alerts/{alert.pk}").json()["status"] == "triggered"
    assert not [name for name, _ in queued_tasks(clean_redis) if "send" in name]

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = APIClient().post("/verify", {"token": token})

    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["address"] == "carol@example.com"
    assert client.get("/user").json()["email_verified"] is True
    assert client.get("/channels/").json()[0]["verified"] is True
    held.refresh_from_db()
    assert (held.status, held.last_error) == ("pending", "")
    assert deliver(held.pk, None).outcome == "sent"
    alert_mail = mail.wait_for(2)[1]
    assert alert_mail.rcpt_tos == ["carol@example.com"]
    assert "BTCUSDT" in alert_mail.subject
    # Confirming again is harmless.
    assert APIClient().post("/verify", {"token": token}).status_code == 200


def test_a_confirmed_account_gets_its_firings_at_once(alice, django_capture_on_commit_callbacks):
    alert = Alert.objects.create(user=alice, symbol="ETHUSDT", direction="above", target_price="3000")
    fire_alerts_on("ETHUSDT", "3001")
    assert Notification.objects.get(alert=alert).status == "pending"


def test_with_verification_off_nothing_is_held(settings, django_capture_on_commit_callbacks):
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    client = register("dan@example.com")
    assert client.get("/user").json()["email_verified"] is True
    me = client.get("/user").json()
    alert = Alert.objects.create(user_id=me["id"], symbol="SOLUSDT", direction="above", target_price="150")
    fire_alerts_on("SOLUSDT", "151")
    assert Notification.objects.get(alert=alert).status == "pending"


def test_resend_mails_a_new_link_and_refuses_once_confirmed(
    mail, clean_redis, django_capture_on_commit_callbacks, alice
):
    with django_capture_on_commit_callbacks(execute=True):
        client = register("erin@example.com")
    send_queued_account_emails(clean_redis)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/verify/resend").status_code == 202
    send_queued_account_emails(clean_redis)
    _welcome, again = mail.wait_for(2)
    assert again.subject == "Confirm your address for pricealert"
    token = link_params(again.message.get_content(), "/app/verify")["token"]
    assert APIClient().post("/verify", {"token": token}).status_code == 200
    response = client.post("/verify/resend")
    assert (response.status_code, response.json()["detail"]) == (400, "Your address is already confirmed.")


@pytest.mark.parametrize("token", ["forged", "x" * 1000, ""])
def test_a_forged_or_empty_token_is_a_400(db, token):
    response = APIClient().post("/verify", {"token": token})
    assert response.status_code == 400


def test_an_expired_link_is_refused(settings, make_user):
    from accounts.verification import verification_token

    user = make_user("late@example.com", email_verified_at=None)
    token = verification_token(user, user.email)
    settings.ACCOUNT_VERIFICATION_LINK_DAYS = 0
    time.sleep(1.1)
    assert APIClient().post("/verify", {"token": token}).status_code == 400
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_a_password_reset_confirms_the_address(
    make_user, mail, clean_redis, django_capture_on_commit_callbacks
):
    user = make_user("frank@example.com", email_verified_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post("/password/reset", {"email": "frank@example.com"})
    send_queued_account_emails(clean_redis)
    params = link_params(mail.wait_for(1)[0].message.get_content(), "/app/password/reset/confirm")
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            APIClient()
            .post("/password/reset/confirm", {**params, "new_password": "a fresh passphrase 9"})
            .status_code
            == 204
        )
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_a_link_for_an_address_the_account_no_longer_uses_confirms_nothing(make_user, django_user_model):
    from accounts.verification import verification_token

    user = make_user("old@example.com", email_verified_at=None)
    token = verification_token(user, "old@example.com")
    django_user_model.objects.filter(pk=user.pk).update(email="new@example.com")
    assert APIClient().post("/verify", {"token": token}).status_code == 400
    user.refresh_from_db()
    assert user.email_verified_at is None
