"""Binance's wire formats: stream names, 8-decimal numbers, event payloads and server text frames.

Payloads are written as text in the key order and formatting of the recorded
frames (tests/data/binance), compact like the wire: a feeder that parses these
parses Binance's.
"""

import re
import struct
from decimal import Decimal

EIGHT_DECIMALS = Decimal("0.00000001")
_INTERVALS = "1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M"
STREAM_PATTERN = re.compile(
    r"^(?:[a-z0-9]+@(?:aggTrade|trade|bookTicker|miniTicker|ticker|avgPrice|ticker_(?:1h|4h|1d)"
    rf"|kline_(?:{_INTERVALS})(?:@\+08:00)?|depth(?:5|10|20)?(?:@100ms|@1000ms)?)"
    r"|!miniTicker@arr|!ticker_(?:1h|4h|1d)@arr)$"
)


def format_decimal(value: Decimal | str | int) -> str:
    """Binance's string form: always 8 decimals (``"58001.03000000"``)."""
    if isinstance(value, float):
        raise TypeError("prices are Decimal, str or int, never float")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    quantized = number.quantize(EIGHT_DECIMALS)
    if quantized != number:
        raise ValueError(f"{value} has more than 8 decimals; Binance prices never do")
    return f"{quantized:f}"


def is_valid_stream(name: object) -> bool:
    return isinstance(name, str) and STREAM_PATTERN.match(name) is not None


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented server-to-client text frame."""
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", 0x81, length) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length) + payload
    return struct.pack("!BBQ", 0x81, 127, length) + payload


def stream_frame(stream: str, payload: str, combined: bool) -> bytes:
    """A payload as a raw stream (``/ws``) or a combined one (``/stream``: ``{"stream","data"}``) sends it."""
    if combined:
        return text_frame(f'{{"stream":"{stream}","data":{payload}}}'.encode())
    return text_frame(payload.encode())


def agg_trade_payload(
    symbol: str, price: str, qty: str, event_ms: int, agg_id: int, trade_id: int, maker: bool
) -> str:
    return (
        f'{{"e":"aggTrade","E":{event_ms},"s":"{symbol}","a":{agg_id},"p":"{price}",'
        f'"q":"{qty}","f":{trade_id},"l":{trade_id},"T":{event_ms},"m":{_bool(maker)},"M":true}}'
    )


def trade_payload(symbol: str, price: str, qty: str, event_ms: int, trade_id: int, maker: bool) -> str:
    return (
        f'{{"e":"trade","E":{event_ms},"s":"{symbol}","t":{trade_id},"p":"{price}",'
        f'"q":"{qty}","T":{event_ms},"m":{_bool(maker)},"M":true}}'
    )


def kline_1s_payload(symbol: str, candle: dict, event_ms: int, closed: bool) -> str:
    """A ``kline_1s`` event for ``candle`` (the keys of Binance's ``k`` object, numbers as Decimal)."""
    c, f = candle, format_decimal
    return (
        f'{{"e":"kline","E":{event_ms},"s":"{symbol}",'
        f'"k":{{"t":{c["t"]},"T":{c["t"] + 999},"s":"{symbol}",'
        f'"i":"1s","f":{c["f"]},"L":{c["L"]},"o":"{f(c["o"])}","c":"{f(c["c"])}","h":"{f(c["h"])}",'
        f'"l":"{f(c["l"])}","v":"{f(c["v"])}","n":{c["n"]},"x":{_bool(closed)},'
        f'"q":"{f(c["q"])}","V":"{f(c["V"])}","Q":"{f(c["Q"])}","B":"0"}}}}'
    )


def server_shutdown_payload(event_ms: int) -> str:
    return f'{{"e":"serverShutdown","E":{event_ms}}}'


def _bool(value: bool) -> str:
    return "true" if value else "false"
