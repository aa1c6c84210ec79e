"""No user enumeration: login and register answer alike, after equal hashing work, real account or not."""

import pytest
from rest_framework.test import APIClient

from conftest import PASSWORD
from tests.security.hashers import CountingArgon2PasswordHasher

pytestmark = pytest.mark.django_db


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.security.hashers.CountingArgon2PasswordHasher"]
    CountingArgon2PasswordHasher.hashes = 0
    return CountingArgon2PasswordHasher


@pytest.fixture
def accounts(counting_hasher, make_user):
    """Accounts hashed with the counting hasher, in every state a login can meet."""
    make_user("alice@example.com", username="alice")
    make_user("sleepy@example.com", username="sleepy", is_active=False)
    locked = make_user("locked@example.com", username="locked")
    locked.set_unusable_password()
    locked.save()
    counting_hasher.hashes = 0


def answer(response):
    return response.status_code, response.json(), response.get("WWW-Authenticate")


LOGIN_FAILURES = {
    "wrong-password": {"email": "alice@example.com", "password": "wrong password"},
    "unknown-email": {"email": "nobody@example.com", "password": "wrong password"},
    "unknown-username": {"username": "nobody", "password": "wrong password"},
    "username-wrong-password": {"username": "alice", "password": "wrong password"},
    "inactive-right-password": {"email": "sleepy@example.com", "password": PASSWORD},
    "inactive-wrong-password": {"email": "sleepy@example.com", "password": "wrong password"},
    "unusable-password": {"email": "locked@example.com", "password": "wrong password"},
}


def test_every_login_failure_gets_the_same_answer(accounts):
    answers = {
        name: answer(APIClient().post("/token", body, format="json")) for name, body in LOGIN_FAILURES.items()
    }

    assert len(set(map(repr, answers.values()))) == 1, answers
    assert answers["unknown-email"][0] == 401


@pytest.mark.parametrize("case", list(LOGIN_FAILURES))
def test_every_login_failure_costs_exactly_one_password_hash(accounts, counting_hasher, case):
    """Time follows the hashing work: an unknown account must not answer faster than a wrong password."""
    APIClient().post("/token", LOGIN_FAILURES[case], format="json")
    assert counting_hasher.hashes == 1


def test_a_successful_login_also_costs_one_hash(accounts, counting_hasher):
    assert APIClient().post("/token", {"email": "alice@example.com", "password": PASSWORD}).status_code == 200
    assert counting_hasher.hashes == 1


def register(email, password=PASSWORD, username=None):
    body = {"email": email, "password": password}
    if username is not None:
        body["username"] = username
    return APIClient().post("/register", body, format="json")


def without_email(response):
    status, body, _ = answer(response)
    return status, {key: value for key, value in body.items() if key != "email"}


def test_register_answers_a_taken_address_like_a_new_one(accounts, counting_hasher, django_user_model):
    new = register("newcomer@example.com")
    hashes_for_new = counting_hasher.hashes
    counting_hasher.hashes = 0
    taken = register("alice@example.com")

    assert without_email(new) == without_email(taken)
    assert new.status_code == 201
    assert taken.json()["email"] == "alice@example.com"  # the address as sent, nothing more
    assert hashes_for_new == counting_hasher.hashes == 1
    assert django_user_model.objects.filter(email__iexact="alice@example.com").count() == 1


@pytest.mark.parametrize(
    "password",
    ["short", "password123", "{email}"],
    ids=["too-short", "too-common", "the-address-itself"],
)
def test_a_weak_password_is_refused_the_same_for_a_taken_address(accounts, password):
    taken = register("alice@example.com", password=password.format(email="alice@example.com"))
    fresh = register("alicf@example.com", password=password.format(email="alicf@example.com"))
    assert taken.status_code == fresh.status_code == 400
    assert taken.json() == fresh.json()


def test_a_taken_username_is_refused_whatever_the_address(accounts):
    """Checked before the address, so the username cannot be used to probe addresses."""
    on_taken_address = register("alice@example.com", username="ALICE")
    on_new_address = register("newcomer@example.com", username="ALICE")
    assert on_taken_address.status_code == on_new_address.status_code == 400
    assert on_taken_address.json() == on_new_address.json()
    assert on_new_address.json()["errors"] == {"username": ["A user with this username already exists."]}


def test_the_owner_of_a_taken_address_keeps_their_password(accounts, django_user_model):
    register("alice@example.com", password="an attacker's passphrase")
    alice = django_user_model.objects.get(email="alice@example.com")
    assert alice.check_password(PASSWORD)
    assert not alice.check_password("an attacker's passphrase")
