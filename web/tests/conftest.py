"""Web app fixtures: session-logged-in Django test clients for alice and bob."""

import time
from decimal import Decimal

import pytest
from django.test import Client

from feeds.store import write_price


@pytest.fixture
def alice_web(alice):
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_web(bob):
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def fresh_price():
    """Write a trade to the price store now, as the feeder would."""

    def write(symbol: str, price: str, age_seconds: float = 0.0):
        write_price(symbol, Decimal(price), int((time.time() - age_seconds) * 1000))

    return write
