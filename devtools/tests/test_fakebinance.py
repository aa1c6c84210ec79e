"""The fake Binance server speaks Binance's protocol: endpoints, control replies, limits, frame formats."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import websocket

from devtools.fakebinance import FakeBinance
from tests.recordings import recorded_lines

PROJECT_DIR = Path(__file__).resolve().parents[2]


def connect(server: FakeBinance, path: str) -> websocket.WebSocket:
    return websocket.create_connection(server.url + path, timeout=5)


def receive_json(ws: websocket.WebSocket):
    return json.loads(ws.recv())


def request(ws: websocket.WebSocket, payload) -> dict:
    ws.send(payload if isinstance(payload, str) else json.dumps(payload))
    return receive_json(ws)


def recorded_first(name: str) -> dict:
    return json.loads(recorded_lines(name)[0])


def test_agg_trade_and_trade_frames_look_like_the_recorded_ones(binance):
    ws = connect(binance, "/ws/btcusdt@aggTrade/btcusdt@trade")
    assert binance.publish_trade("BTCUSDT", "58001.03", qty="0.086205", event_ms=1617566591315) == 2
    frames = {frame["e"]: frame for frame in (receive_json(ws), receive_json(ws))}
    for event, name in (("aggTrade", "aggTrade.jsonl"), ("trade", "trade.jsonl")):
        frame, sample = frames[event], recorded_first(name)
        assert list(frame) == list(sample)  # same keys, same order
        assert [type(v) for v in frame.values()] == [type(v) for v in sample.values()]
    assert frames["aggTrade"]["p"] == "58001.03000000"
    assert frames["aggTrade"]["q"] == "0.08620500"
    assert frames["aggTrade"]["s"] == "BTCUSDT"
    assert frames["aggTrade"]["E"] == frames["aggTrade"]["T"] == 1617566591315
    # Compact separators, like the wire.
    binance.publish_trade("BTCUSDT", "1", event_ms=1)
    texts = [ws.recv(), ws.recv()]  # the aggTrade and the trade frame
    assert all(", " not in text and '": ' not in text for text in texts)
    ws.close()


def test_kline_1s_frames_look_like_the_recorded_klines_and_close_on_the_next_second(binance):
    ws = connect(binance, "/ws/ethusdt@kline_1s")
    binance.publish_trade("ETHUSDT", "2000.5", qty="2", event_ms=1_700_000_000_100, buyer_is_maker=False)
    binance.publish_trade("ETHUSDT", "2001", qty="1", event_ms=1_700_000_000_900, buyer_is_maker=True)
    first, second = receive_json(ws), receive_json(ws)
    sample = recorded_first("kline.jsonl")
    assert list(first) == list(sample) and list(first["k"]) == list(sample["k"])
    candle = second["k"]
    assert (candle["t"], candle["T"], candle["i"], candle["x"]) == (
        1_700_000_000_000,
        1_700_000_000_999,
        "1s",
        False,
    )
    assert (candle["o"], candle["h"], candle["l"], candle["c"]) == (
        "2000.50000000",
        "2001.00000000",
        "2000.50000000",
        "2001.00000000",
    )
    assert (candle["v"], candle["n"], candle["V"]) == ("3.00000000", 2, "2.00000000")
    binance.publish_trade("ETHUSDT", "1999", event_ms=1_700_000_001_050)
    closed, opened = receive_json(ws), receive_json(ws)
    assert closed["k"]["x"] is True and closed["k"]["t"] == 1_700_000_000_000
    assert opened["k"]["t"] == 1_700_000_001_000 and opened["k"]["o"] == "1999.00000000"
    ws.close()


def test_combined_streams_wrap_payloads_and_raw_streams_do_not(binance):
    combined = connect(binance, "/stream?streams=btcusdt@aggTrade")
    raw = connect(binance, "/ws/btcusdt@aggTrade")
    binance.publish_trade("BTCUSDT", "100")
    wrapped = receive_json(combined)
    assert list(wrapped) == ["stream", "data"] and wrapped["stream"] == "btcusdt@aggTrade"
    assert wrapped["data"] == receive_json(raw)
    combined.close()
    raw.close()


def test_live_subscribe_list_unsubscribe_and_properties(binance):
    ws = connect(binance, "/ws")
    assert request(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "ethusdt@trade"], "id": 1}) == {
        "result": None,
        "id": 1,
    }
    assert binance.subscriptions() == [{"btcusdt@aggTrade", "ethusdt@trade"}]
    assert request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3}) == {
        "result": ["btcusdt@aggTrade", "ethusdt@trade"],
        "id": 3,
    }
    assert request(ws, {"method": "UNSUBSCRIBE", "params": ["ethusdt@trade"], "id": 312}) == {
        "result": None,
        "id": 312,
    }
    assert request(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}) == {
        "result": False,
        "id": 2,
    }
    time.sleep(1.1)  # stay under 5 messages per second
    assert request(ws, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}) == {
        "result": None,
        "id": 5,
    }
    binance.publish_trade("BTCUSDT", "1.5")
    assert receive_json(ws)["stream"] == "btcusdt@aggTrade"
    ws.close()


@pytest.mark.parametrize(
    ("payload", "reply"),
    [
        (
            "{nope",
            {"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 2"}, "id": None},
        ),
        (
            {"method": "SUBSCRIBE", "params": ["BTCUSDT@aggTrade"], "id": 4},
            {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 4},
        ),
        (
            {"method": "SUBSCRIBE", "params": [12], "id": 4},
            {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 4},
        ),
        (
            {"method": "SET_PROPERTY", "params": ["colour", True], "id": 6},
            {"error": {"code": 0, "msg": "Unknown property"}, "id": 6},
        ),
        (
            {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 7},
            {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": 7},
        ),
        (
            {"method": "GET_PROPERTY", "params": [5], "id": 8},
            {"error": {"code": 2, "msg": "Invalid request: property name must be a string"}, "id": 8},
        ),
        (
            {"method": "SUBSCRIBE", "params": [], "id": -1.5},
            {
                "error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"},
                "id": None,
            },
        ),
    ],
)
def test_bad_requests_get_binance_error_shapes(binance, payload, reply):
    ws = connect(binance, "/ws")
    assert request(ws, payload) == reply
    assert binance.subscriptions() == [set()]
    ws.close()


def test_unknown_method_and_missing_method_are_code_2(binance):
    ws = connect(binance, "/ws")
    unknown = request(ws, {"method": "PING", "id": 1})
    assert unknown["id"] == 1 and unknown["error"]["code"] == 2
    assert unknown["error"]["msg"].startswith(
        "Invalid request: unknown variant `PING`, expected one of `SUBSCRIBE`"
    )
    missing = request(ws, {"params": [], "id": 2})
    assert missing["error"]["code"] == 2 and "missing field `method`" in missing["error"]["msg"]
    ws.close()


def test_an_unknown_symbol_is_acked_and_stays_silent(binance):
    ws = connect(binance, "/ws")
    assert request(ws, {"method": "SUBSCRIBE", "params": ["xrpxrp@miniTicker"], "id": 1}) == {
        "result": None,
        "id": 1,
    }
    ws.close()


def test_unknown_paths_and_bad_url_streams_are_refused(binance):
    with pytest.raises(websocket.WebSocketBadStatusException) as not_found:
        connect(binance, "/api/v3/ping")
    assert not_found.value.status_code == 404
    with pytest.raises(websocket.WebSocketBadStatusException) as bad_stream:
        connect(binance, "/ws/BTCUSDT@aggTrade")
    assert bad_stream.value.status_code == 400


def test_a_client_sending_more_than_five_messages_in_a_second_is_closed():
    with FakeBinance(ping_interval=60) as server:
        polite = connect(server, "/ws")
        for request_id in range(5):
            polite.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
        greedy = connect(server, "/ws")
        for request_id in range(6):
            greedy.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
        assert server.wait_until(lambda: len(server.rate_violations) == 1)
        opcode, frame = greedy.recv_data_frame(True)
        while opcode != websocket.ABNF.OPCODE_CLOSE:
            opcode, frame = greedy.recv_data_frame(True)
        assert int.from_bytes(frame.data[:2], "big") == 1008
        assert server.wait_until(lambda: server.connection_count == 1)
        assert [receive_json(polite)["id"] for _ in range(5)] == [0, 1, 2, 3, 4]
        polite.close()


def test_pongs_count_towards_the_message_limit():
    # Pings every 0.1 s: a client answering them all sends ~10 pongs a second.
    with FakeBinance(ping_interval=0.1, pong_timeout=5) as server:
        ws = connect(server, "/ws")
        ws.settimeout(0.2)

        deadline = time.monotonic() + 10
        while not server.rate_violations and time.monotonic() < deadline:
            try:
                ws.recv()  # websocket-client pongs inside recv
            except websocket.WebSocketTimeoutException:
                pass
            except websocket.WebSocketConnectionClosedException:
                break
        assert server.wait_until(lambda: server.rate_violations, timeout=1)
        assert server.rate_violations[0][0] == 1


def test_a_client_that_does_not_answer_pings_is_dropped_and_one_that_does_stays():
    with FakeBinance(ping_interval=0.3, pong_timeout=2.0) as server:
        silent = connect(server, "/ws")  # never reads, so never pongs
        ponging = connect(server, "/ws")
        ponging.settimeout(0.1)
        deadline = time.monotonic() + 10
        while server.pong_timeouts == 0 and time.monotonic() < deadline:
            with contextlib.suppress(websocket.WebSocketTimeoutException):
                ponging.recv()
        assert server.pong_timeouts == 1
        assert server.wait_until(lambda: server.connection_count == 1)
        assert server.subscriptions() == [set()]  # the ponging one is the one left
        ponging.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
        assert "result" in json.loads(ponging.recv())
        silent.close()
        ponging.close()


def test_drop_all_cuts_every_connection(binance):
    clients = [connect(binance, "/ws/btcusdt@aggTrade") for _ in range(3)]
    assert binance.wait_for_connections(3)
    assert binance.drop_all() == 3
    assert binance.connection_count == 0
    for ws in clients:
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            ws.recv()


def test_server_shutdown_event_raw_and_combined(binance):
    raw = connect(binance, "/ws")
    combined = connect(binance, "/stream")
    assert binance.send_server_shutdown() == 2
    event = receive_json(raw)
    assert list(event) == ["e", "E"] and event["e"] == "serverShutdown"
    assert receive_json(combined) == {"stream": "!serverShutdown", "data": event}
    raw.close()
    combined.close()


def test_stream_limit_per_connection():
    with FakeBinance(max_streams_per_connection=3) as server:
        ws = connect(server, "/ws")
        params = [f"s{i}usdt@aggTrade" for i in range(4)]
        reply = request(ws, {"method": "SUBSCRIBE", "params": params, "id": 1})
        assert reply["error"]["code"] == 2 and server.stream_limit_violations == [1]
        assert request(ws, {"method": "SUBSCRIBE", "params": params[:3], "id": 2}) == {
            "result": None,
            "id": 2,
        }
        ws.close()


def test_prices_must_be_exact_with_at_most_8_decimals(binance):
    with pytest.raises(ValueError):
        binance.publish_trade("BTCUSDT", "0.000000001")
    with pytest.raises(TypeError):
        binance.publish_trade("BTCUSDT", 1.5)


def test_random_walk_publishes_for_followed_symbols(binance):
    ws = connect(binance, "/ws/btcusdt@aggTrade/ethbtc@aggTrade")
    binance.start_random_walk(rate=50, step=0.01, start_prices={"BTCUSDT": "60000"}, seed=1)
    seen = {}
    while len(seen) < 2 or min(len(v) for v in seen.values()) < 5:
        frame = receive_json(ws)
        seen.setdefault(frame["s"], []).append(Decimal(frame["p"]))
    binance.stop_random_walk()
    assert all(Decimal("50000") < p < Decimal("70000") for p in seen["BTCUSDT"])
    assert all(Decimal(0) < p < 1 for p in seen["ETHBTC"])
    assert len(set(seen["BTCUSDT"])) > 1
    ws.close()


def test_command_line_server_with_random_walk():
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.fakebinance", "--port", "0", "--random-walk", "--rate", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=PROJECT_DIR,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("fake Binance listening on ws://127.0.0.1:")
        url = line.split()[4]
        ws = websocket.create_connection(url + "/ws/bnbusdt@aggTrade", timeout=10)
        frame = json.loads(ws.recv())
        assert frame["e"] == "aggTrade" and frame["s"] == "BNBUSDT"
        ws.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
