"""manage.py runfeeder end to end: real command, real database rows, real sockets, real Redis."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError

from alerts.models import Alert
from feeds import store
from feeds.management.commands import runfeeder
from feeds.models import Symbol

from . import symbol_sources
from .conftest import wait_for

PROJECT_DIR = Path(__file__).resolve().parents[2]


@contextmanager
def running_runfeeder(*extra_args):
    """The command in a thread, at test speed; stopped like SIGTERM would stop it."""
    command = runfeeder.Command()
    errors = []

    def run():
        try:
            call_command(
                command,
                "--flush-interval=0.05",
                "--refresh-interval=0.1",
                "--reconnect-max=0.3",
                "--name=cmd",
                *extra_args,
            )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="runfeeder", daemon=True)
    thread.start()
    try:
        yield command
    finally:
        command.shutdown.set()
        thread.join(30)
        assert not thread.is_alive(), "runfeeder did not stop"
        assert errors == []


def beside_the_feeder(write, attempts=200):
    """Run a database write while runfeeder's thread may be reading the same table; its result.

    On SQLite the test database lives in memory with a shared cache, where a
    write that meets another connection's read lock on the table fails at once
    ("database table is locked": no busy timeout, unlike a database file); the
    feeder thread reads the alerts every 0.1 s here. The write is retried for a
    few seconds; anything else (and PostgreSQL) is not affected.
    """
    for attempt in range(attempts):
        try:
            return write()
        except OperationalError as exc:
            if "table is locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02)


def latest(symbol):
    found = store.latest_price(symbol)
    return found.price if found else None


@pytest.fixture
def feeder_settings(settings, binance):
    settings.BINANCE_WS_URL = binance.url
    settings.BINANCE_API_URL = binance.api_url
    settings.FEEDER_LINGER_SECONDS = 0  # these tests watch unsubscriptions; the linger has its own
    return settings


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_subscriptions_follow_alerts_being_created_and_deleted(
    feeder_settings, binance, alice, bob, make_alert
):
    with running_runfeeder():
        assert binance.wait_for_connections(1)
        btc = beside_the_feeder(lambda: make_alert(alice, symbol="BTCUSDT", target_price="70000"))
        assert binance.wait_for_subscription("btcusdt@aggTrade")
        beside_the_feeder(lambda: make_alert(bob, symbol="ETHUSDT", target_price="3000", direction="below"))
        second_btc = beside_the_feeder(
            lambda: make_alert(bob, symbol="BTCUSDT", target_price="50000", direction="below")
        )
        assert binance.wait_until(
            lambda: binance.all_subscriptions() == {"btcusdt@aggTrade", "ethusdt@aggTrade"}
        )

        btc.status = Alert.Status.DELETED
        beside_the_feeder(btc.save)
        beside_the_feeder(Alert.objects.filter(pk=second_btc.pk).delete)
        assert binance.wait_until(lambda: binance.all_subscriptions() == {"ethusdt@aggTrade"})

        binance.publish_trade("ETHUSDT", "2999.99")
        assert wait_for(lambda: latest("ETHUSDT") == Decimal("2999.99"))

        beside_the_feeder(
            lambda: Alert.objects.filter(symbol="ETHUSDT").update(status=Alert.Status.TRIGGERED)
        )
        assert binance.wait_until(lambda: binance.all_subscriptions() == set())
    assert binance.connections_accepted == 1
    assert binance.rate_violations == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_symbols_that_stop_trading_leave_the_subscriptions_but_keep_their_alerts(
    feeder_settings, binance, alice, make_alert, caplog
):
    caplog.set_level(logging.WARNING, logger="feeds.runfeeder")
    eth_btc = make_alert(alice, symbol="ETHBTC", target_price="0.05")
    make_alert(alice, symbol="BTCUSDT")
    make_alert(alice, symbol="NOPEUSDT")  # never in the catalogue
    with running_runfeeder():
        assert binance.wait_until(
            lambda: binance.all_subscriptions() == {"btcusdt@aggTrade", "ethbtc@aggTrade"}
        )
        assert wait_for(lambda: "NOPEUSDT (not in the catalogue)" in caplog.text)

        beside_the_feeder(lambda: Symbol.objects.filter(symbol="ETHBTC").update(status="BREAK"))
        assert binance.wait_until(lambda: binance.all_subscriptions() == {"btcusdt@aggTrade"})
        assert wait_for(lambda: "ETHBTC (BREAK)" in caplog.text)
        eth_btc.refresh_from_db()
        assert eth_btc.status == Alert.Status.CREATED

        beside_the_feeder(lambda: Symbol.objects.filter(symbol="ETHBTC").update(status=Symbol.TRADING))
        assert binance.wait_until(
            lambda: binance.all_subscriptions() == {"btcusdt@aggTrade", "ethbtc@aggTrade"}
        )
    assert caplog.text.count("ETHBTC (BREAK)") == 1  # logged once, not on every refresh


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failing_symbol_source_keeps_the_current_subscriptions(
    feeder_settings, binance, caplog, monkeypatch
):
    feeder_settings.FEEDER_SYMBOLS_SOURCE = "feeds.tests.symbol_sources.current"
    monkeypatch.setattr(symbol_sources, "CURRENT", {"BTCUSDT"})
    with running_runfeeder() as command:
        assert binance.wait_for_subscription("btcusdt@aggTrade")
        monkeypatch.setattr(symbol_sources, "FAILING", True)
        assert wait_for(lambda: "could not read the symbol set" in caplog.text)
        assert command.feeder.symbols == {"BTCUSDT"}
        monkeypatch.setattr(symbol_sources, "FAILING", False)
        monkeypatch.setattr(symbol_sources, "CURRENT", {"ETHUSDT"})
        assert binance.wait_until(lambda: binance.all_subscriptions() == {"ethusdt@aggTrade"})
    assert binance.subscriptions() == []


def test_runfeeder_process_flushes_and_exits_cleanly_on_sigterm(binance, tmp_path):
    symbols_file = tmp_path / "symbols.txt"
    symbols_file.write_text("BTCUSDT ETHUSDT\n")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pricealert.test_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'feeder.sqlite3'}",
        "BINANCE_WS_URL": binance.url,
        "BINANCE_API_URL": binance.api_url,
        "FEEDER_SYMBOLS_SOURCE": "feeds.tests.symbol_sources.from_file",
        "FEEDER_TEST_SYMBOLS_FILE": str(symbols_file),
        # No periodic flush during the test: the price can only reach Redis through the shutdown flush.
        "FEEDER_FLUSH_SECONDS": "600",
        "FEEDER_REFRESH_SECONDS": "0.2",
    }
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "feeds", "--noinput"], env=env, cwd=PROJECT_DIR, check=True, capture_output=True
    )
    process = subprocess.Popen(
        [*manage, "runfeeder", "--name", "proc"],
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert binance.wait_until(
            lambda: binance.all_subscriptions() == {"btcusdt@aggTrade", "ethusdt@aggTrade"}, timeout=30
        )
        assert wait_for(lambda: "proc/0" in store.heartbeats())
        binance.publish_trades([("BTCUSDT", "65000.12"), ("BTCUSDT", "66000"), ("BTCUSDT", "65500.5")])
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert latest("BTCUSDT") == Decimal("65500.5")
    [(_, [window])] = store.read_windows("0")
    assert (window.high, window.low) == (Decimal("66000"), Decimal("65000.12"))
    assert store.heartbeats() == {}
    assert binance.wait_until(lambda: binance.connection_count == 0)
    assert binance.close_codes == [(1, 1000)]  # a close frame, not a dropped socket


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_created_alert_is_followed_at_once_by_a_push_not_at_the_next_refresh(
    feeder_settings, binance, alice
):
    from alerts.services import alert_create

    with running_runfeeder("--refresh-interval=60"):  # the periodic refresh would take a minute
        assert binance.wait_for_connections(1)
        # The push is fire-and-forget (the refresh is the backstop): create once runfeeder listens.
        listening = lambda: store.redis_client().pubsub_numsub(store.FOLLOW_CHANNEL)[0][1] > 0  # noqa: E731
        assert wait_for(listening)
        beside_the_feeder(
            lambda: alert_create(
                user=alice, symbol="BTCUSDT", target_price=Decimal("70000"), direction="above"
            )
        )
        assert binance.wait_for_subscription("btcusdt@aggTrade", timeout=5)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_symbol_lingers_after_its_last_alert_is_gone_then_leaves(
    feeder_settings, binance, alice, make_alert
):
    feeder_settings.FEEDER_LINGER_SECONDS = 1.5
    alert = make_alert(alice, symbol="ETHUSDT", target_price="3000")
    with running_runfeeder():
        assert binance.wait_for_subscription("ethusdt@aggTrade")
        beside_the_feeder(lambda: Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.TRIGGERED))
        gone = time.monotonic()
        assert binance.wait_for_unsubscription("ethusdt@aggTrade", timeout=10)
        assert time.monotonic() - gone >= 1.4


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_crossing_made_before_the_subscription_is_backfilled_from_armed_at(
    feeder_settings, binance, alice, make_alert
):
    make_alert(alice, symbol="SOLUSDT", target_price="100", direction="below")
    binance.publish_trade("SOLUSDT", "99.5")  # nobody follows SOLUSDT yet
    with running_runfeeder():
        assert wait_for(lambda: latest("SOLUSDT") == Decimal("99.5"))
