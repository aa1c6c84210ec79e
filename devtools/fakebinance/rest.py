"""Binance's REST market-data endpoints the feeder uses, answered from the fake market's trade history.

``GET /api/v3/aggTrades`` (weight 4; ``symbol``, ``fromId``, ``startTime``,
``endTime``, ``limit`` <= 1000, default 500) and ``GET /api/v3/ticker/price``
(weight 2 for one symbol), with Binance's shapes (PROTOCOL.md section 6).
Every answer carries ``X-MBX-USED-WEIGHT-1M``: the weight used in the current
clock minute. Past ``weight_limit`` a request gets HTTP 429 with
``Retry-After`` (seconds to the next minute); a client that keeps asking while
told to wait gets HTTP 418 (banned) with a longer ``Retry-After``, as Binance
does. Tests can also queue answers (``queue_failure``) and read the request log.
"""

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from devtools.fakebinance.market import Market
from devtools.fakebinance.wire import format_decimal

AGG_TRADES_PATH = "/api/v3/aggTrades"
TICKER_PRICE_PATH = "/api/v3/ticker/price"
WEIGHTS = {AGG_TRADES_PATH: 4, TICKER_PRICE_PATH: 2}
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
# Binance's ban for ignoring 429s starts at 2 minutes; the fake's is shorter so tests can see one end.
BAN_SECONDS = 120


@dataclass(frozen=True)
class RestAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def response(self, connection):
        """The HTTP response a websockets ``process_request`` hook returns instead of a handshake."""
        response = connection.respond(self.status, self.body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json;charset=UTF-8"
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


@dataclass(frozen=True)
class RestRequest:
    at: float  # time.time() when it arrived
    path: str
    params: dict[str, str]
    status: int


class RestApi:
    """The REST side of the fake: weight per clock minute, 429/418, and the answers."""

    def __init__(self, market: Market, weight_limit: int = 6000, ban_seconds: float = BAN_SECONDS):
        self.market = market
        self.weight_limit = weight_limit
        self.ban_seconds = ban_seconds
        self.requests: list[RestRequest] = []
        self._minute = 0
        self._used = 0
        self._blocked_until = 0.0
        self._queued: list[tuple[int, float]] = []

    def queue_failure(self, status: int = 429, retry_after: float = 1.0, count: int = 1) -> None:
        """The next ``count`` requests get ``status`` with ``Retry-After``; asking before it ends: 418."""
        self._queued += [(status, retry_after)] * count

    def answer(self, target: str, now: float | None = None) -> RestAnswer:
        now = time.time() if now is None else now
        parts = urlsplit(target)
        params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        answer = self._answer(parts.path, params, now)
        self.requests.append(RestRequest(now, parts.path, params, answer.status))
        return answer

    def _answer(self, path: str, params: dict[str, str], now: float) -> RestAnswer:
        if path not in WEIGHTS:
            return _error(404, -1000, "Not found.", {})
        minute = int(now // 60)
        if minute != self._minute:
            self._minute, self._used = minute, 0
        if now < self._blocked_until:
            # Asking while told to wait: Binance bans the IP (418) for a growing time.
            self._blocked_until = max(self._blocked_until, now + self.ban_seconds)
            return self._refuse(418, now, "Way too many requests; IP banned.")
        if self._queued:
            status, retry_after = self._queued.pop(0)
            self._blocked_until = now + retry_after
            return self._refuse(status, now, "Too many requests; please use the websocket for live updates.")
        self._used += WEIGHTS[path]
        if self._used > self.weight_limit:
            self._blocked_until = (minute + 1) * 60
            return self._refuse(429, now, "Too many requests; please use the websocket for live updates.")
        headers = {"X-MBX-USED-WEIGHT-1M": str(self._used)}
        symbol = params.get("symbol", "")
        if not symbol:
            return _error(
                400,
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                headers,
            )
        if path == TICKER_PRICE_PATH:
            return self._ticker_price(symbol, headers)
        return self._agg_trades(symbol, params, headers)

    def _refuse(self, status: int, now: float, message: str) -> RestAnswer:
        retry_after = max(1, math.ceil(self._blocked_until - now))
        headers = {"Retry-After": str(retry_after), "X-MBX-USED-WEIGHT-1M": str(self._used)}
        return _error(status, -1003, message, headers)

    def _ticker_price(self, symbol: str, headers: dict[str, str]) -> RestAnswer:
        history = self.market.history.get(symbol)
        if not history:
            return _error(400, -1121, "Invalid symbol.", headers)
        body = json.dumps({"symbol": symbol, "price": format_decimal(history[-1][1])}, separators=(",", ":"))
        return RestAnswer(200, body, headers)

    def _agg_trades(self, symbol: str, params: dict[str, str], headers: dict[str, str]) -> RestAnswer:
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
            from_id = int(params["fromId"]) if "fromId" in params else None
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return _error(400, -1100, "Illegal characters found in a parameter.", headers)
        if not 1 <= limit <= MAX_LIMIT:
            return _error(400, -1130, "Invalid data sent for a parameter.", headers)
        if start is not None and end is not None and end < start:
            return _error(400, -1127, "More than 1 hours between startTime and endTime.", headers)
        history = self.market.history.get(symbol, [])
        begin = 0
        if from_id is not None:
            begin = max(0, from_id - history[0][0]) if history else 0
        elif start is None and end is None:
            begin = max(0, len(history) - limit)
        matching = (
            t
            for t in itertools.islice(history, begin, None)
            if (start is None or t[4] >= start) and (end is None or t[4] <= end)
        )
        selected = list(itertools.islice(matching, limit))
        rows = [
            {
                "a": a,
                "p": format_decimal(p),
                "q": format_decimal(q),
                "f": t,
                "l": t,
                "T": ms,
                "m": m,
                "M": True,
            }
            for a, p, q, t, ms, m in selected
        ]
        return RestAnswer(200, json.dumps(rows, separators=(",", ":")), headers)


def _error(status: int, code: int, message: str, headers: dict[str, str]) -> RestAnswer:
    return RestAnswer(status, json.dumps({"code": code, "msg": message}, separators=(",", ":")), headers)
