"""The per-key token bucket."""

from __future__ import annotations

import pytest

from kassa.domain import RateLimited
from kassa.web.ratelimit import RateLimiter, client_network


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


def test_the_least_recently_used_buckets_go_first() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=lambda: 0.0, max_keys=2)
    assert (limiter.take("a"), limiter.take("b")) == (0, 0)
    assert limiter.take("a") == 1  # "a" is now the most recently used
    assert limiter.take("c") == 0  # "b" goes
    assert (limiter.take("a"), limiter.take("b")) == (1, 0)  # "b" starts full again


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("not an address", "unreadable"),
        (None, "unreadable"),
    ],
)
def test_clients_are_limited_by_address_and_ipv6_by_its_64(address: str | None, key: str) -> None:
    assert client_network(address) == key
