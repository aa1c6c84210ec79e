"""Binance's control requests on a stream connection, answered as Binance answers them.

``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY`` and
``GET_PROPERTY ["combined"]``, with the replies ``{"result":...,"id":...}`` and
errors ``{"error":{"code","msg"},"id":...}`` (codes 0-3 of the docs' table,
messages as Binance words them). A well-formed stream of an unknown symbol is
acked and stays silent, like Binance.
"""

import json
from collections.abc import Callable
from typing import Protocol

from devtools.fakebinance.wire import is_valid_stream

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


class RequestError(Exception):
    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code = code
        self.msg = msg


class StreamLimitExceeded(RequestError):
    """A SUBSCRIBE past the streams a connection may hold (the server records it)."""


class Subscriber(Protocol):
    streams: dict[str, None]  # an insertion-ordered set
    combined: bool


def reply_to(message: str | bytes, execute: Callable[[dict], object]) -> str:
    """The reply to one control message; ``execute`` runs a request whose JSON and id are valid."""
    request_id = None
    try:
        request = json.loads(message)
        if not isinstance(request, dict):
            raise RequestError(2, "Invalid request: expected a JSON object")
        request_id = _request_id(request, message)
        result = execute(request)
    except json.JSONDecodeError as exc:
        return _error_reply(3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}", None)
    except RequestError as exc:
        return _error_reply(exc.code, exc.msg, request_id)
    return json.dumps({"result": result, "id": request_id}, separators=(",", ":"))


def execute(client: Subscriber, request: dict, message: str | bytes, *, max_params: int, max_streams: int):
    """Apply one request to the connection's state and return its result (raises RequestError)."""
    if "method" not in request:
        raise RequestError(2, f"Invalid request: missing field `method` at line 1 column {len(message)}")
    method = request["method"]
    if method not in METHODS:
        expected = ", ".join(f"`{m}`" for m in METHODS)
        raise RequestError(
            2,
            f"Invalid request: unknown variant `{method}`, expected one of {expected} at line 1 column 28",
        )
    params = request.get("params", [])
    if not isinstance(params, list):
        raise RequestError(2, "Invalid request: invalid type: expected a sequence")
    if len(params) > max_params:
        raise RequestError(2, "Invalid request: too many parameters")
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        _change_subscriptions(client, method, params, max_streams)
        return None
    if method == "LIST_SUBSCRIPTIONS":
        return list(client.streams)
    return _property(client, method, params)


def _change_subscriptions(client: Subscriber, method: str, params: list, max_streams: int) -> None:
    if not all(is_valid_stream(p) for p in params):
        raise RequestError(2, "Invalid request: invalid stream")
    if method == "UNSUBSCRIBE":
        for stream in params:
            client.streams.pop(stream, None)
        return
    new = [p for p in params if p not in client.streams]
    if len(client.streams) + len(new) > max_streams:
        raise StreamLimitExceeded(2, f"Invalid request: at most {max_streams} streams per connection")
    client.streams.update(dict.fromkeys(new))


def _property(client: Subscriber, method: str, params: list):
    name = params[0] if params else None
    if not isinstance(name, str):
        raise RequestError(2, "Invalid request: property name must be a string")
    if name != "combined":
        raise RequestError(0, "Unknown property")
    if method == "GET_PROPERTY":
        return client.combined
    value = params[1] if len(params) > 1 else None
    if not isinstance(value, bool):
        raise RequestError(1, "Invalid value type: expected Boolean")
    client.combined = value
    return None


def _request_id(request: dict, message: str | bytes):
    if "id" not in request:
        raise RequestError(2, f"Invalid request: missing field `id` at line 1 column {len(message)}")
    request_id = request["id"]
    valid = (
        request_id is None
        or (type(request_id) is int and -(2**63) <= request_id < 2**63)
        or (type(request_id) is str and len(request_id) <= 36 and request_id.isalnum())
    )
    if not valid:
        raise RequestError(2, "Invalid request: request ID must be an unsigned integer")
    return request_id


def _error_reply(code: int, msg: str, request_id) -> str:
    return json.dumps({"error": {"code": code, "msg": msg}, "id": request_id}, separators=(",", ":"))
