"""The lease's countdown (docs/club.md, "The PC's link"): the hub's lease turned into a
deadline on this PC's monotonic clock when it is received, so neither a wrong wall clock nor
a customer changing it moves the end.

The hub's times are read against the hub's own clock: each lease message carries the hub's
`server_time`, and `lease_expires_at - server_time` seconds after receipt is the deadline
here. `ServerClock` reckons the hub's time from the last one it heard and the monotonic clock
(for the `ended` report and the journal's events).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kassa.clubagent.model import WARNINGS
from kassa.protocol.club import Lease

Monotonic = Callable[[], float]

#: The clubs' offline policies (docs/club.md, "The offline policy").
LOCK = "lock"
CONTINUE = "continue"


@dataclass(frozen=True, slots=True)
class Reference:
    """A moment known on both clocks: the hub's `server` time at the monotonic `mono`."""

    server: datetime
    mono: float

    def server_at(self, mono: float) -> datetime:
        return self.server + timedelta(seconds=mono - self.mono)

    def mono_at(self, server: datetime) -> float:
        return self.mono + (server - self.server).total_seconds()


class ServerClock:
    """The hub's time as this PC reckons it: the last `server_time` heard, moved on by the
    monotonic clock since."""

    def __init__(self, clock: Monotonic = time.monotonic) -> None:
        self.clock = clock
        self.reference: Reference | None = None

    def heard(self, server_time: datetime) -> Reference:
        self.reference = Reference(server_time, self.clock())
        return self.reference

    def now(self) -> datetime | None:
        """The hub's time now; None before the hub has been heard."""
        return None if self.reference is None else self.reference.server_at(self.clock())


@dataclass(frozen=True, slots=True)
class Held:
    """The lease kept, with the reference it was received at."""

    lease: Lease
    reference: Reference


class Countdown:
    """The lease with the highest `seq` of its session, and the time it leaves.

    Two ends: the customer's paid time (`paid_until`, what the screen counts down and warns
    of) and the lock (`lease_expires_at`, or `paid_until` under the `continue` policy), which
    comes first when the hub stops renewing the lease."""

    def __init__(self, clock: Monotonic = time.monotonic, policy: str = LOCK) -> None:
        self.clock = clock
        self.policy = policy
        self.held: Held | None = None
        #: The sessions locked here at their end: no lease of theirs unlocks the PC again.
        self.ended: set[str] = set()
        self._warned: set[int] = set()
        #: Staff locked the PC: its session's leases no longer unlock it until staff unlock
        #: it again (`resume`) or another session begins.
        self.suspended = False

    @property
    def session(self) -> str | None:
        return None if self.held is None else self.held.lease.session

    def offer(self, lease: Lease, reference: Reference) -> bool:
        """Keep `lease` if it is newer than the one held (a higher `seq` of the same session,
        or another session's); False if it is ignored."""
        held = self.held
        if lease.session is not None and lease.session in self.ended:
            return False
        if held is not None and held.lease.session == lease.session and lease.seq <= held.lease.seq:
            return False
        self.held = Held(lease, reference)
        if held is None or held.lease.session != lease.session:
            self.suspended = False
            # A warning already due when the session begins is not one it crossed.
            left = self.seconds_left()
            self._warned = {m for m in WARNINGS if left is not None and left <= m * 60}
        return True

    def clear(self) -> None:
        self.held = None
        self.suspended = False
        self._warned.clear()

    def suspend(self) -> None:
        """Lock without forgetting the session (its leases are still kept)."""
        self.suspended = True

    def resume(self) -> None:
        self.suspended = False

    def lock_at(self) -> float | None:
        """When, on the monotonic clock, the PC locks (None: no session to play)."""
        held = self.held
        if held is None or held.lease.session is None or self.suspended:
            return None
        lease = held.lease
        ends = [lease.lease_expires_at]
        if self.policy == CONTINUE:
            ends.append(lease.paid_until)
        known = [end for end in ends if end is not None]
        return held.reference.mono_at(max(known)) if known else None

    def paid_at(self) -> float | None:
        """When, on the monotonic clock, the paid time ends."""
        lock = self.lock_at()
        held = self.held
        if lock is None or held is None or held.lease.paid_until is None:
            return lock
        return held.reference.mono_at(held.lease.paid_until)

    def seconds_left(self) -> int | None:
        """Whole seconds of paid time left (0: up); None without a session."""
        paid = self.paid_at()
        return None if paid is None else whole(paid - self.clock())

    def playing(self) -> bool:
        """Whether a session holds the PC unlocked now."""
        lock = self.lock_at()
        return lock is not None and self.clock() < lock

    def expired(self) -> bool:
        """Whether the held session must lock now."""
        lock = self.lock_at()
        return lock is not None and self.clock() >= lock

    def warning(self) -> int | None:
        """The warning (minutes, of `WARNINGS`) just crossed and not yet given, once each;
        a session given more time than a warning's is warned again."""
        left = self.seconds_left()
        if not left:
            return None
        self._warned -= {m for m in WARNINGS if left > m * 60}
        due = {m for m in WARNINGS if left <= m * 60} - self._warned
        self._warned |= due
        return min(due) if due else None

    def end(self) -> tuple[str, datetime] | None:
        """The held session has run out: forget it and say which and when, in hub time (the
        moment it was due to lock)."""
        held, lock = self.held, self.lock_at()
        if held is None or held.lease.session is None or lock is None:
            return None
        self.ended.add(held.lease.session)
        self.clear()
        return held.lease.session, held.reference.server_at(min(lock, self.clock()))


def whole(seconds: float) -> int:
    """`seconds` rounded up to a whole second, at least 0."""
    return max(0, int(seconds + 0.999))
