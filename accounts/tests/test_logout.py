"""POST /logout: blacklists the refresh token so it can never be refreshed again."""

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def refresh(alice):
    return str(RefreshToken.for_user(alice))


@pytest.mark.parametrize("path", ["/logout", "/logout/"])
def test_logout_blacklists_the_refresh_token(anon_client, refresh, path):
    response = anon_client.post(path, {"refresh": refresh}, format="json")

    assert response.status_code == 204
    assert response.content == b""
    assert BlacklistedToken.objects.count() == 1
    after = anon_client.post("/token/refresh", {"refresh": refresh}, format="json")
    assert after.status_code == 401
    assert after.json()["detail"] == "Token is blacklisted"


def test_logout_leaves_the_users_other_sessions_alone(anon_client, alice, refresh):
    other_session = str(RefreshToken.for_user(alice))
    assert anon_client.post("/logout", {"refresh": refresh}, format="json").status_code == 204
    assert anon_client.post("/token/refresh", {"refresh": other_session}, format="json").status_code == 200


def test_logout_twice_says_the_token_is_already_blacklisted(anon_client, refresh):
    assert anon_client.post("/logout", {"refresh": refresh}, format="json").status_code == 204
    again = anon_client.post("/logout", {"refresh": refresh}, format="json")
    assert again.status_code == 401
    assert again.json()["detail"] == "Token is blacklisted"


def test_logout_works_with_an_authenticated_client_too(alice_client, refresh):
    assert alice_client.post("/logout", {"refresh": refresh}, format="json").status_code == 204


@pytest.mark.parametrize(
    "payload, status, detail",
    [
        ({"refresh": "not.a.token"}, 401, "Token is invalid"),
        ({}, 400, "refresh: This field is required."),
        ({"refresh": ""}, 400, "refresh: This field may not be blank."),
    ],
)
def test_a_bad_token_is_a_clear_error(anon_client, payload, status, detail):
    response = anon_client.post("/logout", payload, format="json")
    assert response.status_code == status
    assert response.json()["detail"] == detail
    assert BlacklistedToken.objects.count() == 0


def test_an_access_token_cannot_be_used_to_log_out(anon_client, alice):
    access = str(RefreshToken.for_user(alice).access_token)
    response = anon_client.post("/logout", {"refresh": access}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token has wrong type"
