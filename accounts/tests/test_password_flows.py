"""Password change and reset, end to end through the API, the reset link read out of a real SMTP mail."""

import pytest
from rest_framework.test import APIClient

from accounts.tests.mailbox import link_params, send_queued_account_emails
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"


def login(email, password):
    return APIClient().post("/token", {"email": email, "password": password}, format="json")


def bearer(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def session(email="alice@example.com", password=PASSWORD):
    response = login(email, password)
    assert response.status_code == 200, response.json()
    return response.json()


def test_change_ends_every_session_and_the_new_password_works(
    alice, mail, clean_redis, django_capture_on_commit_callbacks
):
    phone, laptop = session(), session()

    with django_capture_on_commit_callbacks(execute=True):
        response = bearer(phone["access"]).post(
            "/user/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        )

    assert response.status_code == 204, response.content
    # Access tokens issued before are refused at once, this session's included.
    for pair in (phone, laptop):
        after = bearer(pair["access"]).get("/user")
        assert (after.status_code, after.json()["detail"]) == (401, "This session has ended: log in again.")
        assert APIClient().post("/token/refresh", {"refresh": pair["refresh"]}).status_code == 401
    assert login("alice@example.com", PASSWORD).status_code == 401
    fresh = session(password=NEW_PASSWORD)
    assert bearer(fresh["access"]).get("/user").status_code == 200
    assert APIClient().post("/token/refresh", {"refresh": fresh["refresh"]}).status_code == 200
    # The owner is told by email.
    assert send_queued_account_emails(clean_redis) == 1
    (received,) = mail.wait_for(1)
    assert received.subject == "Your pricealert password was changed"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"old_password": "not it", "new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": PASSWORD, "new_password": "123"}, "new_password"),
        ({"old_password": PASSWORD, "new_password": "password"}, "new_password"),
        ({"old_password": PASSWORD}, "new_password"),
    ],
)
def test_a_wrong_old_password_or_a_weak_new_one_is_a_400_and_nothing_changes(alice, body, field):
    pair = session()
    response = bearer(pair["access"]).post("/user/password", body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert bearer(pair["access"]).get("/user").status_code == 200
    assert login("alice@example.com", PASSWORD).status_code == 200


def test_change_needs_a_token(anon_client):
    assert anon_client.post("/user/password", {"old_password": "x", "new_password": "y"}).status_code == 401


def ask_reset(email):
    return APIClient().post("/password/reset", {"email": email})


def test_reset_by_emailed_link_ends_sessions_and_works_once(
    alice, mail, clean_redis, django_capture_on_commit_callbacks
):
    old = session()
    with django_capture_on_commit_callbacks(execute=True):
        asked = ask_reset("ALICE@example.com")
    assert asked.status_code == 202
    assert send_queued_account_emails(clean_redis) == 1
    (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["alice@example.com"]
    assert received.subject == "Reset your pricealert password"
    params = link_params(received.message.get_content(), "/app/password/reset/confirm")

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = APIClient().post("/password/reset/confirm", {**params, "new_password": NEW_PASSWORD})

    assert confirmed.status_code == 204, confirmed.content
    assert bearer(old["access"]).get("/user").status_code == 401
    assert APIClient().post("/token/refresh", {"refresh": old["refresh"]}).status_code == 401
    assert login("alice@example.com", PASSWORD).status_code == 401
    session(password=NEW_PASSWORD)
    # The same link a second time: refused, and the password stays.
    again = APIClient().post(
        "/password/reset/confirm", {**params, "new_password": "yet another passphrase 7"}
    )
    assert again.status_code == 400
    assert again.json()["errors"]["token"] == [
        "This reset link is invalid, expired or already used: ask for a new one."
    ]
    session(password=NEW_PASSWORD)


def test_reset_answers_the_same_for_unknown_addresses_and_mails_nobody(
    alice, mail, clean_redis, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = ask_reset("alice@example.com")
        unknown = ask_reset("nobody@example.com")
    assert (known.status_code, unknown.status_code) == (202, 202)
    assert known.json() == unknown.json()
    assert send_queued_account_emails(clean_redis) == 1
    assert [m.rcpt_tos for m in mail.wait_for(1)] == [["alice@example.com"]]


@pytest.mark.parametrize(
    "body",
    [
        {"uid": "MQ", "token": "forged-token", "new_password": NEW_PASSWORD},
        {"uid": "not base64 !", "token": "x", "new_password": NEW_PASSWORD},
        {"uid": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "token": "x", "new_password": NEW_PASSWORD},
    ],
)
def test_a_forged_reset_is_a_400(alice, body):
    response = APIClient().post("/password/reset/confirm", body)
    assert response.status_code == 400
    assert "token" in response.json()["errors"]
    session()


def test_a_weak_password_at_reset_is_refused_and_the_link_still_works(
    alice, mail, clean_redis, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ask_reset("alice@example.com")
    send_queued_account_emails(clean_redis)
    params = link_params(mail.wait_for(1)[0].message.get_content(), "/app/password/reset/confirm")
    weak = APIClient().post("/password/reset/confirm", {**params, "new_password": "12345678"})
    assert weak.status_code == 400 and "new_password" in weak.json()["errors"]
    assert (
        APIClient().post("/password/reset/confirm", {**params, "new_password": NEW_PASSWORD}).status_code
        == 204
    )
