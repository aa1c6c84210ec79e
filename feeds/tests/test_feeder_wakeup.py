"""The wake-up path, feeder side: a trade past the frontier is flushed at once and wakes the engine.

Real feeder, fake Binance over real sockets, real Redis; the wake-up is read
back from the broker (the engine queue), as a worker would receive it.
"""

from decimal import Decimal

import pytest

from alerts.models import Alert
from feeds import store
from feeds.feeder.frontier import Frontier
from tests.support.broker import queued_tasks

from .conftest import wait_for
from .test_runfeeder import running_runfeeder

EVALUATE = "alerts.tasks.evaluate_alerts"
# Far longer than a test: a window in the stream before then was flushed by a crossing.
NO_REGULAR_FLUSH = 60.0


def stream_prices(symbol: str) -> list[Decimal]:
    return [w.last for _, windows in store.read_windows("0") for w in windows if w.symbol == symbol]


def engine_queue(client) -> list[str]:
    return [name for name, _ in queued_tasks(client, "engine")]


@pytest.fixture
def btc_feeder(binance, start_feeder):
    feeder = start_feeder(flush_interval=NO_REGULAR_FLUSH)
    feeder.follow({"BTCUSDT"}, {"BTCUSDT": (Decimal("70000"), Decimal("60000"))})
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    return feeder


def test_a_crossing_trade_is_flushed_at_once_and_queues_one_tick_on_the_engine_queue(
    binance, btc_feeder, clean_redis
):
    binance.publish_trade("BTCUSDT", "70000.5")
    assert wait_for(lambda: engine_queue(clean_redis) == [EVALUATE])
    assert stream_prices("BTCUSDT") == [Decimal("70000.5")]  # written before the regular flush
    assert store.wake_requested(clean_redis)
    envelope_queue = queued_tasks(clean_redis, "engine")
    assert envelope_queue == [(EVALUATE, [])]


def test_a_trade_inside_the_frontier_neither_flushes_nor_wakes(binance, btc_feeder, clean_redis):
    binance.publish_trade("BTCUSDT", "65000")
    binance.publish_trade("BTCUSDT", "69999.99")
    binance.publish_trade("BTCUSDT", "60000.01")
    # A crossing on another side afterwards proves the three were received (and held) first.
    binance.publish_trade("BTCUSDT", "59999")
    assert wait_for(lambda: engine_queue(clean_redis) == [EVALUATE])
    assert len(store.read_windows("0")) == 1  # one flush, by the crossing, carrying all four
    (window,) = store.read_windows("0")[0][1]
    assert (window.high, window.low, window.last) == (Decimal("69999.99"), Decimal("59999"), Decimal("59999"))


def test_no_trade_crossing_means_no_message_at_all(binance, btc_feeder, clean_redis):
    binance.publish_trade("BTCUSDT", "65000")
    assert wait_for(lambda: btc_feeder.connections[0].trades_received == 1)
    btc_feeder.feeder.flusher.submit({}, urgent=False)
    assert not wait_for(lambda: engine_queue(clean_redis), timeout=0.5)
    assert stream_prices("BTCUSDT") == []
    assert not store.wake_requested(clean_redis)


def test_a_burst_of_crossings_queues_one_tick_until_a_tick_lowers_the_flag(binance, btc_feeder, clean_redis):
    binance.publish_trades([("BTCUSDT", Decimal("70000") + i) for i in range(200)])
    assert wait_for(lambda: Decimal("70199") in stream_prices("BTCUSDT"))
    flusher = btc_feeder.feeder.flusher
    assert wait_for(lambda: flusher.wakeups == 1 and engine_queue(clean_redis) == [EVALUATE])
    # The burst itself may have been flushed in several urgent writes (each coalesced): count from here.
    coalesced = flusher.wakeups_coalesced
    binance.publish_trade("BTCUSDT", "70250")  # crosses again, flushed at once: the flag holds the wake-up
    assert wait_for(
        lambda: Decimal("70250") in stream_prices("BTCUSDT") and flusher.wakeups_coalesced > coalesced
    )
    assert flusher.wakeups == 1
    assert engine_queue(clean_redis) == [EVALUATE]

    store.clear_wake(clean_redis)  # what a tick does before it reads the stream
    binance.publish_trade("BTCUSDT", "70300")
    assert wait_for(lambda: flusher.wakeups == 2 and engine_queue(clean_redis) == [EVALUATE, EVALUATE])


def test_after_a_crossing_only_a_trade_further_out_crosses_again(binance, btc_feeder, clean_redis):
    binance.publish_trade("BTCUSDT", "70100")
    assert wait_for(lambda: stream_prices("BTCUSDT") == [Decimal("70100")])
    binance.publish_trade("BTCUSDT", "70050")  # the woken tick reads everything up to 70100: nothing new
    binance.publish_trade("BTCUSDT", "70100")
    binance.publish_trade("BTCUSDT", "70100.01")
    assert wait_for(lambda: Decimal("70100.01") in stream_prices("BTCUSDT"))
    assert len(store.read_windows("0")) == 2


class TestFrontier:
    def test_a_trade_at_or_past_either_side_crosses_and_moves_that_side_past_it(self):
        frontier = Frontier()
        frontier.replace({"btcusdt": (Decimal("100"), Decimal("90")), "ETHUSDT": (None, Decimal("5"))})
        assert not frontier.crossed("BTCUSDT", Decimal("99.99999999"))
        assert not frontier.crossed("BTCUSDT", Decimal("90.00000001"))
        assert frontier.crossed("BTCUSDT", Decimal("100"))
        assert not frontier.crossed("BTCUSDT", Decimal("100"))
        assert frontier.crossed("BTCUSDT", Decimal("100.00000001"))
        assert frontier.crossed("BTCUSDT", Decimal("90"))
        assert frontier.get("BTCUSDT")[0] > Decimal("100.00000001")
        assert not frontier.crossed("ETHUSDT", Decimal("1000000"))
        assert frontier.crossed("ETHUSDT", Decimal("4.5"))
        assert not frontier.crossed("SOLUSDT", Decimal("1"))  # not in the frontier: the beat evaluates it

    def test_a_refresh_replaces_moved_sides(self):
        frontier = Frontier()
        frontier.replace({"BTCUSDT": (Decimal("100"), None)})
        assert frontier.crossed("BTCUSDT", Decimal("150"))
        frontier.replace({"BTCUSDT": (Decimal("100"), None)})
        assert frontier.get("BTCUSDT") == (Decimal("100"), None)
        assert frontier.crossed("BTCUSDT", Decimal("120"))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_runfeeder_refreshes_the_frontier_from_the_waiting_alerts(settings, binance, alice, make_alert):
    settings.BINANCE_WS_URL = binance.url
    settings.BINANCE_API_URL = binance.api_url  # a new subscription backfills before it folds
    assert settings.FEEDER_SYMBOLS_SOURCE == "alerts.selectors.waiting_frontiers"
    make_alert(alice, symbol="BTCUSDT", target_price="70000")
    below = make_alert(alice, symbol="BTCUSDT", target_price="60000", direction="below")
    with running_runfeeder() as command:
        assert binance.wait_for_subscription("btcusdt@aggTrade")
        frontier = command.feeder.flusher.frontier
        assert wait_for(lambda: frontier.get("BTCUSDT") == (Decimal("70000"), Decimal("60000")))

        nearer = make_alert(alice, symbol="BTCUSDT", target_price="69000")
        assert wait_for(lambda: frontier.get("BTCUSDT") == (Decimal("69000"), Decimal("60000")))
        Alert.objects.filter(pk=below.pk).update(status=Alert.Status.DELETED)
        assert wait_for(lambda: frontier.get("BTCUSDT") == (Decimal("69000"), None))

        # A trade past the refreshed frontier wakes the engine; the one before it did not.
        binance.publish_trade("BTCUSDT", "68999")
        binance.publish_trade("BTCUSDT", "69000")
        assert wait_for(lambda: [n for n, _ in queued_tasks(store.redis_client(), "engine")] == [EVALUATE])
        Alert.objects.filter(pk=nearer.pk).update(status=Alert.Status.TRIGGERED)
        assert wait_for(lambda: frontier.get("BTCUSDT") == (Decimal("70000"), None))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_crossing_held_for_a_new_subscriptions_backfill_still_wakes_the_engine(
    settings, binance, alice, make_alert, clean_redis
):
    """The first trades of a newly followed symbol wait for its backfill; folded, they are tested too."""
    settings.BINANCE_WS_URL = binance.url
    settings.BINANCE_API_URL = binance.api_url
    make_alert(alice, symbol="BTCUSDT", target_price="70000")
    with running_runfeeder():
        assert binance.wait_for_subscription("btcusdt@aggTrade")
        binance.publish_trade("BTCUSDT", "70000.5")
        assert wait_for(lambda: engine_queue(clean_redis) == [EVALUATE])
        assert Decimal("70000.5") in stream_prices("BTCUSDT")
