"""Reconnect delays: full jitter under a doubling cap, reset only after a stable link."""

from __future__ import annotations

from kassa.agentkit.backoff import Backoff


def test_full_jitter_under_a_doubling_cap() -> None:
    top = Backoff(base=1, cap=10, rand=lambda: 1.0)
    assert [top.next_delay() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    bottom = Backoff(base=1, cap=10, rand=lambda: 0.0)
    assert [bottom.next_delay() for _ in range(3)] == [0, 0, 0]


def test_real_jitter_stays_in_range() -> None:
    backoff = Backoff(base=1, cap=60)
    for attempt in range(100):
        assert 0 <= backoff.next_delay() <= min(60, 2**attempt)


def test_slow_delay_is_near_the_cap() -> None:
    assert Backoff(cap=60, rand=lambda: 0.0).slow_delay() == 30
    assert Backoff(cap=60, rand=lambda: 1.0).slow_delay() == 60


def test_resets_only_after_a_stable_link() -> None:
    now = [0.0]
    backoff = Backoff(base=1, cap=60, stable_after=60, rand=lambda: 1.0, clock=lambda: now[0])
    for _ in range(4):
        backoff.next_delay()
    backoff.connected()
    now[0] += 5  # accepted, then dropped at once: keep backing off
    backoff.disconnected()
    assert backoff.next_delay() == 16
    backoff.connected()
    now[0] += 60
    backoff.disconnected()
    assert backoff.next_delay() == 1
