"""`manage.py seed_demo`: the demo user and the alerts `make demo` needs, around the simulator's prices."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts.models import Alert

pytestmark = pytest.mark.django_db


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, no_color=True)
    return out.getvalue()


@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True


def waiting(symbol: str) -> list[tuple[str, Decimal]]:
    alerts = Alert.objects.filter(user__email="demo@example.com", symbol=symbol, status="created")
    return sorted(alerts.values_list("direction", "target_price"))


def test_creates_the_demo_user_and_alerts_just_around_each_start_price():
    output = seed("--price", "BTCUSDT=60000", "--price", "ETHUSDT=3000.5")

    assert "Demo user: demo@example.com  password: pricealert-demo" in output
    assert authenticate(email="demo@example.com", password="pricealert-demo") is not None
    assert waiting("BTCUSDT") == [
        ("above", Decimal("60060")),
        ("above", Decimal("90000")),
        ("below", Decimal("59940")),
    ]
    # On ETHUSDT's 0.01 tick grid, rounded away from the start price.
    assert waiting("ETHUSDT") == [
        ("above", Decimal("3003.51")),
        ("above", Decimal("4500.75")),
        ("below", Decimal("2997.49")),
    ]
    assert Alert.objects.count() == 6


def test_defaults_are_the_simulators_start_prices():
    seed()

    assert {symbol for symbol in Alert.objects.values_list("symbol", flat=True)} == {
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
    }
    assert ("below", Decimal("149.85")) in waiting("SOLUSDT")


def test_running_again_replaces_waiting_alerts_and_keeps_history(make_user):
    seed("--price", "BTCUSDT=60000")
    fired = Alert.objects.get(symbol="BTCUSDT", direction="below")
    Alert.objects.filter(pk=fired.pk).update(status="triggered", triggered_price=Decimal("59939"))
    bystander = make_user("carol@example.com")
    hers = Alert.objects.create(user=bystander, symbol="BTCUSDT", direction="above", target_price=1)

    output = seed("--price", "BTCUSDT=61000", "--password", "new-demo-password")

    assert "Replaced 2 waiting alerts from an earlier demo." in output
    assert waiting("BTCUSDT") == [
        ("above", Decimal("61061")),
        ("above", Decimal("91500")),
        ("below", Decimal("60939")),
    ]
    assert Alert.objects.get(pk=fired.pk).status == "triggered"
    assert Alert.objects.get(pk=hers.pk).status == "created"
    assert authenticate(email="demo@example.com", password="new-demo-password") is not None


def test_refuses_to_publish_a_password_on_a_production_deployment(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="runs only with DEBUG=true"):
        seed()
    assert not Alert.objects.exists()

    seed("--force", "--price", "BTCUSDT=60000")
    assert Alert.objects.count() == 3


@pytest.mark.parametrize("bad", ["BTCUSDT", "BTCUSDT=abc", "BTCUSDT=-5", "=100", "BTCUSDT=NaN"])
def test_rejects_malformed_prices(bad):
    with pytest.raises(CommandError, match="--price takes SYMBOL=PRICE"):
        seed("--price", bad)
    assert not Alert.objects.exists()


def test_rejects_unknown_symbols_without_leaving_half_a_demo():
    with pytest.raises(CommandError, match="Unknown symbol NOPEUSDT"):
        seed("--price", "BTCUSDT=60000", "--price", "NOPEUSDT=1")
    assert not Alert.objects.exists()
