"""Fixtures for the feeds tests: a fake Binance server, feeders at test speed."""

import threading
import time

import pytest

from devtools.fakebinance import FakeBinance
from feeds.feeder import Feeder, FeederConfig

# Intervals short enough that a test finishes in seconds; the logic is the production one.
FAST = {
    "flush_interval": 0.05,
    "reconnect_base": 0.05,
    "reconnect_max": 0.3,
    "heartbeat_interval": 0.1,
    "ack_timeout": 5.0,
    "shutdown_flush_timeout": 2.0,
}


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes (generous: the machine is shared)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class RunningFeeder:
    """A Feeder plus the controller loop runfeeder would run (maintain() every 20 ms)."""

    def __init__(self, feeder: Feeder):
        self.feeder = feeder
        self._stop = threading.Event()
        self._controller = threading.Thread(target=self._maintain, name="test-feeder-controller", daemon=True)
        self._controller.start()

    def _maintain(self):
        while not self._stop.wait(0.02):
            self.feeder.maintain()

    def follow(self, symbols, frontier=None):
        return self.feeder.follow(symbols, frontier)

    @property
    def connections(self):
        return self.feeder.connections

    def stop(self):
        self._stop.set()
        self._controller.join(5)
        self.feeder.stop()


@pytest.fixture
def binance():
    with FakeBinance(ping_interval=5.0, pong_timeout=5.0) as server:
        yield server


@pytest.fixture
def start_feeder(binance):
    running: list[RunningFeeder] = []

    def start(symbols=(), *, url=None, redis_client=None, **overrides) -> RunningFeeder:
        config = FeederConfig(ws_url=url or binance.url, name="test", **{**FAST, **overrides})
        feeder = RunningFeeder(Feeder(config, redis_client=redis_client).start())
        running.append(feeder)
        if symbols:
            feeder.follow(symbols)
        return feeder

    yield start
    for feeder in running:
        feeder.stop()
