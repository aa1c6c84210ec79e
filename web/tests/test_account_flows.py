"""The account pages through Django's test client: address confirmation, password reset and change,
preferences, API keys, log out everywhere, account deletion.

Mails go through the real SMTP server of the ``mail`` fixture (the send tasks are run off the real
Redis broker as a worker would) and the links are read out of them, as a person would click them.
"""

import re
from html import escape as html_escape

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.tests.mailbox import link_params, send_queued_account_emails
from alerts.models import Alert
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"


def web_login(email, password=PASSWORD) -> Client:
    client = Client()
    response = client.post("/app/login", {"email": email, "password": password})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def api_session(email, password=PASSWORD) -> dict:
    response = APIClient().post("/token", {"email": email, "password": password})
    assert response.status_code == 200, response.json()
    return response.json()


def bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def errors_of(html: str, element_id: str) -> str:
    assert f'id="{element_id}"' in html, f"no #{element_id} on the page"
    return html.split(f'id="{element_id}"')[1].split("</ul>")[0]


def mailed(mail, clean_redis, count=1):
    assert send_queued_account_emails(clean_redis) >= 1
    return mail.wait_for(count)[count - 1].message.get_content()


# --- Address confirmation ---------------------------------------------------------------------


def test_signup_then_confirm_with_the_mailed_link(
    client, mail, clean_redis, settings, django_capture_on_commit_callbacks, django_user_model
):
    settings.SITE_URL = "https://alerts.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/app/signup", {"email": "carol@example.com", "password": PASSWORD})
    text = mailed(mail, clean_redis)
    assert "https://alerts.example.com/app/verify?token=" in text
    assert 'POST /verify {"token": "' in text  # the API call is still in the mail
    token = link_params(text, "/app/verify")["token"]

    carol = web_login("carol@example.com")
    dashboard = carol.get("/app/").content.decode()
    assert 'id="unconfirmed-banner"' in dashboard and "Nothing is delivered to carol@example.com" in dashboard

    # Opening the link changes nothing (mail scanners fetch links): it shows a button.
    page = carol.get(f"/app/verify?token={token}").content.decode()
    assert "Confirm my address" in page and f'value="{token}"' in page
    assert django_user_model.objects.get(email="carol@example.com").email_verified_at is None

    response = carol.post("/app/verify", {"token": token})
    assert response.status_code == 200
    assert "Address confirmed: notifications to it are sent from now on" in response.content.decode()
    assert django_user_model.objects.get(email="carol@example.com").email_verified_at is not None
    assert 'id="unconfirmed-banner"' not in carol.get("/app/").content.decode()
    # Confirming again is harmless, and works without being signed in.
    assert Client().post("/app/verify", {"token": token}).status_code == 200


def test_a_bad_or_expired_token_is_refused_in_the_apis_words(client, settings, make_user):
    response = client.post("/app/verify", {"token": "not-a-token"})
    assert response.status_code == 400
    assert "This confirmation link is invalid or has expired: ask for a new one." in errors_of(
        response.content.decode(), "token-errors"
    )
    assert client.get("/app/verify").status_code == 200  # no token: said so, no button
    assert "Confirm my address" not in client.get("/app/verify").content.decode()


def test_confirming_is_throttled_like_the_api(client, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], token_confirm_ip="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for _ in range(2):
        assert client.post("/app/verify", {"token": "x"}).status_code == 400
    response = client.post("/app/verify", {"token": "x"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    # The page and the API spend one budget.
    assert APIClient().post("/verify", {"token": "x"}).status_code == 429


def test_resend_the_link_from_the_account_page_throttled(
    make_user, mail, clean_redis, settings, django_capture_on_commit_callbacks
):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], verify_resend="1/hour")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    make_user("dave@example.com", email_verified_at=None)
    dave = web_login("dave@example.com")
    account = dave.get("/app/account").content.decode()
    assert "Resend the link" in account and ">no: nothing is delivered to it until it is<" in account
    with django_capture_on_commit_callbacks(execute=True):
        page = dave.post("/app/account/verify/resend", follow=True).content.decode()
    assert "A new confirmation link is on its way to your address." in page
    assert link_params(mailed(mail, clean_redis), "/app/verify")["token"]
    page = dave.post("/app/account/verify/resend", follow=True).content.decode()
    assert "Too many attempts" in page


def test_a_confirmed_account_sees_no_banner_and_no_resend(alice_web):
    assert 'id="unconfirmed-banner"' not in alice_web.get("/app/").content.decode()
    account = alice_web.get("/app/account").content.decode()
    assert "Resend the link" not in account and 'id="email-verified">yes<' in account
    page = alice_web.post("/app/account/verify/resend", follow=True).content.decode()
    assert "Your address is already confirmed." in page


# --- Password reset and change ----------------------------------------------------------------


def test_reset_request_always_answers_the_same(
    client, alice, mail, clean_redis, django_capture_on_commit_callbacks
):
    answers = []
    for email in ("alice@example.com", "nobody@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post("/app/password/reset", {"email": email})
        assert response.status_code == 200
        # The same page but for the CSRF token (per session) and the address typed.
        html = re.sub(r'(X-CSRFToken": |value=)"[^"]{64}"', "TOKEN", response.content.decode())
        answers.append(html.replace(email, "EMAIL"))
    assert answers[0] == answers[1]
    assert "If an account has this address, a link to reset its password is on its way" in answers[0]
    assert send_queued_account_emails(clean_redis) == 1  # only the real account got a mail
    response = client.post("/app/password/reset", {"email": "not an address"})
    assert response.status_code == 400
    assert "Enter a valid email address." in errors_of(response.content.decode(), "email-errors")


def test_reset_through_the_mailed_link_works_once(
    alice, mail, clean_redis, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://alerts.example.com"
    old = api_session("alice@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/app/password/reset", {"email": "alice@example.com"})
    text = mailed(mail, clean_redis)
    assert "https://alerts.example.com/app/password/reset/confirm?uid=" in text
    assert "POST /password/reset/confirm" in text
    params = link_params(text, "/app/password/reset/confirm")
    url = f"/app/password/reset/confirm?uid={params['uid']}&token={params['token']}"

    browser = Client()
    assert 'name="new_password"' in browser.get(url).content.decode()
    # A weak password: the validators' words next to the field; the link still works after.
    weak = browser.post("/app/password/reset/confirm", {**params, "new_password": "12345678"})
    assert weak.status_code == 400
    assert "This password is entirely numeric." in errors_of(weak.content.decode(), "new_password-errors")

    with django_capture_on_commit_callbacks(execute=True):
        done = browser.post("/app/password/reset/confirm", {**params, "new_password": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/app/login"
    assert "log in with the new one" in browser.get("/app/login").content.decode()
    assert bearer(old["access"]).get("/user").status_code == 401  # every API session ended
    web_login("alice@example.com", NEW_PASSWORD)

    again = Client().post("/app/password/reset/confirm", {**params, "new_password": "yet another one 77"})
    assert again.status_code == 400
    assert "This reset link is invalid, expired or already used: ask for a new one." in errors_of(
        again.content.decode(), "token-errors"
    )
    web_login("alice@example.com", NEW_PASSWORD)


def test_reset_is_throttled_like_the_api(client, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], password_reset_account="1/hour")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert client.post("/app/password/reset", {"email": "someone@example.com"}).status_code == 200
    response = client.post("/app/password/reset", {"email": "someone@example.com"})
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()


def test_change_ends_every_session_and_says_so(alice, mail, clean_redis):
    api = api_session("alice@example.com")
    browser = web_login("alice@example.com")
    other_browser = web_login("alice@example.com")

    wrong = browser.post("/app/account/password", {"old_password": "wrong", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 400
    assert "The password is not correct." in errors_of(wrong.content.decode(), "old_password-errors")
    weak = browser.post("/app/account/password", {"old_password": PASSWORD, "new_password": "alice@example"})
    assert weak.status_code == 400 and errors_of(weak.content.decode(), "new_password-errors").strip("> \n")

    response = browser.post("/app/account/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/app/login")
    page = browser.get(response["Location"]).content.decode()
    assert "Every session of the account has ended, this one included" in page
    assert browser.get("/app/")["Location"].startswith("/app/login")
    assert other_browser.get("/app/")["Location"].startswith("/app/login")  # the other browser too
    assert bearer(api["access"]).get("/user").status_code == 401
    assert APIClient().post("/token/refresh", {"refresh": api["refresh"]}).status_code == 401
    web_login("alice@example.com", NEW_PASSWORD)


# --- The account page's other forms ----------------------------------------------------------


def test_preferences_through_patch_users_service(alice, alice_web):
    response = alice_web.post(
        "/app/account/preferences", {"time_zone": "Mars/Olympus", "quiet_hours": "25:00-07:00"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    api = APIClient()
    api.force_authenticate(alice)
    api_errors = api.patch("/user", {"time_zone": "Mars/Olympus"}, format="json").json()["errors"]
    assert html_escape(api_errors["time_zone"][0]) in errors_of(html, "time_zone-errors")
    alice.refresh_from_db()
    assert alice.time_zone == "UTC"

    response = alice_web.post(
        "/app/account/preferences", {"time_zone": "Europe/Berlin", "quiet_hours": "23:00-07:00"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.time_zone, alice.quiet_hours) == ("Europe/Berlin", "23:00-07:00")
    page = alice_web.get("/app/account").content.decode()
    assert 'value="Europe/Berlin"' in page and 'value="23:00-07:00"' in page
    alice_web.post("/app/account/preferences", {"time_zone": "Europe/Berlin", "quiet_hours": ""})
    alice.refresh_from_db()
    assert alice.quiet_hours == ""


def test_an_api_key_is_shown_once_works_and_is_revoked(alice, alice_web, bob_web):
    refused = alice_web.post("/app/account/api-keys", {"name": ""})
    assert refused.status_code == 400 and errors_of(refused.content.decode(), "name-errors").strip("> \n")
    past = alice_web.post("/app/account/api-keys", {"name": "bot", "expires_at": "2020-01-01T00:00"})
    assert "The expiry must be in the future." in errors_of(past.content.decode(), "expires_at-errors")

    response = alice_web.post("/app/account/api-keys", {"name": "my bot"})
    assert response.status_code == 302
    first = alice_web.get("/app/account").content.decode()
    key = first.split('id="api-key-value">')[1].split("<")[0]
    assert key.startswith("pa_") and "Shown only this once" in first
    second = alice_web.get("/app/account").content.decode()
    assert key not in second and "my bot" in second
    (api_key,) = ApiKey.objects.filter(user=alice)
    assert api_key.prefix in second
    assert bearer(key).get("/user").json()["email"] == "alice@example.com"

    assert bob_web.post(f"/app/account/api-keys/{api_key.pk}/revoke").status_code == 404
    assert bearer(key).get("/user").status_code == 200
    assert alice_web.post(f"/app/account/api-keys/{api_key.pk}/revoke").status_code == 302
    assert bearer(key).get("/user").status_code == 401
    assert not ApiKey.objects.filter(user=alice).exists()


def test_log_out_everywhere_ends_every_api_session_and_this_one(alice, alice_web):
    sessions = [api_session("alice@example.com") for _ in range(2)]
    other_browser = web_login("alice@example.com")
    assert other_browser.get("/app/").status_code == 200
    response = alice_web.post("/app/account/logout-all", follow=True)
    assert "Every session of your account has ended" in response.content.decode()
    assert alice_web.get("/app/")["Location"].startswith("/app/login")
    assert other_browser.get("/app/")["Location"].startswith("/app/login")  # the lost laptop too
    for tokens in sessions:
        assert bearer(tokens["access"]).get("/user").status_code == 401
        assert APIClient().post("/token/refresh", {"refresh": tokens["refresh"]}).status_code == 401
    web_login("alice@example.com")  # the password still works


def test_delete_the_account_with_its_password(alice, alice_web, bob, django_user_model, settings):
    Alert.objects.create(user=alice, symbol="BTCUSDT", direction="above", target_price="70000")
    wrong = alice_web.post("/app/account/delete", {"password": "wrong"})
    assert wrong.status_code == 400
    assert "The password is not correct." in errors_of(wrong.content.decode(), "delete-password-errors")
    assert django_user_model.objects.filter(pk=alice.pk).exists()

    response = alice_web.post("/app/account/delete", {"password": PASSWORD}, follow=True)
    assert "Your account and everything of it" in response.content.decode()
    assert not django_user_model.objects.filter(pk=alice.pk).exists()
    assert not Alert.objects.filter(user_id=alice.pk).exists()
    assert django_user_model.objects.filter(pk=bob.pk).exists()


def test_deleting_spends_the_apis_budget(alice, alice_web, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], account_delete="1/hour")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert alice_web.post("/app/account/delete", {"password": "wrong"}).status_code == 400
    response = alice_web.post("/app/account/delete", {"password": PASSWORD})
    assert response.status_code == 429 and alice.__class__.objects.filter(pk=alice.pk).exists()


def test_a_password_is_taken_as_typed_spaces_included(alice, alice_web):
    """The API keeps a password's surrounding spaces (trim_whitespace=False); so do the pages."""
    spaced = "  " + NEW_PASSWORD + "  "
    response = alice_web.post("/app/account/password", {"old_password": PASSWORD, "new_password": spaced})
    assert response.status_code == 302
    assert APIClient().post("/token", {"email": "alice@example.com", "password": spaced}).status_code == 200
    assert (
        APIClient().post("/token", {"email": "alice@example.com", "password": NEW_PASSWORD}).status_code
        == 401
    )
    web_login("alice@example.com", spaced)
    assert (
        Client().post("/app/login", {"email": "alice@example.com", "password": NEW_PASSWORD}).status_code
        == 400
    )
