"""A club's sessions, pure: their states, a PC's lease, what a PC's silence means, and what of
a session's charges is given back when it ends before its paid time.

A session's time is charged ahead (`paid_until`); its PC is told a **lease**,
`min(paid_until, now + lease_max)`, renewed by every heartbeat the server accepts. Charges are
consumed in the order they were made, and each charge's sources in the fixed order
(`kassa.domain.club.usage_plan`: packages, time bank, balance), so the time not played is
always the tail: the last sources of the last charges, which `give_back` walks backwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: No heartbeat for this long: the PC is stale (a warning on the dashboard) …
STALE_AFTER = timedelta(seconds=15)
#: … and for this long: offline.
OFFLINE_AFTER = timedelta(seconds=60)
#: After a hub process starts, PCs have this long to reconnect before it marks any of them
#: stale or offline, or ends a session whose lease ran out while it was down.
RECONNECT_WINDOW = OFFLINE_AFTER
#: A lease is taken as run out this long after its end (heartbeats reach the database in
#: rounds of a second).
LEASE_GRACE = timedelta(seconds=2)


class SessionState:
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class EndReason:
    STAFF = "staff"
    """Ended by staff (or by the customer at the desk)."""
    CUSTOMER = "customer"
    """Ended by the customer on the PC ("End session")."""
    TIME_UP = "time_up"
    """Its paid time ran out."""
    LEASE_EXPIRED = "lease_expired"
    """Its PC lost the link and locked when its lease ran out (offline policy `lock`)."""


class Liveness:
    ONLINE = "online"
    STALE = "stale"
    OFFLINE = "offline"


def liveness(heartbeat_at: datetime | None, now: datetime) -> str:
    """What a PC's silence since its last heartbeat (by the server's clock) means."""
    if heartbeat_at is None or now - heartbeat_at >= OFFLINE_AFTER:
        return Liveness.OFFLINE
    return Liveness.STALE if now - heartbeat_at >= STALE_AFTER else Liveness.ONLINE


def lease_end(paid_until: datetime, now: datetime, lease_max: int) -> datetime:
    """When a lease given at `now` runs out."""
    return min(paid_until, now + timedelta(seconds=lease_max))


@dataclass(frozen=True, slots=True)
class Charge:
    """A charge of a session: its sources, in the order they are played
    (`[{kind, seconds, amount, holding_id}]`, as `kassa.domain.club.Use`)."""

    offset: int
    uses: Sequence[Mapping[str, Any]]


@dataclass(slots=True)
class GiveBack:
    """What the unplayed tail of a session's charges gives back: money (minor units), time
    bank seconds, and seconds per package holding."""

    amount: int = 0
    time_bank: int = 0
    holdings: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.amount or self.time_bank or self.holdings)

    @property
    def package_seconds(self) -> int:
        return sum(self.holdings.values())


def _minutes(seconds: int) -> int:
    return -(-seconds // 60)


def give_back(charges: Sequence[Charge], unplayed: int) -> GiveBack:
    """What `unplayed` seconds at the end of `charges` give back. Package and time-bank
    seconds come back to the second; money by whole minutes: a minute of the balance that was
    started is charged whole (as the tariffs say), so a balance use gives back the minutes it
    charged beyond those started, at its own average rate, rounded down."""
    back = GiveBack()
    left = max(unplayed, 0)
    for charge in sorted(charges, key=lambda each: each.offset, reverse=True):
        for use in reversed(charge.uses):
            if left <= 0:
                return back
            seconds = int(use["seconds"])
            take = min(seconds, left)
            left -= take
            if use["kind"] == "balance":
                charged = _minutes(seconds)
                unused_minutes = charged - _minutes(seconds - take)
                back.amount += int(use["amount"]) * unused_minutes // charged
            elif use["kind"] == "time_bank":
                back.time_bank += take
            else:
                holding = str(use["holding_id"])
                back.holdings[holding] = back.holdings.get(holding, 0) + take
    return back
