"""The lease's countdown on a monotonic clock the test moves."""

from __future__ import annotations

from datetime import timedelta

from kassa.clubagent.lease import CONTINUE, LOCK, Countdown, ServerClock
from tests.clubagent.fakes import T0, FakeClock, lease


def countdown(policy: str = LOCK) -> tuple[FakeClock, Countdown, ServerClock]:
    clock = FakeClock()
    return clock, Countdown(clock, policy), ServerClock(clock)


def test_the_deadline_is_taken_from_the_hubs_times_not_the_pcs_clock() -> None:
    clock, down, server = countdown()
    # The lease arrives when the hub's clock says T0, whatever this PC's wall clock says.
    assert down.offer(lease(lease_s=300, paid_s=600), server.heard(T0))
    assert down.seconds_left() == 600
    clock.advance(299)
    assert down.playing()
    assert not down.expired()
    clock.advance(1)
    assert down.expired()
    assert not down.playing()


def test_a_lease_of_the_same_session_is_replaced_by_a_higher_seq_only() -> None:
    clock, down, server = countdown()
    down.offer(lease(seq=5, lease_s=300), server.heard(T0))
    assert not down.offer(lease(seq=4, lease_s=900), server.heard(T0))
    assert not down.offer(lease(seq=5, lease_s=900), server.heard(T0))
    clock.advance(100)
    assert down.offer(lease(seq=6, lease_s=400), server.heard(T0 + timedelta(seconds=100)))
    clock.advance(299)
    assert down.playing()
    # Another session's lease is taken whatever its seq.
    assert down.offer(lease("s2", seq=0), server.heard(T0))
    assert down.session == "s2"


def test_warnings_at_five_and_one_minutes_once_each() -> None:
    clock, down, server = countdown()
    down.offer(lease(lease_s=900, paid_s=900), server.heard(T0))
    seen = []
    for _ in range(900):
        clock.advance(1)
        if (warning := down.warning()) is not None:
            seen.append((warning, down.seconds_left()))
    assert seen == [(5, 300), (1, 60)]


def test_a_session_started_under_five_minutes_is_not_warned_of_five() -> None:
    clock, down, server = countdown()
    down.offer(lease(lease_s=180, paid_s=180), server.heard(T0))
    warnings = []
    for _ in range(180):
        clock.advance(1)
        warnings.append(down.warning())
    assert [w for w in warnings if w] == [1]


def test_lock_policy_locks_at_lease_end_continue_plays_to_paid_until() -> None:
    for policy, lasts in ((LOCK, 300), (CONTINUE, 3600)):
        clock, down, server = countdown(policy)
        down.offer(lease(lease_s=300, paid_s=3600), server.heard(T0))
        clock.advance(lasts - 1)
        assert down.playing(), policy
        clock.advance(1)
        assert down.expired(), policy


def test_the_end_is_reported_in_hub_time_and_the_session_stays_locked() -> None:
    clock, down, server = countdown()
    down.offer(lease(lease_s=300), server.heard(T0))
    clock.advance(310)  # noticed a little late
    assert down.end() == ("s1", T0 + timedelta(seconds=300))
    assert down.session is None
    # A renewal of the session ended here does not unlock the PC again.
    assert not down.offer(lease(seq=9), server.heard(T0))


def test_a_suspended_session_waits_for_staff_whatever_its_leases() -> None:
    _, down, server = countdown()
    down.offer(lease(seq=3), server.heard(T0))
    down.suspend()
    assert not down.playing()
    assert down.offer(lease(seq=4), server.heard(T0))  # renewed, still locked
    assert not down.playing()
    down.resume()
    assert down.playing()
    down.suspend()
    assert down.offer(lease("s2", seq=0), server.heard(T0))  # another session plays
    assert down.playing()


def test_the_server_clock_moves_with_the_monotonic_clock() -> None:
    clock, _, server = countdown()
    assert server.now() is None
    server.heard(T0)
    clock.advance(42.5)
    assert server.now() == T0 + timedelta(seconds=42.5)
