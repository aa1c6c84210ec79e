"""How often and how soon: the control-message rate limit and the reconnect and retry backoff.

Both take their clock or randomness as an argument, so tests drive them
without sleeping.
"""

import random
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` messages in any ``period``-second window, paced ``period / limit`` apart.

    Pacing (rather than bursts of ``limit``) keeps a margin against network
    jitter bunching messages up on Binance's side of the count.
    """

    def __init__(self, limit: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.period = period
        self.spacing = period / limit
        self.clock = clock
        self._sent: deque[float] = deque()

    def available(self) -> int:
        now = self.clock()
        while self._sent and self._sent[0] <= now - self.period:
            self._sent.popleft()
        if self._sent and now - self._sent[-1] < self.spacing:
            return 0
        return self.limit - len(self._sent)

    def record(self) -> None:
        self._sent.append(self.clock())


class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""

    def __init__(self, base: float, cap: float, rng: Callable[[], float] = random.random):
        self.base = base
        self.cap = cap
        self.rng = rng
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempt)
        self.attempt = min(self.attempt + 1, 32)
        return self.rng() * ceiling

    def reset(self) -> None:
        self.attempt = 0
