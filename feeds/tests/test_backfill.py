"""Backfill by aggregate id: what the connection missed comes from REST, in order, exactly.

Real sockets to the fake Binance (its REST on the same port), real Redis.
"""

import random
import time
from decimal import Decimal

import pytest

from devtools.fakebinance import FakeBinance
from feeds import store
from feeds.rest import BinanceRest, RateLimited

from .conftest import wait_for


def windows_of(symbol):
    return [w for _, windows in store.read_windows("0", count=100_000) for w in windows if w.symbol == symbol]


def latest(symbol):
    found = store.latest_price(symbol)
    return found.price if found else None


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def backfilling(binance, start_feeder):
    """A feeder that backfills from the fake's REST API."""

    def start(symbols=(), **overrides):
        return start_feeder(symbols, api_url=binance.api_url, **overrides)

    return start


def assert_windows_partition_the_trades(symbol, trades):
    """Every window is exactly the fold of a run of consecutive trades, and the runs cover them all.

    Trades have distinct times, so a window's first and last event times name
    its run; an uninterrupted connection flushing at the same moments would have
    written these same windows.
    """
    by_time = {t[4]: i for i, t in enumerate(trades)}
    covered = 0
    for window in windows_of(symbol):
        first, last = by_time[window.first_event_ms], by_time[window.last_event_ms]
        assert first == covered, f"window starting at trade {first}, expected {covered}"
        run = [t[1] for t in trades[first : last + 1]]
        assert (window.high, window.low, window.last) == (max(run), min(run), run[-1])
        covered = last + 1
    assert covered == len(trades)


def test_a_spike_while_every_connection_is_dropped_is_backfilled_at_its_price_and_time(binance, backfilling):
    backfilling({"BTCUSDT"}, reconnect_base=1.0, reconnect_max=1.0)
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    binance.publish_trade("BTCUSDT", "70000")
    assert wait_for(lambda: latest("BTCUSDT") is not None)
    binance.drop_all()
    spike_ms = now_ms()
    assert binance.publish_trade("BTCUSDT", "75000", event_ms=spike_ms) == 0  # nobody connected
    binance.publish_trade("BTCUSDT", "70001", event_ms=spike_ms + 1)
    # No trade after the reconnect: the resubscription alone fetches the gap.
    assert wait_for(lambda: any(w.high == Decimal("75000") for w in windows_of("BTCUSDT")))
    spike = next(w for w in windows_of("BTCUSDT") if w.high == Decimal("75000"))
    assert spike.first_event_ms == spike_ms
    assert latest("BTCUSDT") == Decimal("70001")


def watermark_ms() -> int | None:
    at = store.flushed_through()
    return None if at is None else int(at.timestamp() * 1000)


def test_the_watermark_waits_while_a_dropped_connection_and_its_backfill_may_still_bring_trades(
    binance, backfilling
):
    """Alerts expire only up to the watermark: it must not pass trades a reconnect will backfill."""
    running = backfilling(reconnect_base=1.0, reconnect_max=1.0)
    running.feeder.follow({"BTCUSDT"}, armed_since={"BTCUSDT": now_ms() - 60_000})
    assert binance.wait_for_subscription("btcusdt@aggTrade")
    last_ms = now_ms()
    binance.publish_trade("BTCUSDT", "70000", event_ms=last_ms)
    assert wait_for(lambda: (watermark_ms() or 0) > last_ms)
    binance.queue_rest_failure(429, retry_after=1.5)  # and the backfill after the reconnect waits
    binance.drop_all()
    spike_ms = now_ms()
    assert binance.publish_trade("BTCUSDT", "75000", event_ms=spike_ms) == 0  # nobody connected
    seen = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and not any(w.high == Decimal("75000") for w in windows_of("BTCUSDT")):
        seen.append(watermark_ms())
        time.sleep(0.02)
    # Never past the spike; once the drop is seen (down, then resubscribed but backfilling) it is
    # held at the last trade written.
    assert seen and all(ms is not None and ms < spike_ms for ms in seen), (seen, spike_ms)
    assert seen[-1] <= last_ms + 1
    assert wait_for(lambda: any(w.high == Decimal("75000") for w in windows_of("BTCUSDT")), timeout=15)
    # Once the spike is in the stream, the watermark moves on past it.
    assert wait_for(lambda: (watermark_ms() or 0) > spike_ms)


def test_frames_that_skip_ids_are_backfilled_and_folded_in_order(binance, backfilling):
    backfilling({"ETHUSDT"})
    assert binance.wait_for_subscription("ethusdt@aggTrade")
    base = now_ms()
    binance.publish_trade("ETHUSDT", "3000", event_ms=base)
    binance.lose_trades([("ETHUSDT", "2000", base + 1), ("ETHUSDT", "3100", base + 2)])
    binance.publish_trade("ETHUSDT", "3001", event_ms=base + 3)
    assert wait_for(lambda: latest("ETHUSDT") == Decimal("3001"))
    assert_windows_partition_the_trades("ETHUSDT", binance.trades("ETHUSDT"))


def test_live_frames_plus_backfill_equal_an_uninterrupted_connection_frame_for_frame(binance, backfilling):
    """Random trades with lost frames and dropped connections: the windows still partition every trade."""
    rng = random.Random(15)
    backfilling({"SOLUSDT", "XRPUSDT"}, reconnect_base=0.1, reconnect_max=0.2)
    assert binance.wait_until(lambda: binance.all_subscriptions() == {"solusdt@aggTrade", "xrpusdt@aggTrade"})
    clock = now_ms()
    for step in range(120):
        clock += 1
        symbol = rng.choice(["SOLUSDT", "XRPUSDT"])
        price = Decimal(rng.randint(10_000, 20_000)) / 100
        if rng.random() < 0.15:
            binance.lose_trades([(symbol, price, clock)])
        else:
            binance.publish_trade(symbol, price, event_ms=clock)
        if step in (40, 85):
            binance.drop_all()
        if rng.random() < 0.1:
            time.sleep(0.06)
    for symbol in ("SOLUSDT", "XRPUSDT"):  # a lost frame is seen when the next one comes
        clock += 1
        binance.publish_trade(symbol, "100", event_ms=clock)
    for symbol in ("SOLUSDT", "XRPUSDT"):
        trades = binance.trades(symbol)
        assert wait_for(
            lambda s=symbol, t=trades: windows_of(s) and windows_of(s)[-1].last_event_ms == t[-1][4]
        )
        assert_windows_partition_the_trades(symbol, trades)


def test_a_new_feeder_backfills_from_the_ids_the_last_one_wrote(binance, backfilling):
    first = backfilling({"BNBUSDT"})
    assert binance.wait_for_subscription("bnbusdt@aggTrade")
    binance.publish_trade("BNBUSDT", "550")
    assert wait_for(lambda: latest("BNBUSDT") is not None)
    first.stop()
    missed_ms = now_ms()
    binance.publish_trade("BNBUSDT", "500", event_ms=missed_ms)  # while no feeder runs
    backfilling({"BNBUSDT"})
    assert wait_for(lambda: latest("BNBUSDT") == Decimal("500"))
    assert windows_of("BNBUSDT")[-1].first_event_ms == missed_ms


def test_a_new_subscription_backfills_from_the_earliest_armed_at(binance, backfilling):
    armed_ms = now_ms() - 1000
    binance.publish_trade("ETHBTC", "0.04", event_ms=armed_ms - 500)  # before any alert: not needed
    binance.publish_trade("ETHBTC", "0.06", event_ms=armed_ms + 200)  # nobody follows ETHBTC yet
    feeder = backfilling()
    feeder.feeder.follow({"ETHBTC"}, armed_since={"ETHBTC": armed_ms})
    assert wait_for(lambda: latest("ETHBTC") is not None)
    assert [(w.high, w.first_event_ms) for w in windows_of("ETHBTC")] == [(Decimal("0.06"), armed_ms + 200)]


def test_a_gap_older_than_the_cap_is_reported_not_skipped_silently(binance, backfilling, caplog):
    armed_ms = now_ms() - 120_000
    binance.publish_trade("LTCUSDT", "80", event_ms=now_ms() - 500)
    feeder = backfilling(backfill_cap_seconds=60)
    feeder.feeder.follow({"LTCUSDT"}, armed_since={"LTCUSDT": armed_ms})
    assert wait_for(lambda: latest("LTCUSDT") is not None)
    gaps = store.redis_client().hgetall(store.GAPS_KEY)
    assert "older than the backfill cap" in gaps["LTCUSDT"]
    assert "LTCUSDT" in caplog.text and "not backfilled" in caplog.text


def test_rest_429_with_retry_after_is_honoured(binance, backfilling):
    backfilling({"ADAUSDT"}, reconnect_base=0.5, reconnect_max=0.5)
    assert binance.wait_for_subscription("adausdt@aggTrade")
    binance.publish_trade("ADAUSDT", "0.5")
    assert wait_for(lambda: latest("ADAUSDT") is not None)
    binance.queue_rest_failure(429, retry_after=2)
    binance.drop_all()
    binance.publish_trade("ADAUSDT", "0.9")  # missed: only the backfill brings it
    assert wait_for(lambda: latest("ADAUSDT") == Decimal("0.9"), timeout=15)
    requests = binance.rest_requests()
    refused = next(i for i, r in enumerate(requests) if r.status == 429)
    assert requests[refused + 1].at >= requests[refused].at + 2.0
    assert all(r.status != 418 for r in requests)


def test_the_rest_client_counts_weight_from_the_header_and_stays_under_its_share():
    with FakeBinance(rest_weight_limit=100) as binance:
        binance.publish_trade("BTCUSDT", "1")
        rest = BinanceRest(binance.api_url, weight_limit=20, weight_share=0.5)  # 10 per minute
        assert [t.price for t in rest.agg_trades("BTCUSDT")] == [Decimal("1")]
        assert rest.used_weight == 4  # the header's count
        rest.agg_trades("BTCUSDT")
        if time.time() % 60 < 58:  # not across a minute boundary
            with pytest.raises(RateLimited):
                rest.agg_trades("BTCUSDT")  # 8 + 4 > 10: not sent
            assert len(binance.rest_requests()) == 2
            assert rest.ticker_price("BTCUSDT") == Decimal("1")  # 8 + 2 fits


def test_a_gap_longer_than_a_page_is_paged_through_by_id(binance, backfilling):
    backfilling({"DOGEUSDT"})
    assert binance.wait_for_subscription("dogeusdt@aggTrade")
    base = now_ms()
    binance.publish_trade("DOGEUSDT", "0.1", event_ms=base)
    binance.lose_trades([("DOGEUSDT", Decimal(i % 97 + 1) / 100, base + 1 + i) for i in range(2500)])
    binance.publish_trade("DOGEUSDT", "0.2", event_ms=base + 2501)
    assert wait_for(lambda: latest("DOGEUSDT") == Decimal("0.2"))
    assert_windows_partition_the_trades("DOGEUSDT", binance.trades("DOGEUSDT"))
    assert sum(r.path == "/api/v3/aggTrades" for r in binance.rest_requests()) == 3
