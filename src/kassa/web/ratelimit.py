"""Per-API-key rate limiting: a token bucket per key, in this process's memory."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from kassa.domain import RateLimited


class RateLimiter:
    """`rate` requests per second per key, with bursts up to `burst`."""

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        """Take one token for `key`, or raise `RateLimited` saying when one will be free."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            wait = math.ceil((1 - tokens) / self.rate)
            raise RateLimited(
                f"Too many requests for this API key; retry in {wait} s", retry_after=wait
            )
        self._buckets[key] = (tokens - 1, now)
