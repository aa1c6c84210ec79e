"""Refetching a lost span: its trades from the fake's REST, over real HTTP, as windows in event order."""

import time
from decimal import Decimal

from devtools.fakebinance import FakeBinance
from feeds.refetch import WINDOW_MS, Span, refetch
from feeds.rest import BinanceRest


def page_from(rest: BinanceRest):
    def page(symbol, **query):
        return rest.agg_trades(symbol, **query)

    return page


def test_a_span_longer_than_one_page_comes_back_whole_and_only_the_span():
    with FakeBinance() as binance:
        start_ms = int(time.time() * 1000) - 60_000
        # 2,500 trades of BTCUSDT, one per ms with a rising price; 10 of ETHUSDT spread over the span.
        for i in range(2_500):
            binance.publish_trade("BTCUSDT", str(60_000 + i), event_ms=start_ms + i)
        for i in range(10):
            binance.publish_trade("ETHUSDT", str(3_000 + i), event_ms=start_ms + 250 * i)
        span = Span(start_ms + 100, start_ms + 2_199, "default")
        outcome = refetch(
            ["BTCUSDT", "ETHUSDT"], span, page_from(BinanceRest(binance.api_url)), cap_from_ms=0
        )

    assert outcome.unanswered == [] and outcome.symbols == 2
    btc = [w for entry in outcome.windows for w in entry if w.symbol == "BTCUSDT"]
    eth = [w for entry in outcome.windows for w in entry if w.symbol == "ETHUSDT"]
    # Exactly the trades with event times in the span (both ends inclusive), nothing outside it.
    assert outcome.trades == 2_100 + len(eth)
    assert btc[0].first_event_ms == start_ms + 100 and btc[-1].last_event_ms == start_ms + 2_199
    assert min(w.low for w in btc) == Decimal(60_100) and max(w.high for w in btc) == Decimal(62_199)
    assert [w.last for w in eth] == [Decimal(3_000 + i) for i in range(1, 9)]
    # One entry per slot of WINDOW_MS, in event order, one window per symbol and slot.
    slots = [{w.first_event_ms // WINDOW_MS for w in entry} for entry in outcome.windows]
    assert all(len(slot) == 1 for slot in slots)
    assert [min(slot) for slot in slots] == sorted(min(slot) for slot in slots)
    assert all(len({w.symbol for w in entry}) == len(entry) for entry in outcome.windows)


def test_nothing_older_than_the_cap_is_fetched_and_the_outcome_says_so():
    with FakeBinance() as binance:
        start_ms = int(time.time() * 1000) - 60_000
        for i in range(10):
            binance.publish_trade("BTCUSDT", str(60_000 + i), event_ms=start_ms + 1_000 * i)
        span = Span(start_ms, start_ms + 9_000, "default")
        rest = BinanceRest(binance.api_url)
        outcome = refetch(["BTCUSDT"], span, page_from(rest), cap_from_ms=start_ms + 5_000)

    assert outcome.trades == 5
    text = outcome.describe(span, capped_from_ms=start_ms + 5_000)
    assert "refetched 5 trades of 1 symbols" in text and "older than the backfill cap not fetched" in text


def test_a_symbol_binance_does_not_answer_for_is_named():
    span = Span(0, 1_000, "default")
    outcome = refetch(["BTCUSDT"], span, lambda symbol, **query: None, cap_from_ms=0)
    assert outcome.unanswered == ["BTCUSDT"] and outcome.windows == []
    assert "Binance did not answer for BTCUSDT" in outcome.describe(span, capped_from_ms=0)
