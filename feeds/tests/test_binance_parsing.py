"""feeds.binance on real recorded Binance frames (tests/data/binance) and on bad input."""

import json
from decimal import Decimal

import pytest

from feeds import binance
from feeds.binance import Ack, ErrorReply, ServerShutdown, Skipped, Trade
from tests.recordings import recorded_bytes, recorded_lines


def wrapped(line: str, stream: str) -> str:
    return f'{{"stream":"{stream}","data":{line}}}'


@pytest.mark.parametrize("name", ["aggTrade.jsonl", "trade.jsonl"])
def test_every_recorded_trade_parses_to_the_exact_price_symbol_trade_time_and_aggregate_id(name):
    lines = recorded_lines(name)
    assert len(lines) > 20
    for line in lines:
        raw = json.loads(line)
        # The trade time T, which REST's aggTrades also carry (E is the stream's send time).
        expected = Trade(
            raw["s"],
            Decimal(raw["p"]),
            raw["T"],
            raw.get("a") if raw["e"] == "aggTrade" else None,
            Decimal(raw["q"]),
        )
        for frame in (line, line.encode(), wrapped(line, f"{raw['s'].lower()}@{raw['e']}")):
            trade = binance.parse_message(frame)
            assert trade == expected
            # Exact string round trip: "58001.03000000" stays "58001.03000000".
            assert str(trade.price) == raw["p"]


def test_a_sub_satoshi_price_stays_exact():
    line = recorded_lines("aggTrade.jsonl")[2]  # LRCBTC at 0.00000638
    assert str(binance.parse_message(line).price) == "0.00000638"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("kline.jsonl", "unhandled event 'kline'"),
        ("miniTicker.jsonl", "unhandled event '24hrMiniTicker'"),
        ("ticker.jsonl", "unhandled event '24hrTicker'"),
        ("bookTicker.jsonl", "message without an event type"),
    ],
)
def test_other_recorded_events_are_skipped_with_a_reason(name, reason):
    for line in recorded_lines(name):
        assert binance.parse_message(line) == Skipped(reason)
        assert binance.parse_message(wrapped(line, "x@y")) == Skipped(reason)


def test_the_recorded_mini_ticker_array_is_skipped_raw_and_combined():
    frame = recorded_bytes("miniTickerArr.json").decode()
    assert binance.parse_message(frame) == Skipped("unexpected list message")
    assert binance.parse_message(wrapped(frame, "!miniTicker@arr")) == Skipped(
        "unexpected list payload on stream '!miniTicker@arr'"
    )


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"result":null,"id":2}', Ack(2, None)),
        ('{"id":1,"result":null}', Ack(1, None)),
        ('{"result":["btcusdt@aggTrade"],"id":3}', Ack(3, ["btcusdt@aggTrade"])),
        ('{"result":true,"id":"abc"}', Ack("abc", True)),
        (
            '{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}',
            ErrorReply(2, 2, "Invalid request: invalid stream"),
        ),
        ('{"code":0,"msg":"Unknown property","id":7}', ErrorReply(7, 0, "Unknown property")),
        (
            '{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}',
            ErrorReply(None, 3, "Invalid JSON: expected value at line 1 column 1"),
        ),
        ('{"e":"serverShutdown","E":1770123456789}', ServerShutdown(1770123456789)),
        (
            '{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}',
            ServerShutdown(1770123456789),
        ),
    ],
)
def test_replies_errors_and_server_shutdown(frame, expected):
    assert binance.parse_message(frame) == expected


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"not json", "malformed JSON"),
        (b"", "malformed JSON"),
        (b'{"e":"aggTrade","s":"BTC\xff"}', "malformed JSON"),  # invalid UTF-8 (utf8 validation is skipped)
        (b"null", "unexpected NoneType message"),
        (b'"text"', "unexpected str message"),
        (b"{}", "message without an event type"),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"abc"}', "aggTrade with a bad price 'abc'"),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":58001.03}', "aggTrade with a bad price 58001.03"),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"NaN"}', "aggTrade with a bad price 'NaN'"),
        (
            b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"-1.00000000"}',
            "aggTrade with a bad price '-1.00000000'",
        ),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":null}', "aggTrade with a bad price None"),
        (b'{"e":"trade","E":1,"s":"BTCUSDT"}', "trade without field 'p'"),
        (b'{"e":"aggTrade","E":"1","s":"BTCUSDT","p":"1.0"}', "aggTrade with a bad symbol or event time"),
        (b'{"e":"aggTrade","E":1,"s":"","p":"1.0"}', "aggTrade with a bad symbol or event time"),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"1.0"}', "aggTrade with a bad quantity None"),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"1.0","q":0.5}', "aggTrade with a bad quantity 0.5"),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"1.0","q":"-1"}', "aggTrade with a bad quantity '-1'"),
        (b'{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"1.0","q":"x"}', "aggTrade with a bad quantity 'x'"),
        (b'{"e":"depthUpdate","E":1}', "unhandled event 'depthUpdate'"),
        (
            b'{"stream":"btcusdt@aggTrade","data":"oops"}',
            "unexpected str payload on stream 'btcusdt@aggTrade'",
        ),
    ],
)
def test_malformed_and_unknown_messages_become_skips_never_exceptions(frame, reason):
    assert binance.parse_message(frame) == Skipped(reason)


def test_stream_names_and_control_frames_have_binance_shapes():
    assert binance.stream_name("BTCUSDT") == "btcusdt@aggTrade"
    assert binance.stream_name("ethbtc", "kline_1s") == "ethbtc@kline_1s"
    assert binance.symbol_of("btcusdt@aggTrade") == "BTCUSDT"
    assert (
        binance.combined_stream_url("wss://stream.binance.com:9443/")
        == "wss://stream.binance.com:9443/stream"
    )
    assert (
        binance.control_frame("SUBSCRIBE", ["btcusdt@aggTrade", "btcusdt@depth"], 1)
        == '{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@depth"],"id":1}'
    )
    assert binance.control_frame("UNSUBSCRIBE", ["btcusdt@depth"], 312) == (
        '{"method":"UNSUBSCRIBE","params":["btcusdt@depth"],"id":312}'
    )
    assert binance.control_frame("LIST_SUBSCRIPTIONS", None, 3) == '{"method":"LIST_SUBSCRIPTIONS","id":3}'
