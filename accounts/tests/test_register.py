"""POST /register (alias /signup)."""

import pytest

from conftest import PASSWORD
from tests.support.broker import queued_tasks

pytestmark = pytest.mark.django_db


REGISTRATION_RECEIVED = (
    "Registration received: log in at /token with this email and password. If the address "
    "already had an account, nothing was changed and its owner has been emailed."
)


def queued_account_emails(redis_client):
    return [args for name, args in queued_tasks(redis_client) if name == "accounts.tasks.send_account_email"]


@pytest.mark.parametrize("path", ["/register", "/register/", "/signup", "/signup/"])
def test_register_creates_the_user_and_never_returns_the_password(
    anon_client, django_user_model, django_capture_on_commit_callbacks, clean_redis, path
):
    with django_capture_on_commit_callbacks(execute=True):
        response = anon_client.post(
            path, {"email": "Carol@Example.COM", "password": PASSWORD, "username": "carol"}, format="json"
        )

    assert response.status_code == 201, response.json()
    # The domain part of an address is case-insensitive; Django lower-cases it.
    assert response.json() == {
        "detail": REGISTRATION_RECEIVED,
        "email": "Carol@example.com",
        "username": "carol",
    }
    user = django_user_model.objects.get(email="Carol@example.com")
    assert user.username == "carol"
    assert user.check_password(PASSWORD)
    assert PASSWORD not in response.content.decode()
    assert queued_account_emails(clean_redis) == [[user.pk, "welcome"]]


def test_a_new_account_can_log_in_straight_away(anon_client):
    anon_client.post("/register", {"email": "ivy@example.com", "password": PASSWORD}, format="json")
    response = anon_client.post("/token", {"email": "ivy@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_username_is_optional(anon_client, django_user_model):
    response = anon_client.post(
        "/register", {"email": "dave@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["username"] is None
    # Two users without a username do not collide on the unique username constraint.
    response = anon_client.post(
        "/register", {"email": "erin@example.com", "password": PASSWORD, "username": ""}, format="json"
    )
    assert response.status_code == 201
    assert django_user_model.objects.filter(username__isnull=True).count() == 2


def test_an_email_that_has_an_account_gets_the_same_answer_and_its_owner_an_email(
    anon_client, alice, django_user_model, django_capture_on_commit_callbacks, clean_redis
):
    """No enumeration: the caller cannot tell; only the address's owner learns of it, by email."""
    with django_capture_on_commit_callbacks(execute=True):
        response = anon_client.post(
            "/register", {"email": "ALICE@example.com", "password": "another fine passphrase"}, format="json"
        )

    assert response.status_code == 201
    assert response.json() == {
        "detail": REGISTRATION_RECEIVED,
        "email": "ALICE@example.com",
        "username": None,
    }
    assert django_user_model.objects.filter(email__iexact="alice@example.com").count() == 1
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert queued_account_emails(clean_redis) == [[alice.pk, "already_registered"]]


def test_duplicate_username_in_any_case_is_a_400(anon_client, alice):
    response = anon_client.post(
        "/register", {"email": "other@example.com", "password": PASSWORD, "username": "ALICE"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"username": ["A user with this username already exists."]}


@pytest.mark.parametrize(
    "password, message",
    [
        ("short", "This password is too short"),
        ("password123", "This password is too common."),
        ("8675309012345", "This password is entirely numeric."),
        ("frank@example.com", "The password is too similar to the email address."),
    ],
)
def test_django_password_validators_apply(anon_client, django_user_model, password, message):
    response = anon_client.post(
        "/register", {"email": "frank@example.com", "password": password}, format="json"
    )
    assert response.status_code == 400
    assert any(m.startswith(message) for m in response.json()["errors"]["password"])
    assert not django_user_model.objects.filter(email="frank@example.com").exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "gina@example.com"}, "password"),
        ({"email": "gina@example.com", "password": PASSWORD, "username": "gina@example.com"}, "username"),
        ({"email": "gina@example.com", "password": PASSWORD, "username": "has space"}, "username"),
        ({"email": "gina@example.com", "password": "x" * 1025}, "password"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(anon_client, payload, field):
    response = anon_client.post("/register", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert response.json()["detail"].startswith(f"{field}: ")


def test_an_access_token_is_not_needed_and_a_bad_one_is_ignored(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = anon_client.post(
        "/register", {"email": "hal@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
