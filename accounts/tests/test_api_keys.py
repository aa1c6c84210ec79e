"""API keys: shown once, stored hashed, listed without the secret, revocable, expiring, and limited."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NO_KEYS_HERE = "An API key cannot do this: log in with your password (POST /token) and use the access token."


def with_key(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def make_key(client, **body):
    response = client.post("/api-keys", {"name": "my script", **body})
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_key_is_returned_once_stored_hashed_and_works_like_a_token(alice_client, alice):
    created = make_key(alice_client)

    assert created["key"].startswith("pa_")
    assert set(created) == {"id", "name", "prefix", "created_at", "expires_at", "last_used_at", "key"}
    assert created["key"].startswith(created["prefix"] + "_")
    row = ApiKey.objects.get(pk=created["id"])
    assert created["key"] not in str(row.__dict__)
    assert row.key_hash != created["key"] and len(row.key_hash) == 64
    listed = alice_client.get("/api-keys").json()
    assert [set(k) for k in listed] == [{"id", "name", "prefix", "created_at", "expires_at", "last_used_at"}]
    assert created["key"] not in str(listed)

    client = with_key(created["key"])
    assert client.get("/user").json()["email"] == "alice@example.com"
    assert client.post(
        "/alerts/", {"symbol": "BTCUSDT", "target_price": "70000", "direction": "above"}
    ).status_code in (201, 400)
    assert client.get("/alerts/").status_code == 200
    assert alice_client.get("/api-keys").json()[0]["last_used_at"] is not None


def test_a_revoked_key_stops_at_once_and_others_keys_are_404(alice_client, bob_client):
    created = make_key(alice_client)
    assert bob_client.delete(f"/api-keys/{created['id']}").status_code == 404
    assert with_key(created["key"]).get("/user").status_code == 200
    assert alice_client.delete(f"/api-keys/{created['id']}").status_code == 204
    response = with_key(created["key"]).get("/user")
    assert (response.status_code, response.json()["detail"]) == (401, "Invalid, revoked or expired API key.")
    assert alice_client.delete(f"/api-keys/{created['id']}").status_code == 404


def test_an_expired_key_is_refused(alice_client):
    created = make_key(alice_client, expires_at=(timezone.now() + timedelta(hours=1)).isoformat())
    assert with_key(created["key"]).get("/user").status_code == 200
    ApiKey.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert with_key(created["key"]).get("/user").status_code == 401


def test_an_expiry_in_the_past_or_no_name_is_a_400(alice_client):
    past = alice_client.post("/api-keys", {"name": "x", "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and "expires_at" in past.json()["errors"]
    assert "name" in alice_client.post("/api-keys", {"name": "  "}).json()["errors"]


@pytest.mark.parametrize("key", ["pa_deadbeef_notakey", "pa_", "pa_\u00e9"])
def test_an_unknown_key_is_a_401(db, key):
    assert with_key(key).get("/user").status_code == 401


def test_a_key_cannot_manage_keys_change_the_password_or_delete_the_account(alice_client, alice):
    key = make_key(alice_client)
    client = with_key(key["key"])
    for response in (
        client.get("/api-keys"),
        client.post("/api-keys", {"name": "successor"}),
        client.delete(f"/api-keys/{key['id']}"),
        client.post("/user/password", {"old_password": PASSWORD, "new_password": "a new long passphrase"}),
        client.delete("/user", {"password": PASSWORD}),
    ):
        assert (response.status_code, response.json()) == (403, {"detail": NO_KEYS_HERE})
    assert ApiKey.objects.filter(user=alice).count() == 1
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_keys_survive_logout_all_but_not_account_deletion(alice_client, alice):
    key = make_key(alice_client)["key"]
    pair = APIClient().post("/token", {"email": "alice@example.com", "password": PASSWORD}).json()
    APIClient().post("/logout", {"refresh": pair["refresh"], "all": True})
    assert with_key(key).get("/user").status_code == 200
    again = APIClient().post("/token", {"email": "alice@example.com", "password": PASSWORD}).json()
    session = APIClient()
    session.credentials(HTTP_AUTHORIZATION=f"Bearer {again['access']}")
    assert session.delete("/user", {"password": PASSWORD}).status_code == 204
    assert with_key(key).get("/user").status_code == 401
