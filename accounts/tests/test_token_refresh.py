"""POST /token/refresh: rotation (a refresh token works once) and blacklisting."""

from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def refresh(alice):
    return str(RefreshToken.for_user(alice))


@pytest.mark.parametrize("path", ["/token/refresh", "/token/refresh/"])
def test_refresh_returns_a_new_pair_that_works(anon_client, refresh, path):
    response = anon_client.post(path, {"refresh": refresh}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != refresh
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert anon_client.get("/user").json()["email"] == "alice@example.com"
    # The new refresh token is itself good for one refresh.
    anon_client.credentials()
    assert anon_client.post(path, {"refresh": body["refresh"]}, format="json").status_code == 200


def test_a_refresh_token_works_only_once(anon_client, refresh):
    assert anon_client.post("/token/refresh", {"refresh": refresh}, format="json").status_code == 200

    again = anon_client.post("/token/refresh", {"refresh": refresh}, format="json")

    assert again.status_code == 401
    assert again.json()["detail"] == "Token is blacklisted"


def test_an_access_token_is_not_a_refresh_token(anon_client, alice):
    access = str(RefreshToken.for_user(alice).access_token)
    response = anon_client.post("/token/refresh", {"refresh": access}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token has wrong type"


def test_an_expired_refresh_token_is_401(anon_client, alice):
    token = RefreshToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = anon_client.post("/token/refresh", {"refresh": str(token)}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token is expired"


def test_garbage_is_401(anon_client):
    response = anon_client.post("/token/refresh", {"refresh": "not.a.token"}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token is invalid"


@pytest.mark.parametrize("deactivate", ["inactive", "deleted"])
def test_a_token_of_an_account_that_is_gone_is_401_not_500(anon_client, alice, refresh, deactivate):
    if deactivate == "inactive":
        alice.is_active = False
        alice.save()
    else:
        alice.delete()
    response = anon_client.post("/token/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == "No active account found for the given token."


def test_missing_refresh_is_400(anon_client):
    response = anon_client.post("/token/refresh", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"refresh": ["This field is required."]}
