"""One socket's subscriptions: what is subscribed, what is in flight, what to send next."""

import logging
from collections.abc import Iterable

import websocket

from feeds.binance import Ack, ErrorReply, control_frame
from feeds.feeder.config import FeederConfig
from feeds.feeder.pacing import RateLimiter

# One logger for the whole feeder: its log lines keep the name operators know.
logger = logging.getLogger("feeds.feeder")


class ReconnectNeeded(Exception):
    """The socket is no longer trustworthy (a request went unanswered): the connection reconnects."""


class Subscriptions:
    """What one socket has subscribed, what is in flight, and what to send next.

    A SUBSCRIBE that Binance rejects is split in halves and retried, so one
    bad stream (or a batch past Binance's parameter limit) cannot hold back
    the others; a single stream that is rejected stays out until it leaves
    the wanted set and comes back, or the connection is replaced.
    """

    def __init__(self, name: str, config: FeederConfig, request_ids: Iterable[int]):
        self.name = name
        self.config = config
        self.request_ids = iter(request_ids)
        self.limiter = RateLimiter(config.control_messages_per_second)
        self.subscribed: set[str] = set()
        self.in_flight: dict[int, tuple[str, list[str], float]] = {}
        self.rejected: set[str] = set()
        self.retry_batches: list[list[str]] = []

    def reconcile(self, ws: websocket.WebSocket, desired: frozenset[str], now: float) -> None:
        """Send SUBSCRIBE/UNSUBSCRIBE messages, as many as the rate limit allows right now."""
        pending_sub, pending_unsub = set(), set()
        for method, streams, _ in self.in_flight.values():
            (pending_sub if method == "SUBSCRIBE" else pending_unsub).update(streams)
        self.rejected &= desired
        to_unsubscribe = sorted(self.subscribed - desired - pending_unsub)
        retry_batches = [
            [s for s in batch if s in desired and s not in self.subscribed] for batch in self.retry_batches
        ]
        retry_batches = [batch for batch in retry_batches if batch]
        retrying = {s for batch in retry_batches for s in batch}
        to_subscribe = sorted(desired - self.subscribed - pending_sub - self.rejected - retrying)
        size = self.config.max_params_per_request
        batches = [("UNSUBSCRIBE", to_unsubscribe[i : i + size]) for i in range(0, len(to_unsubscribe), size)]
        batches += [("SUBSCRIBE", batch) for batch in retry_batches]
        batches += [("SUBSCRIBE", to_subscribe[i : i + size]) for i in range(0, len(to_subscribe), size)]
        sent = 0
        for method, batch in batches:
            if self.limiter.available() <= 0:
                break
            request_id = next(self.request_ids)
            ws.send(control_frame(method, batch, request_id))
            self.limiter.record()
            self.in_flight[request_id] = (method, batch, now)
            sent += 1
            logger.debug("%s: %s %d streams (id %s)", self.name, method, len(batch), request_id)
        self.retry_batches = [batch for method, batch in batches[sent:] if batch in retry_batches]

    def check_replies(self, now: float) -> None:
        for request_id, (method, streams, sent_at) in self.in_flight.items():
            if now - sent_at > self.config.ack_timeout:
                raise ReconnectNeeded(
                    f"no reply to {method} of {len(streams)} streams (id {request_id}) "
                    f"within {self.config.ack_timeout:.0f}s"
                )

    def on_ack(self, ack: Ack) -> bool:
        """Record an acknowledged request; returns whether it changed the subscriptions."""
        request = self.in_flight.pop(ack.request_id, None)
        if request is None:
            logger.debug("%s: reply to an unknown request: %r", self.name, ack)
            return False
        method, streams, _ = request
        if method == "SUBSCRIBE":
            self.subscribed.update(streams)
        else:
            self.subscribed.difference_update(streams)
        logger.info(
            "%s: %s %d streams; %d subscribed on this connection",
            self.name,
            "subscribed" if method == "SUBSCRIBE" else "unsubscribed",
            len(streams),
            len(self.subscribed),
        )
        return True

    def on_error(self, error: ErrorReply) -> None:
        request = self.in_flight.pop(error.request_id, None)
        if request is None:
            logger.warning(
                "%s: Binance error %s: %s (id %s)", self.name, error.code, error.message, error.request_id
            )
            return
        method, streams, _ = request
        logger.warning(
            "%s: Binance rejected %s of %d streams (%s): error %s: %s",
            self.name,
            method,
            len(streams),
            ", ".join(streams[:3]) + (", ..." if len(streams) > 3 else ""),
            error.code,
            error.message,
        )
        if method != "SUBSCRIBE":
            return  # the streams stay subscribed; the next reconcile asks again
        if len(streams) == 1:
            self.rejected.update(streams)
        else:
            half = len(streams) // 2
            self.retry_batches += [streams[:half], streams[half:]]
