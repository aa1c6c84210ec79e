"""Sessions that end: a reused refresh token revokes its family, an absolute lifetime, logout all."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import SessionFamily
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

ENDED = "This session has ended: log in again."


def login():
    response = APIClient().post("/token", {"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.json()
    return response.json()


def refresh(token):
    return APIClient().post("/token/refresh", {"refresh": token})


def me(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/user")


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(alice):
    stolen = login()
    victim = refresh(stolen["refresh"]).json()  # the victim rotates first
    other_device = login()

    replay = refresh(stolen["refresh"])  # the thief replays the copy

    assert (replay.status_code, replay.json()["detail"]) == (401, "Token is blacklisted")
    # The victim's newer tokens are dead too, access included...
    after = refresh(victim["refresh"])
    assert (after.status_code, after.json()["detail"]) == (401, ENDED)
    assert (me(victim["access"]).status_code, me(victim["access"]).json()["detail"]) == (401, ENDED)
    # ...but another login of the same account is its own family.
    assert me(other_device["access"]).status_code == 200
    assert refresh(other_device["refresh"]).status_code == 200


def test_the_thief_rotating_first_is_caught_when_the_victim_refreshes(alice):
    stolen = login()
    thief = refresh(stolen["refresh"]).json()
    assert refresh(stolen["refresh"]).status_code == 401  # the victim's (now reused) token
    assert refresh(thief["refresh"]).status_code == 401
    assert me(thief["access"]).status_code == 401


def test_rotation_does_not_extend_the_session_past_its_absolute_lifetime(alice, settings):
    settings.JWT_SESSION_MAX_DAYS = 30
    pair = login()
    family = SessionFamily.objects.get(user=alice)
    assert family.expires_at - family.created_at == timedelta(days=30)
    # A refresh every 6 days keeps rotating (each token lives 7 days)...
    for _ in range(4):
        pair = refresh(pair["refresh"]).json()
    # ...until the family is older than 30 days: move its clock back (as if logged in 31 days ago).
    SessionFamily.objects.filter(pk=family.pk).update(
        created_at=timezone.now() - timedelta(days=31), expires_at=timezone.now() - timedelta(days=1)
    )
    response = refresh(pair["refresh"])
    assert (response.status_code, response.json()["detail"]) == (
        401,
        "This session is older than the longest a session may last: log in again.",
    )


def test_a_refresh_token_never_expires_after_its_family(alice, settings):
    settings.JWT_SESSION_MAX_DAYS = 2  # shorter than a refresh token's 7 days
    import jwt

    pair = login()
    family = SessionFamily.objects.get(user=alice)
    exp = jwt.decode(pair["refresh"], options={"verify_signature": False})["exp"]
    assert exp == int(family.expires_at.timestamp())
    rotated = refresh(pair["refresh"]).json()
    assert jwt.decode(rotated["refresh"], options={"verify_signature": False})["exp"] == exp


def test_logout_ends_this_session_access_token_included(alice):
    pair, other = login(), login()
    assert APIClient().post("/logout", {"refresh": pair["refresh"]}).status_code == 204
    assert me(pair["access"]).status_code == 401
    assert me(other["access"]).status_code == 200


def test_logout_all_ends_every_session_of_the_account(alice, bob):
    phone, laptop = login(), login()
    bobs = APIClient().post("/token", {"email": "bob@example.com", "password": PASSWORD}).json()

    response = APIClient().post("/logout", {"refresh": phone["refresh"], "all": True})

    assert response.status_code == 204
    for pair in (phone, laptop):
        assert me(pair["access"]).status_code == 401
        assert refresh(pair["refresh"]).status_code == 401
    assert me(bobs["access"]).status_code == 200
    assert me(login()["access"]).status_code == 200  # logging in again works


def test_logout_all_with_a_dead_token_is_refused(alice):
    pair = login()
    refresh(pair["refresh"])
    response = APIClient().post("/logout", {"refresh": pair["refresh"], "all": True})
    assert response.status_code == 401


def test_tokens_from_before_families_still_refresh_once_into_a_family(alice):
    from rest_framework_simplejwt.tokens import RefreshToken

    legacy = str(RefreshToken.for_user(alice))
    pair = refresh(legacy).json()
    assert SessionFamily.objects.filter(user=alice).count() == 1
    assert refresh(legacy).status_code == 401
    # A legacy token names no family, so its reuse cannot end the one it joined; the new one rotates on.
    assert refresh(pair["refresh"]).status_code == 200
