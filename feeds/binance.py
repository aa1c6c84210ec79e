"""Binance spot market streams: stream names, URLs, control frames and message parsing.

Pure functions, no I/O: the feeder loop (``feeds.feeder``) calls them, and the
parser's tests run them on real recorded frames (tests/data/binance/*.jsonl).

``parse_message`` turns one text frame into exactly one of:

- ``Trade``: an ``aggTrade`` or ``trade`` event (price and quantity as exact
  ``Decimal``, ``T`` trade time in ms, the aggregate id), raw or wrapped as ``{"stream", "data"}``;
- ``Ack``: ``{"result": ..., "id": ...}``, the reply to a control request;
- ``ErrorReply``: ``{"error": {"code", "msg"}, "id": ...}``;
- ``ServerShutdown``: the ``serverShutdown`` event (raw or ``!serverShutdown``);
- ``Skipped``: anything else (other event types, arrays, malformed JSON or
  fields), with a reason the loop logs before moving on.
"""

from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import orjson

AGG_TRADE = "aggTrade"
TRADE = "trade"
TRADE_EVENTS = frozenset({AGG_TRADE, TRADE})
SERVER_SHUTDOWN = "serverShutdown"

# Binance's documented limits for one connection (PROTOCOL.md section 2).
MAX_STREAMS_PER_CONNECTION = 1024
MAX_INCOMING_MESSAGES_PER_SECOND = 5


class Trade(NamedTuple):
    symbol: str
    price: Decimal
    # The trade time ``T`` (the event time ``E`` if absent): REST's aggTrades carry only ``T``,
    # so windows made of live frames and of backfilled trades keep the same times.
    event_ms: int
    # ``a`` of an aggTrade (consecutive per symbol: a jump means missed trades); None for ``trade``.
    agg_id: int | None = None
    # ``q``, the base quantity (price x quantity is the quote volume, ``feeds.history``).
    quantity: Decimal = Decimal(0)


class Ack(NamedTuple):
    request_id: int | str | None
    result: object


class ErrorReply(NamedTuple):
    request_id: int | str | None
    code: int | None
    message: str


class ServerShutdown(NamedTuple):
    event_ms: int | None


class Skipped(NamedTuple):
    reason: str


ParseResult = Trade | Ack | ErrorReply | ServerShutdown | Skipped


def stream_name(symbol: str, kind: str = AGG_TRADE) -> str:
    """``BTCUSDT`` -> ``btcusdt@aggTrade``: stream names use lowercase symbols."""
    return f"{symbol.lower()}@{kind}"


def symbol_of(stream: str) -> str:
    """``btcusdt@aggTrade`` -> ``BTCUSDT``."""
    return stream.partition("@")[0].upper()


def combined_stream_url(base_url: str) -> str:
    """The combined-stream endpoint; streams are added with SUBSCRIBE after connecting."""
    return base_url.rstrip("/") + "/stream"


def control_frame(method: str, params: list | None, request_id: int) -> str:
    """A control request (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS...) as Binance expects its keys."""
    request: dict = {"method": method}
    if params is not None:
        request["params"] = params
    request["id"] = request_id
    return orjson.dumps(request).decode()


def parse_message(raw: bytes | str) -> ParseResult:
    """One text frame -> one parse result; never raises on bad input."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Skipped("malformed JSON")
    if type(message) is not dict:
        return Skipped(f"unexpected {type(message).__name__} message")
    payload = message.get("data")
    if payload is not None and "stream" in message:
        if type(payload) is not dict:
            return Skipped(f"unexpected {type(payload).__name__} payload on stream {message['stream']!r}")
        message = payload
    event = message.get("e")
    if event in TRADE_EVENTS:
        return _parse_trade(message)
    if event is None:
        return _parse_reply(message)
    if event == SERVER_SHUTDOWN:
        event_ms = message.get("E")
        return ServerShutdown(event_ms if type(event_ms) is int else None)
    return Skipped(f"unhandled event {event!r}")


def _parse_trade(payload: dict) -> ParseResult:
    try:
        symbol = payload["s"]
        price = Decimal(payload["p"])
        event_ms = payload.get("T", payload["E"])
    except KeyError as missing:
        return Skipped(f"{payload['e']} without field {missing}")
    except (InvalidOperation, TypeError):
        return Skipped(f"{payload['e']} with a bad price {payload['p']!r}")
    # Binance sends prices as decimal strings; anything else is corruption.
    if type(payload["p"]) is not str or not price.is_finite() or price <= 0:
        return Skipped(f"{payload['e']} with a bad price {payload['p']!r}")
    if type(event_ms) is not int or type(symbol) is not str or not symbol:
        return Skipped(f"{payload['e']} with a bad symbol or event time")
    quantity_text = payload.get("q")
    try:
        quantity = Decimal(quantity_text)
    except (InvalidOperation, TypeError):
        return Skipped(f"{payload['e']} with a bad quantity {quantity_text!r}")
    if type(quantity_text) is not str or not quantity.is_finite() or quantity < 0:
        return Skipped(f"{payload['e']} with a bad quantity {quantity_text!r}")
    agg_id = payload.get("a") if payload["e"] == AGG_TRADE else None
    return Trade(symbol, price, event_ms, agg_id if type(agg_id) is int else None, quantity)


def _parse_reply(message: dict) -> ParseResult:
    if "error" in message:
        error = message["error"]
        if type(error) is dict:
            code = error.get("code")
            return ErrorReply(
                message.get("id"), code if type(code) is int else None, str(error.get("msg", ""))
            )
        return ErrorReply(message.get("id"), None, str(error))
    if "result" in message and "id" in message:
        return Ack(message["id"], message["result"])
    # The documented error table also shows bare {"code", "msg"} objects.
    if "code" in message and "msg" in message:
        code = message["code"]
        return ErrorReply(message.get("id"), code if type(code) is int else None, str(message["msg"]))
    return Skipped("message without an event type")
