"""Argon2 for new hashes, PBKDF2 hashes still accepted and upgraded; short access tokens, rotating refresh."""

from datetime import timedelta

import jwt
import pytest
from django.contrib.auth.hashers import get_hasher
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken

from conftest import PASSWORD
from pricealert import settings as production
from tests.test_deploy_settings import container_env, settings_value

pytestmark = pytest.mark.django_db


def test_argon2_comes_first_and_pbkdf2_stays_for_old_hashes():
    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in production.PASSWORD_HASHERS
    assert "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher" in production.PASSWORD_HASHERS
    assert "MD5" not in " ".join(production.PASSWORD_HASHERS)
    # What a deployment really loads (the test settings swap in a fast hasher).
    assert settings_value("settings.PASSWORD_HASHERS", container_env()) == production.PASSWORD_HASHERS


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS


def test_a_new_account_is_stored_with_argon2id(production_hashers, anon_client, django_user_model):
    anon_client.post("/register", {"email": "kim@example.com", "password": PASSWORD}, format="json")
    assert django_user_model.objects.get(email="kim@example.com").password.startswith("argon2$argon2id$")


@pytest.mark.parametrize("algorithm", ["pbkdf2_sha256", "pbkdf2_sha1"])
def test_an_old_pbkdf2_hash_still_logs_in_and_is_upgraded_to_argon2(
    production_hashers, anon_client, django_user_model, algorithm
):
    hasher = get_hasher(algorithm)
    # An older Django's iteration count: cheaper, and also due for an upgrade.
    old_hash = hasher.encode(PASSWORD, hasher.salt(), iterations=100_000)
    user = django_user_model.objects.create(email="old@example.com")
    django_user_model.objects.filter(pk=user.pk).update(password=old_hash)

    response = anon_client.post("/token", {"email": "old@example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    again = APIClient().post("/token", {"email": "old@example.com", "password": PASSWORD}, format="json")
    assert again.status_code == 200


def test_a_wrong_password_leaves_an_old_hash_alone(production_hashers, anon_client, django_user_model):
    hasher = get_hasher("pbkdf2_sha256")
    old_hash = hasher.encode(PASSWORD, hasher.salt(), iterations=100_000)
    user = django_user_model.objects.create(email="old@example.com")
    django_user_model.objects.filter(pk=user.pk).update(password=old_hash)

    anon_client.post("/token", {"email": "old@example.com", "password": "not it"}, format="json")

    user.refresh_from_db()
    assert user.password == old_hash


def test_token_lifetimes_and_rotation_in_production_settings():
    jwt_settings = settings_value(
        "{name: str(value) for name, value in settings.SIMPLE_JWT.items()}", container_env()
    )
    assert jwt_settings["ACCESS_TOKEN_LIFETIME"] == str(timedelta(minutes=15))
    assert jwt_settings["REFRESH_TOKEN_LIFETIME"] == str(timedelta(days=7))
    assert jwt_settings["ROTATE_REFRESH_TOKENS"] == "True"
    assert jwt_settings["BLACKLIST_AFTER_ROTATION"] == "True"


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_an_issued_access_token_lives_15_minutes(anon_client, alice):
    tokens = anon_client.post("/token", {"email": alice.email, "password": PASSWORD}, format="json").json()

    access, refresh = claims(tokens["access"]), claims(tokens["refresh"])
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600
    assert access["token_type"] == "access"
    assert claims(tokens["refresh"])["token_type"] == "refresh"


def test_an_expired_access_token_is_refused(alice):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get("/alerts/")
    assert response.status_code == 401


def test_refresh_rotates_and_blacklists_the_used_token(anon_client, alice):
    first = anon_client.post("/token", {"email": alice.email, "password": PASSWORD}, format="json").json()

    second = anon_client.post("/token/refresh", {"refresh": first["refresh"]}, format="json").json()

    assert claims(second["refresh"])["jti"] != claims(first["refresh"])["jti"]
    assert BlacklistedToken.objects.filter(token__jti=claims(first["refresh"])["jti"]).exists()
    replay = anon_client.post("/token/refresh", {"refresh": first["refresh"]}, format="json")
    assert (replay.status_code, replay.json()["detail"]) == (401, "Token is blacklisted")
    # The replay was a reuse: the whole session (family) is revoked, the newer token too (issue 16).
    after = anon_client.post("/token/refresh", {"refresh": second["refresh"]}, format="json")
    assert (after.status_code, after.json()["detail"]) == (401, "This session has ended: log in again.")


def test_tokens_are_signed_with_the_secret_key_only(alice, settings):
    token = str(AccessToken.for_user(alice))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    # Re-signed with another key, or with "none": refused.
    payload = claims(token)
    for forged in (
        jwt.encode(payload, "not-the-secret-key-but-long-enough-for-hs256", algorithm="HS256"),
        jwt.encode(payload, None, algorithm="none"),
    ):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
        assert client.get("/user").status_code == 401
