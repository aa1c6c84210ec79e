"""Reading chunk aggregates for a bound (feeds/aggregates.py): the kept fold must never go stale.

Real Redis. Every read here is compared with folding the index hash read whole
(``ChunkAggregates.from_index``), chunk by chunk, for every oldest chunk a
bound may ask for, after each kind of write the history takes: a trade in
the newest chunk, in a closed chunk (a backfill), a chunk opening, a chunk
expiring, and a hash written before the version fields existed.
"""

import random
import time
from decimal import Decimal

from feeds import aggregates, history, store

D = Decimal
SECOND, MINUTE, HOUR = 1000, 60_000, 3600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def folds(symbol: str) -> list:
    """The closed chunks' folds this process keeps for the symbol (a new one: its hash was read whole)."""
    return [aggregates._closed_folds.get((resolution, symbol), (None, None))[1] for resolution in (1, 60)]


def whole(symbol: str) -> dict:
    client = store.redis_client()
    return {
        (resolution, symbol): aggregates.ChunkAggregates.from_index(
            (resolution, symbol),
            client.hgetall(f"hist:{'s' if resolution == 1 else 'm'}i:{symbol}"),
            keep=False,
        )
        for resolution in (1, 60)
    }


def assert_same_as_whole(symbol: str, heads: aggregates.Heads) -> None:
    for key, expected in whole(symbol).items():
        got = heads.aggregates[key]
        assert got.starts == expected.starts and got.chunks == expected.chunks
        step = 60 * SECOND if key[0] == 1 else HOUR
        starts = expected.starts or [now_ms()]
        for oldest in range(starts[-1] - step, starts[0] + 2 * step, step // 2):
            assert got.since(oldest) == expected.since(oldest)
            exact, floats = expected.since(oldest), got.since_floats(oldest)
            assert (exact is None) == (floats is None)
            if exact is not None:
                for value, approximate in zip(
                    (exact.high, exact.low, exact.quote_volume), floats, strict=True
                ):
                    assert abs(float(value) - approximate) <= abs(float(value)) * 1e-12


def trades(rng, start_ms: int, count: int, span_ms: int):
    return [
        (
            D(rng.randint(100, 20_000)) / 100,
            D(rng.randint(1, 10**6)) / 10**4,
            start_ms + rng.randint(0, span_ms),
        )
        for _ in range(count)
    ]


def test_a_read_keeps_the_closed_chunks_and_sees_every_write_after_it():
    rng = random.Random(5)
    symbol = "HEADUSDT"
    base = now_ms()
    history.record_trades(symbol, trades(rng, base - 10 * HOUR, 300, 10 * HOUR - 20 * MINUTE))
    history.record_trades(symbol, trades(rng, base - 12 * MINUTE, 200, 12 * MINUTE - 5 * SECOND))
    second = base - base % SECOND - 3 * SECOND
    asked = {symbol: [second - SECOND, second]}

    heads = aggregates.read_heads(asked)  # the first read: whole
    assert_same_as_whole(symbol, heads)

    before = folds(symbol)
    history.record_trades(symbol, [(D("150.5"), D("2"), second)])  # the newest chunk
    heads = aggregates.read_heads(asked)
    assert all(a is b for a, b in zip(folds(symbol), before, strict=True))  # kept, not read whole
    assert_same_as_whole(symbol, heads)
    assert heads.bucket(symbol, second).high >= D("150.5")

    for when, price in (
        (base - 9 * HOUR, D("0.5")),  # a closed hour of minutes, and of no seconds: a backfill
        (base - 10 * MINUTE, D("99999")),  # a closed minute of seconds
        (base + 2 * MINUTE, D("123")),  # a chunk opens (the minute after this one)
    ):
        before = folds(symbol)
        history.record_trades(symbol, [(price, D("1"), when)])
        heads = aggregates.read_heads(asked)
        assert any(a is not b for a, b in zip(folds(symbol), before, strict=True))  # read whole again
        assert_same_as_whole(symbol, heads)
    whole_minutes = heads.aggregates[(60, symbol)].since(0)
    assert whole_minutes.low == D("0.5") and whole_minutes.high >= D("99999")


def test_a_chunk_that_expires_moves_the_version():
    symbol = "GONEUSDT"
    start = now_ms() - 20 * HOUR
    history.record_trades(symbol, [(D("10"), D("1"), start + n * HOUR) for n in range(19)])
    client = store.redis_client()
    # An hour of minutes from before the retention, still in the index (as if written then):
    # read and kept in the fold, then a late trade for it drops it from the index.
    stale_ms = now_ms() - 26 * HOUR
    stale_hour = (stale_ms // 1000) - (stale_ms // 1000) % 3600
    client.hset(f"hist:mi:{symbol}", str(stale_hour), "10 1 10")
    client.hincrby(f"hist:mi:{symbol}", "c", 1)
    asked = {symbol: [now_ms() - now_ms() % SECOND]}
    assert aggregates.read_heads(asked).aggregates[(60, symbol)].since(0).low == D("1")
    history.record_trades(symbol, [(D("7"), D("1"), stale_hour * 1000 + 1)])
    assert str(stale_hour) not in client.hkeys(f"hist:mi:{symbol}")
    heads = aggregates.read_heads(asked)
    assert_same_as_whole(symbol, heads)
    assert heads.aggregates[(60, symbol)].since(0).low == D("10")


def test_a_hash_written_before_versions_is_read_whole_until_a_write_gives_it_one():
    symbol = "OLDFMTUSDT"
    at = now_ms() - 2 * HOUR
    history.record_trades(symbol, [(D("20"), D("1"), at), (D("30"), D("1"), at + HOUR)])
    client = store.redis_client()
    for index in (f"hist:si:{symbol}", f"hist:mi:{symbol}"):
        client.hdel(index, "e", "c", "N")
    asked = {symbol: [at - at % SECOND]}
    # (Hours old: only minutes are kept, the seconds' index is gone.)
    for _ in range(2):
        assert_same_as_whole(symbol, aggregates.read_heads(asked))
        assert folds(symbol)[1] is None  # no version: nothing kept, read whole every time
    history.record_trades(symbol, [(D("25"), D("1"), at + HOUR + 1)])
    aggregates.read_heads(asked)
    before = folds(symbol)[1]
    assert before is not None
    assert_same_as_whole(symbol, aggregates.read_heads(asked))
    assert folds(symbol)[1] is before


def test_marks_return_an_older_newest_second_and_move_to_this_reads():
    symbol = "MARKUSDT"
    t = now_ms() - now_ms() % SECOND - 30 * SECOND
    history.record_trades(symbol, [(D("5"), D("1"), t), (D("6"), D("1"), t + 5 * SECOND)])
    heads = aggregates.read_heads({symbol: [t, t + SECOND]}, mark_key="test:marks")
    assert heads.previous == {} and store.redis_client().hget("test:marks", symbol) == str(t + SECOND)
    heads = aggregates.read_heads({symbol: [t + 5 * SECOND]}, mark_key="test:marks")
    assert heads.previous == {symbol: t + SECOND}  # older than the first second asked for
    assert heads.bucket(symbol, t + SECOND) is None and heads.bucket(symbol, t + 5 * SECOND).high == D("6")
    heads = aggregates.read_heads({symbol: [t + 5 * SECOND]}, mark_key="test:marks")
    assert heads.previous == {}  # the same second: not older
    assert heads.extremes(symbol, [t + 5 * SECOND]) == (6.0, 6.0, 6.0)
