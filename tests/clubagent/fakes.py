"""A monotonic clock the tests move by hand, and leases in the hub's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kassa.protocol.club import Lease

#: The hub's time when the tests' leases are sent.
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def lease(
    session: str | None = "s1", *, seq: int = 1, lease_s: float = 300, paid_s: float = 3600
) -> Lease:
    """A lease sent at `T0`: expiring `lease_s` later, paid for `paid_s`."""
    if session is None:
        return Lease(None, None, None, seq)
    return Lease(session, T0 + timedelta(seconds=paid_s), T0 + timedelta(seconds=lease_s), seq)


def lease_message(*args: Any, server_time: datetime = T0, **kwargs: Any) -> dict[str, Any]:
    return lease(*args, **kwargs).to_data() | {"server_time": server_time.isoformat()}
