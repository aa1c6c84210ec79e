"""Fixtures everyone uses: a clean real Redis per test, alice and bob, API clients, a real SMTP
server (``mail``), and factories of alerts and notifications. The servers behind them are in
tests/support."""

import socket
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from feeds.store import ms_to_datetime, redis_client
from tests.support.smtp import MailServer

PASSWORD = "correct horse battery staple"
# When the alerts of ``make_triggered_alert`` fired: 2026-09-21 14:13:20.123 UTC.
TRIGGERED_MS = 1_790_000_000_123


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
def mail(settings):
    """A real SMTP server on 127.0.0.1 that Django's email goes to for this test."""
    with MailServer() as server:
        for name, value in server.smtp_settings().items():
            setattr(settings, name, value)
        yield server


@pytest.fixture
def make_user(db, django_user_model):
    """Users with a confirmed address (things are delivered to them), unless a test says
    ``email_verified_at=None``: ACCOUNT_EMAIL_VERIFICATION stays "mandatory" in the tests."""

    def make(email, password=PASSWORD, **extra):
        extra.setdefault("email_verified_at", timezone.now())
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
    from alerts.models import Alert

    def make(user, symbol="BTCUSDT", target_price="70000", direction="above", **extra):
        return Alert.objects.create(
            user=user, symbol=symbol, target_price=Decimal(target_price), direction=direction, **extra
        )

    return make


@pytest.fixture
def make_triggered_alert(make_alert):
    """One-shot alerts that fired at TRIGGERED_MS, at ``price`` (default: just past the 70,000 target)."""

    def make(user, *, price="70000.01", **extra):
        return make_alert(
            user,
            status="triggered",
            triggered_price=Decimal(price),
            triggered_at=ms_to_datetime(TRIGGERED_MS),
            **extra,
        )

    return make


@pytest.fixture
def make_notification(make_triggered_alert):
    """Notifications straight into the database: of ``alert``, else of a new triggered alert of ``user``."""
    from alerts.models import Notification

    def make(user=None, *, alert=None, **fields):
        alert = alert or make_triggered_alert(user)
        return Notification.objects.create(alert=alert, to=alert.user.email, **fields)

    return make


@pytest.fixture
def allow_local_delivery(settings):
    """Webhook and Apprise tests deliver to servers on this machine: the operator's
    OUTBOUND_ALLOW_NETWORKS lets them through the egress policy, as it would a LAN ntfy."""
    settings.OUTBOUND_ALLOW_NETWORKS = "127.0.0.0/8"


@pytest.fixture
def silent_url():
    """An http URL whose server accepts connections (the kernel's backlog) and never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/never"
    listener.close()
