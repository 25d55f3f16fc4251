"""Rate limiting in this process's memory: a token bucket per key (an API key, or the network a
provider notification came from)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from kassa.domain import RateLimited
from kassa.services.client_keys import client_key


class RateLimiter:
    """`rate` requests per second per key, with bursts up to `burst`.

    At most `max_keys` buckets are kept, the least recently used dropped first: a dropped
    bucket starts full again, which only its key could notice (keys may come from requests,
    such as client addresses, so they must not grow without end)."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> int:
        """Take one token for `key`: 0 if there was one, else the whole seconds until there
        will be."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0
        if tokens < 1:
            wait = math.ceil((1 - tokens) / self.rate)
        else:
            tokens -= 1
        self._buckets[key] = (tokens, now)  # last in the order: the most recently used
        if len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        return wait

    def check(self, key: str) -> None:
        """Take one token for `key`, or raise `RateLimited` saying when one will be free."""
        wait = self.take(key)
        if wait:
            raise RateLimited(
                f"Too many requests for this API key; retry in {wait} s", retry_after=wait
            )


def client_network(address: str | None) -> str:
    """The key to limit a client address by (`client_key`: an IPv6 address's /64); anything
    that is no IP address shares one key."""
    return client_key(address) or "unreadable"
