"""The fake Binance server for its own tests, with Binance's limits and short keepalive timings."""

import pytest

from devtools.fakebinance import FakeBinance


@pytest.fixture
def binance():
    with FakeBinance(ping_interval=5.0, pong_timeout=5.0) as server:
        yield server
