"""Issue 16's throttles: each new credential endpoint, and the login budget of the resolved account."""

import pytest
from rest_framework.test import APIClient

from accounts.apikeys import api_key_create
from conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


def assert_429(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) >= 1
    assert response.json()["detail"].startswith("Too many attempts")


def test_email_and_username_of_one_account_share_one_login_budget(alice, throttle_rates):
    throttle_rates(login_account="4/min")
    for login in ("alice@example.com", "alice", "ALICE@example.com", "Alice"):
        assert APIClient().post("/token", {"username": login, "password": "nope"}).status_code == 401
    # Each spelling has used at most two of its own four, but the account has used all four.
    response = APIClient().post("/token", {"username": "alice", "password": PASSWORD})
    assert_429(response)


def test_another_account_keeps_its_own_budget(alice, bob, throttle_rates):
    throttle_rates(login_account="2/min")
    for login in ("alice@example.com", "alice"):
        APIClient().post("/token", {"username": login, "password": "nope"})
    assert APIClient().post("/token", {"username": "bob", "password": PASSWORD}).status_code == 200


def test_password_change_per_user(alice, throttle_rates):
    throttle_rates(password_change="2/hour")
    client = client_for(alice)
    for _ in range(2):
        assert client.post("/user/password", {"old_password": "x", "new_password": "y"}).status_code == 400
    assert_429(client.post("/user/password", {"old_password": PASSWORD, "new_password": "z long passphrase"}))


def test_password_reset_per_email_and_per_address(alice, throttle_rates):
    throttle_rates(password_reset_account="2/hour", password_reset_ip="2/hour")
    for address in ("10.0.0.1", "10.0.0.2"):
        assert (
            APIClient()
            .post("/password/reset", {"email": "alice@example.com"}, REMOTE_ADDR=address)
            .status_code
            == 202
        )
    assert_429(APIClient().post("/password/reset", {"email": "ALICE@example.com"}, REMOTE_ADDR="10.0.0.3"))
    # Per client address, across emails.
    assert (
        APIClient().post("/password/reset", {"email": "x@example.com"}, REMOTE_ADDR="10.0.0.1").status_code
        == 202
    )
    assert_429(APIClient().post("/password/reset", {"email": "y@example.com"}, REMOTE_ADDR="10.0.0.1"))


@pytest.mark.parametrize(
    "path, body",
    [
        ("/password/reset/confirm", {"uid": "MQ", "token": "guess", "new_password": "whatever passphrase"}),
        ("/verify", {"token": "guess"}),
    ],
)
def test_token_confirmations_per_client_address(alice, throttle_rates, path, body):
    throttle_rates(token_confirm_ip="2/hour")
    for _ in range(2):
        assert APIClient().post(path, body).status_code == 400
    assert_429(APIClient().post(path, body))


def test_verification_resend_per_user(make_user, throttle_rates):
    throttle_rates(verify_resend="1/hour")
    client = client_for(make_user("new@example.com", email_verified_at=None))
    assert client.post("/verify/resend").status_code == 202
    assert_429(client.post("/verify/resend"))


def test_account_deletion_per_user(alice, throttle_rates):
    throttle_rates(account_delete="2/hour")
    client = client_for(alice)
    for _ in range(2):
        assert client.delete("/user", {"password": "guess"}).status_code == 400
    assert_429(client.delete("/user", {"password": PASSWORD}))
    assert client.get("/user").status_code == 200  # reads are not counted


def test_api_key_creation_per_user(alice, throttle_rates):
    throttle_rates(api_key_create="2/hour")
    client = client_for(alice)
    for n in range(2):
        assert client.post("/api-keys", {"name": f"bot {n}"}).status_code == 201
    assert_429(client.post("/api-keys", {"name": "one more"}))
    assert client.get("/api-keys").status_code == 200
    key_id = api_key_create(user=alice, name="spare").api_key.pk
    assert client.delete(f"/api-keys/{key_id}").status_code == 204


def test_repointing_channels_per_user(alice, throttle_rates):
    """Each new email address is sent a link: re-pointing shares the re-sends' budget."""
    throttle_rates(verify_resend="2/hour")
    client = client_for(alice)
    channel = client.post("/channels/", {"kind": "email", "name": "w", "url": "a@work.example"}).json()
    for address in ("b@work.example", "c@work.example"):
        assert client.patch(f"/channels/{channel['id']}", {"url": address}).status_code == 200
    assert_429(client.patch(f"/channels/{channel['id']}", {"url": "d@work.example"}))
    assert client.patch(f"/channels/{channel['id']}", {"name": "renamed"}).status_code == 200
