"""The price history (feeds/history.py) against a plain Python model of the buckets.

Real Redis; the feeder tests run the fake Binance over real sockets. Trade
times are recent (the history keeps 15 minutes of seconds and 24 hours of
minutes and expires the rest).
"""

import json
import random
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from feeds import aggregates, history, store
from tests.recordings import recorded_lines

from .conftest import wait_for

D = Decimal


def now_ms() -> int:
    return int(time.time() * 1000)


def model(trades, resolution_ms):
    """Trades (price, qty, ms) in the order made -> {start ms: (open, high, low, close, quote volume)}."""
    buckets = {}
    for price, qty, ms in trades:
        start = ms - ms % resolution_ms
        quote = history.WIDE.multiply(price, qty)
        if start not in buckets:
            buckets[start] = [price, price, price, price, quote, ms, ms]
        else:
            b = buckets[start]
            b[1], b[2] = max(b[1], price), min(b[2], price)
            if ms >= b[6]:
                b[3], b[6] = price, ms
            if ms < b[5]:
                b[0], b[5] = price, ms
            b[4] = history.WIDE.add(b[4], quote)
    return {start: tuple(b[:5]) for start, b in sorted(buckets.items())}


def as_dict(candles):
    return {
        int(c.start.timestamp() * 1000): (c.open, c.high, c.low, c.close, c.quote_volume) for c in candles
    }


def read(symbol, since_ms, until_ms=None):
    since = store.ms_to_datetime(since_ms)
    until = store.ms_to_datetime(until_ms) if until_ms is not None else None
    return as_dict(history.second_buckets(symbol, since, until)), as_dict(
        history.minute_candles(symbol, since, until)
    )


def random_trades(rng, start_ms, count, span_ms):
    clock, price, trades = start_ms, D("100.00"), []
    for _ in range(count):
        clock += rng.choice([0, 0, 1, 7, 250, 999, 1000, 1001, 3000, rng.randint(0, span_ms // count * 2)])
        price = max(D("0.01"), price + D(rng.randint(-300, 300)) / 100)
        qty = D(rng.randint(1, 10**8)) / 10**8 * rng.choice([1, 10, 1000])
        trades.append((price, qty, clock))
    return trades


def batchings(rng, trades):
    yield [trades]
    yield [[t] for t in trades]
    for _ in range(3):
        cuts = sorted(rng.sample(range(1, len(trades)), 5))
        yield [trades[a:b] for a, b in zip([0, *cuts], [*cuts, len(trades)], strict=True)]


def test_random_trades_in_any_batching_make_exactly_the_model_buckets():
    rng = random.Random(18)
    start = now_ms() - 14 * 60_000
    trades = random_trades(rng, start, 400, 13 * 60_000)
    for n, batches in enumerate(batchings(rng, trades)):
        symbol = f"RND{n}USDT"
        for batch in batches:
            history.record_trades(symbol, batch)
        seconds, minutes = read(symbol, start - 60_000)
        assert seconds == model(trades, 1000)
        assert minutes == model(trades, 60_000)


def test_recorded_binance_trades_shifted_to_now_make_the_model_buckets():
    raw = [json.loads(line) for line in recorded_lines("aggTrade.jsonl")]
    captures = {}  # (symbol, capture day): the trades in the file's order (the order made)
    for r in raw:
        captures.setdefault((r["s"], r["T"] // 86_400_000), []).append((D(r["p"]), D(r["q"]), r["T"]))
    assert len(captures) > 3
    for (name, day), recorded in captures.items():
        symbol = f"{name}{day}"
        # Each capture moved to end a minute ago, its spacing kept.
        shift = now_ms() - 60_000 - max(ms for _, _, ms in recorded)
        assert max(ms for _, _, ms in recorded) - min(ms for _, _, ms in recorded) < 10 * 60_000
        trades = [(p, q, ms + shift) for p, q, ms in recorded]
        history.record_trades(symbol, trades[: len(trades) // 2])
        history.record_trades(symbol, trades[len(trades) // 2 :])
        seconds, minutes = read(symbol, min(ms for _, _, ms in trades) - 60_000)
        assert seconds == model(trades, 1000)
        assert minutes == model(trades, 60_000)
        # Exact: the recorded strings' digits survive (no float anywhere).
        assert sum(q for _, _, _, _, q in minutes.values()) == sum(p * q for p, q, _ in trades)


def test_the_same_millisecond_keeps_the_first_folded_as_open_and_the_last_as_close():
    t = now_ms() // 1000 * 1000 - 10_000
    history.record_trades("TIEUSDT", [(D("5"), D("1"), t + 10), (D("6"), D("1"), t + 10)])
    history.record_trades("TIEUSDT", [(D("7"), D("1"), t + 10)])
    seconds, _ = read("TIEUSDT", t)
    assert seconds == {t: (D("5"), D("7"), D("5"), D("7"), D("18"))}


def test_quote_volume_sums_stay_exact_beyond_28_digits():
    t = now_ms() - 30_000
    big = [(D("99999.99999999"), D("99999999.99999999"), t + i) for i in range(5)]
    history.record_trades("BIGUSDT", big)
    history.record_trades("BIGUSDT", big[:1])
    _, minutes = read("BIGUSDT", t - 60_000)
    total = D(0)
    for p, q, _ in big + big[:1]:
        total = history.WIDE.add(total, history.WIDE.multiply(p, q))
    assert [q for *_, q in minutes.values()] == [total] and len(str(total).replace(".", "")) > 28


def test_bounds_are_inclusive_and_empty_buckets_absent():
    t = now_ms() // 60_000 * 60_000 - 120_000
    history.record_trades(
        "EDGEUSDT", [(D("1"), D("1"), t), (D("2"), D("1"), t + 1000), (D("3"), D("1"), t + 3000)]
    )
    seconds, _ = read("EDGEUSDT", t + 1000, t + 3000)
    assert sorted(seconds) == [t + 1000, t + 3000]
    seconds, _ = read("EDGEUSDT", t + 1001, t + 2999)
    assert seconds == {}


def test_history_older_than_the_retention_is_not_kept():
    # 26 h, not 25: a minute chunk (an hour) is kept until its start + 24 h + the 3 min slack + its
    # hour, so 25 h ago is still kept in the first 3 minutes of every hour (by design).
    old = now_ms() - 26 * 3600_000
    history.record_trades("OLDUSDT", [(D("1"), D("1"), old)])
    recent = now_ms() - 20 * 60_000  # past the seconds' 15 minutes, within the minutes' 24 hours
    history.record_trades("OLDUSDT", [(D("2"), D("1"), recent)])
    seconds, minutes = read("OLDUSDT", old - 60_000)
    assert seconds == {} or all(start >= now_ms() - 17 * 60_000 for start in seconds)
    assert list(minutes) == [recent - recent % 60_000]


def test_window_summaries_read_whole_chunks_by_their_aggregate_and_match_the_model():
    rng = random.Random(5)
    start = now_ms() - 3 * 3600_000
    trades = random_trades(rng, start, 600, 3 * 3600_000 - 60_000)
    trades = [t for t in trades if t[2] < now_ms()]
    history.record_trades("SUMUSDT", trades)
    minutes = model(trades, 60_000)
    for _ in range(30):
        first, last = sorted(rng.sample(sorted(minutes), 2))
        first -= rng.choice([0, 60_000])
        inside = [v for s, v in minutes.items() if first <= s <= last]
        [summary] = history.window_summaries([("SUMUSDT", 60, first, last)])
        assert summary == history.Summary(
            max(v[1] for v in inside), min(v[2] for v in inside), sum(v[4] for v in inside)
        )
    assert history.window_summaries([("SUMUSDT", 60, start - 7200_000, start - 3600_000)]) == [None]


def test_klines_replace_closed_minutes_and_later_trades_of_them_are_not_counted_twice():
    minute = now_ms() // 60_000 * 60_000 - 5 * 60_000
    history.record_trades("KLUSDT", [(D("10"), D("1"), minute + 5)])  # partly built
    candle = history.Candle(store.ms_to_datetime(minute), D("9"), D("12"), D("8"), D("11"), D("500.5"))
    history.fill_minutes("KLUSDT", [candle])
    history.fill_minutes("KLUSDT", [candle])  # idempotent
    history.record_trades("KLUSDT", [(D("13"), D("1"), minute + 7)])  # in the kline already
    [got] = history.minute_candles("KLUSDT", store.ms_to_datetime(minute - 60_000))
    assert got == candle
    [summary] = history.window_summaries([("KLUSDT", 60, minute - 3600_000, minute)])
    assert summary == history.Summary(D("12"), D("8"), D("500.5"))


def test_a_followed_symbols_history_is_what_an_uninterrupted_connection_gives_across_a_restart(
    binance, start_feeder
):
    """Live frames, lost frames (backfilled) and a feeder restart: every trade in the history exactly once."""
    rng = random.Random(7)
    feeder = start_feeder({"SOLUSDT"}, api_url=binance.api_url, reconnect_base=0.1, reconnect_max=0.2)
    assert binance.wait_for_subscription("solusdt@aggTrade")
    # The klines fill of the first follow is done (it found no trades): from here on, trades are
    # made as on the exchange, never in a minute that had closed before.
    assert wait_for(lambda: feeder.feeder.backfiller.minute_fills == 1)
    clock = now_ms()
    for step in range(150):
        clock += rng.choice([1, 300, 1000])
        price, qty = D(rng.randint(10_000, 20_000)) / 100, D(rng.randint(1, 999)) / 1000
        if rng.random() < 0.15:
            binance.lose_trades([("SOLUSDT", price, clock, qty)])
        else:
            binance.publish_trade("SOLUSDT", price, qty, event_ms=clock)
        if step == 60:
            binance.drop_all()
        if step == 100:
            feeder.stop()  # trades go on while no feeder runs
        if step == 120:
            feeder = start_feeder({"SOLUSDT"}, api_url=binance.api_url)
            assert binance.wait_for_subscription("solusdt@aggTrade")
    clock += 1
    binance.publish_trade("SOLUSDT", "150", "1", event_ms=clock)  # a lost frame is seen with the next one
    trades = [(p, q, ms) for _, p, q, _, ms, _ in binance.trades("SOLUSDT")]
    first = trades[0][2]
    later = clock + 60_000
    wait_for(lambda: read("SOLUSDT", first, later)[0] == model(trades, 1000), timeout=20)
    seconds, minutes = read("SOLUSDT", first - 60_000, later)
    expected_seconds = model(trades, 1000)
    assert {k: v for k, v in seconds.items() if v != expected_seconds.get(k)} == {
        k: v for k, v in expected_seconds.items() if v != seconds.get(k)
    }
    assert minutes == model(trades, 60_000)


def test_a_newly_followed_symbol_gets_its_minutes_from_klines_once(binance, start_feeder):
    base = now_ms() // 60_000 * 60_000
    made = []
    for minutes_ago in (90, 30, 2):
        ms = base - minutes_ago * 60_000 + 1234
        binance.lose_trades([("ETHUSDT", "3000.5", ms, "2"), ("ETHUSDT", "2999.25", ms + 10, "0.5")])
        made.append(base - minutes_ago * 60_000)
    start_feeder({"ETHUSDT"}, api_url=binance.api_url)
    assert wait_for(
        lambda: len(history.minute_candles("ETHUSDT", store.ms_to_datetime(base - 86_400_000))) == 3
    )
    candles = history.minute_candles("ETHUSDT", store.ms_to_datetime(base - 86_400_000))
    assert [int(c.start.timestamp() * 1000) for c in candles] == made
    assert candles[0] == history.Candle(
        store.ms_to_datetime(made[0]), D("3000.5"), D("3000.5"), D("2999.25"), D("2999.25"), D("7500.625")
    )
    klines = [r for r in binance.rest_requests() if r.path == "/api/v3/klines"]
    assert klines and all(r.status == 200 and r.params["interval"] == "1m" for r in klines)
    binance.drop_all()  # a resubscription does not fetch them again
    assert binance.wait_for_subscription("ethusdt@aggTrade")
    time.sleep(0.3)
    assert len([r for r in binance.rest_requests() if r.path == "/api/v3/klines"]) == len(klines)


@pytest.mark.parametrize("interval, bad", [("1m", None), ("7m", "Invalid interval.")])
def test_the_fake_serves_klines_in_binances_shape(binance, interval, bad):
    import requests

    t = now_ms() // 60_000 * 60_000 - 120_000
    binance.lose_trades([("BNBUSDT", "550.5", t + 1, "0.3"), ("BNBUSDT", "551", t + 2, "0.1")])
    answer = requests.get(
        f"{binance.api_url}/api/v3/klines", params={"symbol": "BNBUSDT", "interval": interval}, timeout=5
    )
    if bad:
        assert answer.status_code == 400 and answer.json() == {"code": -1120, "msg": bad}
        return
    assert answer.headers["X-MBX-USED-WEIGHT-1M"] == "2"
    [row] = answer.json()
    assert row[:9] + row[11:] == [
        t, "550.50000000", "551.00000000", "550.50000000", "551.00000000", "0.40000000", t + 59_999,
        "220.25000000", 2, "0",
    ]  # fmt: skip
    assert {row[9], row[10]} <= {"0.00000000", "0.30000000", "0.10000000", "0.40000000", "165.15000000",
                                 "55.10000000", "220.25000000"}  # fmt: skip
    assert timedelta(milliseconds=row[6] - row[0] + 1) == timedelta(minutes=1)


def test_the_index_hashes_hold_every_chunks_aggregate_and_drop_expired_ones():
    rng = random.Random(9)
    start = now_ms() - 3 * 3600_000
    trades = [t for t in random_trades(rng, start, 300, 3 * 3600_000) if t[2] < now_ms()]
    history.record_trades("IDXUSDT", trades)
    history.record_trades("IDXUSDT", [(D("1"), D("1"), now_ms() - 30 * 3600_000)])  # past the retention
    client = store.redis_client()
    indexed, _ = aggregates.read_aggregates(["IDXUSDT"], [])
    read = {
        history.chunk_key("IDXUSDT", resolution, start_ms): summary
        for (resolution, _), chunks in indexed.items()
        for start_ms, summary in zip(chunks.starts, chunks.chunks, strict=True)
    }
    chunks = [k for k in client.keys("hist:[sm]:IDXUSDT:*")]
    assert chunks and sorted(read) == sorted(chunks)
    for key in chunks:
        h, lo, q = client.hget(key, "a").split(" ")
        assert read[key] == history.Summary(D(h), D(lo), D(q))


def test_chunk_aggregates_since_any_chunk_equal_folding_those_chunks_one_by_one():
    """``ChunkAggregates.since`` (running totals, one lookup) against ``combine`` over its chunks."""
    rng = random.Random(11)
    start = now_ms() - 20 * 3600_000
    recent = now_ms() - 14 * 60_000  # the seconds' chunks too: 15 minutes are kept
    trades = random_trades(rng, start, 400, 19 * 3600_000) + random_trades(rng, recent, 300, 13 * 60_000)
    history.record_trades("RUNUSDT", [t for t in trades if t[2] < now_ms()])
    indexed, _ = aggregates.read_aggregates(["RUNUSDT", "NONEUSDT"], [])
    assert indexed[(1, "NONEUSDT")].since(0) is None
    for resolution in (1, 60):
        chunks = indexed[(resolution, "RUNUSDT")]
        assert chunks.starts == sorted(chunks.starts, reverse=True) and len(chunks.starts) > 1
        step = 60_000 if resolution == 1 else 3600_000
        for oldest in range(chunks.starts[-1] - step, chunks.starts[0] + 2 * step, step // 2):
            pairs = zip(chunks.starts, chunks.chunks, strict=True)
            covered = [summary for start_ms, summary in pairs if start_ms >= oldest]
            assert chunks.since(oldest) == history.combine(covered)


def test_a_trade_written_into_a_closed_chunk_is_in_the_next_read():
    """The closed chunks' fold is kept between reads: a backfilled old trade must still count at once."""
    start = now_ms() - 5 * 3600_000
    history.record_trades("OLDUSDT", [(D("100"), D("1"), start + n * 600_000) for n in range(30)])
    first, _ = aggregates.read_aggregates(["OLDUSDT"], [])
    minutes = first[(60, "OLDUSDT")]
    assert len(minutes.starts) > 2 and minutes.since(0).low == D("100")
    history.record_trades("OLDUSDT", [(D("40"), D("2"), start + 1)])  # the oldest chunk, closed long ago
    again, _ = aggregates.read_aggregates(["OLDUSDT"], [])
    whole = again[(60, "OLDUSDT")].since(0)
    assert whole.low == D("40") and whole.quote_volume == D("3080")
    assert again[(60, "OLDUSDT")].since(minutes.starts[1]).low == D("100")  # the newer chunks alone
