"""Signup, login, logout, channels and the account page through Django's test client."""

import pytest
from django.test import Client

from alerts.models import Channel
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_then_login_then_logout(client, django_user_model):
    response = client.post(
        "/app/signup", {"email": "new@example.com", "password": PASSWORD, "username": "newbie"}
    )
    assert response.status_code == 302 and response["Location"] == "/app/login?email=new%40example.com"
    page = client.get(response["Location"]).content.decode()
    assert "Registration received" in page and 'value="new@example.com"' in page
    assert django_user_model.objects.filter(email="new@example.com", username="newbie").exists()

    response = client.post("/app/login", {"email": "newbie", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert "Your alerts" in client.get("/app/").content.decode()

    assert client.post("/app/logout")["Location"] == "/app/login"
    assert client.get("/app/")["Location"].startswith("/app/login")


def test_signup_for_a_taken_address_reads_the_same(client, alice):
    response = client.post(
        "/app/signup", {"email": "alice@example.com", "password": "another long passphrase"}
    )
    assert response.status_code == 302 and response["Location"] == "/app/login?email=alice%40example.com"


def test_a_weak_password_and_a_taken_username_in_words(client, alice):
    response = client.post(
        "/app/signup", {"email": "x@example.com", "password": "12345678", "username": "alice"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "A user with this username already exists." in html.split('id="username-errors"')[1]


def test_a_wrong_password_is_the_apis_one_message(client, alice):
    response = client.post("/app/login", {"email": "alice@example.com", "password": "wrong"})
    assert response.status_code == 400
    assert "No active account found with the given credentials" in response.content.decode()
    response = client.post("/app/login", {"email": "nobody@example.com", "password": "wrong"})
    assert "No active account found with the given credentials" in response.content.decode()


def test_login_shares_the_apis_throttle(settings, client, alice):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], login_account="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for _ in range(2):
        client.post("/app/login", {"email": "alice@example.com", "password": "wrong"})
    response = client.post("/app/login", {"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(client, alice):
    response = client.post("/app/login?next=/app/channels", {"email": alice.email, "password": PASSWORD})
    assert response["Location"] == "/app/channels"
    other = Client()
    response = other.post(
        "/app/login?next=https://evil.example/", {"email": alice.email, "password": PASSWORD}
    )
    assert response["Location"] == "/app/"


def test_a_webhook_channel_shows_its_secret_once(alice, alice_web, allow_local_delivery):
    response = alice_web.post(
        "/app/channels", {"kind": "webhook", "name": "bot", "url": "http://127.0.0.1:9/in"}
    )
    assert response.status_code == 302
    hook = Channel.objects.get(user=alice, kind="webhook")
    first = alice_web.get("/app/channels").content.decode()
    assert hook.secret in first and "Shown only this once" in first
    assert hook.secret not in alice_web.get("/app/channels").content.decode()


def test_a_refused_channel_url_in_the_apis_words(alice, alice_web):
    response = alice_web.post("/app/channels", {"kind": "webhook", "url": "http://127.0.0.1:9/in"})
    assert response.status_code == 400
    errors = response.content.decode().split('id="url-errors"')[1].split("</ul>")[0]
    assert errors.strip("> \n")
    assert not Channel.objects.filter(user=alice, kind="webhook").exists()


def test_enable_disable_and_delete(alice, alice_web):
    hook = Channel.objects.create(
        user=alice, kind="webhook", name="bot", url="https://example.com/h", secret="s"
    )
    alice_web.post(f"/app/channels/{hook.pk}/enabled", {"enabled": "false"})
    hook.refresh_from_db()
    assert not hook.enabled
    assert "Enable<" in alice_web.get("/app/channels").content.decode()
    alice_web.post(f"/app/channels/{hook.pk}/enabled", {"enabled": "true"})
    hook.refresh_from_db()
    assert hook.enabled
    email = Channel.objects.get(user=alice, kind="email")
    alice_web.post(f"/app/channels/{email.pk}/delete")
    assert "The email channel cannot be deleted" in alice_web.get("/app/channels").content.decode()
    alice_web.post(f"/app/channels/{hook.pk}/delete")
    assert not Channel.objects.filter(pk=hook.pk).exists()


def test_a_test_without_a_worker_says_it_is_on_its_way(alice, alice_web, settings):
    settings.CHANNEL_TEST_WAIT_SECONDS = 0.1
    email = Channel.objects.get(user=alice, kind="email")
    page = alice_web.post(f"/app/channels/{email.pk}/test", follow=True).content.decode()
    assert "the message is on its way" in page


def test_the_account_page(alice, alice_web):
    page = alice_web.get("/app/account").content.decode()
    assert "alice@example.com" in page and ">alice<" in page and 'href="/app/channels"' in page


def test_an_email_channel_for_another_address_is_added_unconfirmed(alice, alice_web):
    # The confirmation mail and its link: alerts/tests/test_email_channel_addresses.py (same service).
    response = alice_web.post("/app/channels", {"kind": "email", "name": "work", "url": "alice@work.example"})
    assert response.status_code == 302, response.content.decode()
    channel = Channel.objects.get(user=alice, kind="email", name="work")  # url is encrypted: not a filter
    assert channel.verified_at is None
    page = alice_web.get("/app/channels").content.decode()
    assert "alice@work.example (not confirmed yet" in page
