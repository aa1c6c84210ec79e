"""Fixtures everyone uses: a clean real Redis per test, alice and bob, API clients."""

import socket

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from feeds.store import redis_client

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def clean_redis(settings):
    """Each test starts with an empty Redis database of its own number (TEST_REDIS_DB)."""
    client = redis_client()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def closed_port():
    """A local port nothing listens on (bound, never listening, so nobody else takes it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def make_user(db, django_user_model):
    def make(email, password=PASSWORD, **extra):
        return django_user_model.objects.create_user(email=email, password=password, **extra)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com", username="alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com", username="bob")


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def alice_client(alice):
    return client_for(alice)


@pytest.fixture
def bob_client(bob):
    return client_for(bob)


@pytest.fixture
def make_alert(db):
    """Alerts straight into the database (status, prices and times as given), bypassing the API."""
    from decimal import Decimal

    from alerts.models import Alert

    def make(user, symbol="BTCUSDT", target_price="70000", direction="above", **extra):
        return Alert.objects.create(
            user=user, symbol=symbol, target_price=Decimal(target_price), direction=direction, **extra
        )

    return make
