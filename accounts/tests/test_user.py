"""GET /user: the caller."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/user", "/user/"])
def test_user_is_the_caller(alice_client, bob_client, path):
    body = alice_client.get(path).json()
    assert set(body) == {
        "id",
        "email",
        "username",
        "date_joined",
        "email_verified",
        "time_zone",
        "quiet_hours",
    }
    assert (body["email"], body["username"]) == ("alice@example.com", "alice")
    assert bob_client.get(path).json()["email"] == "bob@example.com"


def test_unauthenticated_is_401(anon_client):
    response = anon_client.get("/user")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    response = client.get("/user")
    assert response.status_code == 401
    assert response.json()["detail"] == "Given token not valid for any token type"


def test_a_deactivated_users_token_stops_working(alice, alice_client):
    alice.is_active = False
    alice.save()
    assert alice_client.get("/user").status_code == 401
