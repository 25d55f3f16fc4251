"""Reconnect delays: capped exponential backoff with full jitter, reset only after a stable link.

Full jitter (a delay drawn from [0, min(cap, base·2ⁿ)]) spreads a fleet of kiosks that lost the
hub at the same moment. The attempt counter is reset only once a connection has stayed up for
`stable_after` seconds, so a hub that accepts and then drops the agent at once cannot pull it
into a tight reconnect loop (cloudflared, AWS IoT `minConnectedTimeToResetReconnectDelay`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

_random = random.SystemRandom()


class Backoff:
    def __init__(
        self,
        *,
        base: float = 1.0,
        cap: float = 60.0,
        stable_after: float = 60.0,
        rand: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.cap = cap
        self.stable_after = stable_after
        self.attempts = 0
        self._rand = rand
        self._clock = clock
        self._connected_at: float | None = None

    def next_delay(self) -> float:
        """The wait before the next attempt, counting one more attempt."""
        ceiling = min(self.cap, self.base * 2.0 ** min(self.attempts, 62))
        self.attempts += 1
        return self._rand() * ceiling

    def slow_delay(self) -> float:
        """The wait for a condition an operator must fix (a disabled terminal): between half
        the cap and the cap, jittered so kiosks do not come back in step."""
        return self.cap * (0.5 + self._rand() / 2)

    def connected(self) -> None:
        self._connected_at = self._clock()

    def disconnected(self) -> None:
        """The link went down: if it had been up long enough, start the delays over."""
        if (
            self._connected_at is not None
            and self._clock() - self._connected_at >= self.stable_after
        ):
            self.attempts = 0
        self._connected_at = None
