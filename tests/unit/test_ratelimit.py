"""The per-key token bucket."""

from __future__ import annotations

import pytest

from kassa.domain import RateLimited
from kassa.web.ratelimit import RateLimiter


def test_burst_then_refill() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("k")
    with pytest.raises(RateLimited) as error:
        limiter.check("k")
    assert error.value.retry_after == 1
    limiter.check("other")  # keys are independent
    now[0] = 0.5  # one token back at 2 per second
    limiter.check("k")
    with pytest.raises(RateLimited):
        limiter.check("k")
    now[0] = 100.0  # never more than the burst
    for _ in range(3):
        limiter.check("k")
    with pytest.raises(RateLimited):
        limiter.check("k")
