"""POST /token (alias /login): email or username + password -> access and refresh tokens."""

import pytest
from rest_framework.test import APIClient

from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NO_ACCOUNT = {"detail": "No active account found with the given credentials"}


def _works_as_bearer(access: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/user").status_code == 200


@pytest.mark.parametrize("path", ["/token", "/token/", "/login", "/login/"])
@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "alice@example.com"},
        {"email": "ALICE@Example.com"},
        {"username": "alice"},
        {"username": "Alice"},
        {"username": "alice@example.com"},
    ],
    ids=["email", "email-any-case", "username", "username-any-case", "username-is-email"],
)
def test_valid_credentials_get_a_working_token_pair(anon_client, alice, path, credentials):
    response = anon_client.post(path, {**credentials, "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert _works_as_bearer(body["access"])
    alice.refresh_from_db()
    assert alice.last_login is not None


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "alice@example.com", "password": "wrong password"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"username": "alice", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
    ],
    ids=["wrong-password", "unknown-email", "username-wrong-password", "unknown-username"],
)
def test_wrong_credentials_are_401_with_one_message(anon_client, alice, credentials):
    response = anon_client.post("/token", credentials, format="json")
    assert response.status_code == 401
    assert response.json() == NO_ACCOUNT
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_inactive_account_cannot_log_in(anon_client, alice):
    alice.is_active = False
    alice.save()
    response = anon_client.post("/token", {"email": alice.email, "password": PASSWORD}, format="json")
    assert response.status_code == 401
    assert response.json() == NO_ACCOUNT


def test_an_email_login_never_reaches_someone_whose_username_is_that_text(anon_client, alice, make_user):
    # Usernames may not contain "@" through the API, but the admin could set one.
    make_user("mallory@example.com", username="alice@example.com")
    response = anon_client.post(
        "/token", {"username": "alice@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert client.get("/user").json()["email"] == "alice@example.com"


@pytest.mark.parametrize(
    "payload",
    [{}, {"password": PASSWORD}, {"email": "alice@example.com"}, {"email": "", "password": PASSWORD}],
    ids=["empty", "no-login", "no-password", "blank-email"],
)
def test_missing_fields_are_400(anon_client, alice, payload):
    response = anon_client.post("/token", payload, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]
