"""The feeder's connection loop against the fake Binance over real sockets, writing to the real Redis."""

import itertools
import logging
from decimal import Decimal

from devtools.fakebinance import FakeBinance
from feeds import store
from feeds.feeder.pacing import Backoff, RateLimiter

from .conftest import wait_for


def latest(symbol):
    found = store.latest_price(symbol)
    return found.price if found else None


def all_windows(symbol):
    return [w for _, windows in store.read_windows("0", count=100_000) for w in windows if w.symbol == symbol]


def test_trades_reach_the_price_store_as_exact_decimals(binance, start_feeder):
    start_feeder({"BTCUSDT", "LRCBTC"})
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    assert binance.wait_for_subscription("lrcbtc@aggTrade")
    binance.publish_trade("LRCBTC", "0.00000638", event_ms=1_700_000_000_123)
    assert wait_for(lambda: latest("LRCBTC") is not None)
    price = store.latest_price("LRCBTC")
    assert str(price.price) == "0.00000638"
    assert price.event_time.timestamp() == 1_700_000_000.123


def test_a_one_trade_spike_between_flushes_is_in_the_window_high_and_low(binance, start_feeder):
    start_feeder({"BTCUSDT"}, flush_interval=0.5)
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    binance.publish_trades([("BTCUSDT", "100"), ("BTCUSDT", "150"), ("BTCUSDT", "80"), ("BTCUSDT", "101")])
    assert wait_for(lambda: latest("BTCUSDT") == Decimal("101"))
    windows = all_windows("BTCUSDT")
    assert max(w.high for w in windows) == Decimal("150")
    assert min(w.low for w in windows) == Decimal("80")
    assert windows[-1].last == Decimal("101")


def test_subscriptions_follow_the_symbol_set_live(binance, start_feeder):
    feeder = start_feeder({"BTCUSDT", "ETHUSDT"})
    assert binance.wait_until(lambda: binance.all_subscriptions() == {"btcusdt@aggTrade", "ethusdt@aggTrade"})
    feeder.follow({"ETHUSDT", "BNBUSDT"})
    assert binance.wait_until(lambda: binance.all_subscriptions() == {"ethusdt@aggTrade", "bnbusdt@aggTrade"})
    feeder.follow(set())
    assert binance.wait_until(lambda: binance.all_subscriptions() == set())
    assert binance.connection_count == 1  # one connection stays open for the heartbeat
    assert binance.connections_accepted == 1


def test_reconnects_after_the_server_drops_it_and_resubscribes_everything(binance, start_feeder):
    feeder = start_feeder({"BTCUSDT", "ETHUSDT"})
    assert binance.wait_until(lambda: binance.all_subscriptions() == {"btcusdt@aggTrade", "ethusdt@aggTrade"})
    binance.drop_all()
    assert binance.wait_until(lambda: binance.connections_accepted == 2)
    assert binance.wait_until(lambda: binance.subscriptions() == [{"btcusdt@aggTrade", "ethusdt@aggTrade"}])
    binance.publish_trade("ETHUSDT", "2500.01")
    assert wait_for(lambda: latest("ETHUSDT") == Decimal("2500.01"))
    assert feeder.connections[0].reconnects == 1


def test_keeps_retrying_while_the_server_is_down(start_feeder):
    with FakeBinance() as server:
        url = server.url
    port = int(url.rsplit(":", 1)[1])
    feeder = start_feeder({"BTCUSDT"}, url=url)
    with FakeBinance(port=port) as server:  # back on the same port
        assert server.wait_for_subscription("btcusdt@aggTrade")
        server.publish_trade("BTCUSDT", "42")
        assert wait_for(lambda: latest("BTCUSDT") == Decimal("42"))
    assert feeder.feeder.connections[0].is_alive()


def test_three_hundred_symbols_at_once_stay_within_the_control_message_rate():
    symbols = {f"SYM{i}USDT" for i in range(300)}
    # Pings every second: their pongs count against the same 5-per-second budget.
    with FakeBinance(ping_interval=1.0, pong_timeout=5) as server:
        from feeds.feeder import Feeder, FeederConfig

        from .conftest import FAST, RunningFeeder

        feeder = RunningFeeder(
            Feeder(
                FeederConfig(ws_url=server.url, name="t", **{**FAST, "max_params_per_request": 30})
            ).start()
        )
        try:
            feeder.follow(symbols)
            expected = {f"sym{i}usdt@aggTrade" for i in range(300)}
            assert server.wait_until(lambda: server.all_subscriptions() == expected, timeout=30)
            assert server.control_message_counts == {1: 10}
            assert server.rate_violations == []
            assert server.connections_accepted == 1
        finally:
            feeder.stop()


def test_three_hundred_symbols_with_default_batches_take_two_messages(binance, start_feeder):
    start_feeder({f"SYM{i}USDT" for i in range(300)})
    assert binance.wait_until(lambda: len(binance.all_subscriptions()) == 300, timeout=30)
    assert binance.control_message_counts == {1: 2}
    assert binance.rate_violations == []


def test_streams_are_sharded_over_connections_past_the_per_connection_limit(binance, start_feeder):
    symbols = {f"S{i}USDT" for i in range(7)}
    feeder = start_feeder(symbols, max_streams_per_connection=3)
    expected = {f"s{i}usdt@aggTrade" for i in range(7)}
    assert binance.wait_until(lambda: binance.all_subscriptions() == expected)
    per_connection = binance.subscriptions()
    assert sorted(len(s) for s in per_connection) == [1, 3, 3]
    assert sum(len(s) for s in per_connection) == 7  # no stream on two connections
    feeder.follow({"S0USDT"})
    assert binance.wait_until(lambda: binance.all_subscriptions() == {"s0usdt@aggTrade"})
    assert binance.wait_until(lambda: binance.connection_count == 1)
    assert binance.stream_limit_violations == []


def test_a_malformed_or_unknown_message_is_logged_and_skipped(binance, start_feeder, caplog):
    caplog.set_level(logging.WARNING, logger="feeds.feeder")
    feeder = start_feeder({"BTCUSDT"})
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    binance.publish_raw("this is not JSON")
    binance.publish_raw(
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"oops"}}'
    )
    binance.publish_raw(b'{"e":"somethingNew","E":1}')
    binance.publish_raw(b"\xff\xfe not utf-8")
    binance.publish_raw(b"[1, 2, 3]")
    binance.publish_trade("BTCUSDT", "64000.5")
    assert wait_for(lambda: latest("BTCUSDT") == Decimal("64000.5"))
    connection = feeder.connections[0]
    assert wait_for(lambda: connection.messages_skipped == 5)
    assert "skipped a message: malformed JSON" in caplog.text
    assert connection.reconnects == 0 and binance.connections_accepted == 1


def test_a_rejected_stream_is_isolated_and_the_rest_subscribe(binance, start_feeder, caplog):
    caplog.set_level(logging.WARNING, logger="feeds.feeder")
    # "BTC-USD" makes an invalid stream name: Binance rejects the whole request.
    start_feeder({"BTCUSDT", "ETHUSDT", "BTC-USD", "BNBUSDT"})
    assert binance.wait_until(
        lambda: binance.all_subscriptions() == {"btcusdt@aggTrade", "ethusdt@aggTrade", "bnbusdt@aggTrade"}
    )
    assert "Binance rejected SUBSCRIBE of 4 streams" in caplog.text
    assert "Invalid request: invalid stream" in caplog.text
    assert binance.rate_violations == []


def test_server_shutdown_switches_to_a_new_connection_before_closing_the_old(binance, start_feeder):
    start_feeder({"BTCUSDT"})
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    gaps = []

    def rotated():
        if not any("btcusdt@aggTrade" in c.streams for c in binance._clients.values()):
            gaps.append(True)
        return binance.connections_accepted == 2 and binance.connection_count == 1

    binance.send_server_shutdown()
    assert binance.wait_until(rotated)
    assert gaps == []
    assert binance.subscriptions() == [{"btcusdt@aggTrade"}]
    binance.publish_trade("BTCUSDT", "61000")
    assert wait_for(lambda: latest("BTCUSDT") == Decimal("61000"))


def test_connections_are_replaced_before_the_maximum_age(binance, start_feeder):
    start_feeder({"ETHUSDT"}, max_connection_age=1.0)
    assert binance.wait_until(lambda: binance.connections_accepted >= 2, timeout=15)
    assert binance.wait_until(lambda: binance.subscriptions() == [{"ethusdt@aggTrade"}], timeout=15)
    binance.publish_trade("ETHUSDT", "3000")
    assert wait_for(lambda: latest("ETHUSDT") == Decimal("3000"))


def test_answers_pings_and_stays_connected():
    # A ping every 0.3 s: over 3 pongs a second, within the 5-message budget with the SUBSCRIBE.
    with FakeBinance(ping_interval=0.3, pong_timeout=2.0) as server:
        from feeds.feeder import Feeder, FeederConfig

        from .conftest import FAST, RunningFeeder

        feeder = RunningFeeder(Feeder(FeederConfig(ws_url=server.url, name="t", **FAST)).start())
        try:
            feeder.follow({"BTCUSDT"})
            assert server.wait_until(lambda: any(c.pongs_received >= 5 for c in server._clients.values()))
            assert server.pong_timeouts == 0
            assert server.connections_accepted == 1
            assert server.rate_violations == []
        finally:
            feeder.stop()


def test_heartbeats_per_connection_and_cleared_on_stop(binance, start_feeder):
    feeder = start_feeder({"BTCUSDT"})
    assert wait_for(lambda: "test/0" in store.heartbeats())
    beat = store.heartbeats()["test/0"]
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    binance.publish_trade("BTCUSDT", "1")  # any message from the server moves the heartbeat
    assert wait_for(lambda: store.heartbeats()["test/0"] > beat)
    feeder.stop()
    assert store.heartbeats() == {}


def test_stop_flushes_what_the_connection_holds(binance, start_feeder):
    feeder = start_feeder({"BTCUSDT"}, flush_interval=60.0)  # no periodic flush during the test
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    binance.publish_trade("BTCUSDT", "99.5")
    feeder.stop()
    assert latest("BTCUSDT") == Decimal("99.5")
    assert binance.wait_until(lambda: binance.connection_count == 0)


def test_rate_limiter_paces_and_caps_messages():
    now = [0.0]
    limiter = RateLimiter(4, clock=lambda: now[0])
    sent = []
    while now[0] < 3.0:
        if limiter.available() > 0:
            limiter.record()
            sent.append(now[0])
        now[0] = round(now[0] + 0.01, 2)
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(sent))
    assert all(sum(1 for t in sent if start <= t < start + 1.0) <= 4 for start in sent)


def test_backoff_is_exponential_with_full_jitter_capped_and_resettable():
    backoff = Backoff(1.0, 60.0, rng=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1
    jittered = Backoff(1.0, 60.0, rng=lambda: 0.5)
    assert [jittered.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
