"""What is particular to a computer club's PCs on the wire (docs/club.md, "The PC's link").

A PC's agent speaks Kassa's device protocol (`hello`/`welcome`, `operation`, `ack`,
`result`, `status_query`, `status`) on `PATH`, with a token of kind `club_pc`, and adds:

- `heartbeat` every `welcome.heartbeat_interval` seconds (the hub dictates it), carrying a
  `seq` that grows by one per heartbeat, the session it plays (if any), its screen's state
  (`PcState`), the app in the foreground, and `alarms`: what is wrong with it now, in short
  words for the staff (`["agent killed while in use"]`; empty or left out: nothing), at most
  `MAX_ALARMS` of at most `MAX_ALARM_CHARS` characters each (more is cut);
- `lease` (hub → agent): the answer to every heartbeat, and sent unasked when a session
  starts, is extended, moves or ends, with the hub's `server_time` when it was sent (the agent
  counts `lease_expires_at - server_time` on its monotonic clock from receipt, never by its own
  wall clock). The agent keeps the lease with the highest `seq` and locks when
  `lease_expires_at` passes, whether or not the link is up.

The remote actions (`Action`) are ordinary operations (`operation` with `kind` one of them),
acknowledged and answered as any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum, unique
from typing import Any

#: Where a PC's agent connects.
PATH = "/club/ws"
#: Seconds between heartbeats, told to the agent in `welcome`.
HEARTBEAT_INTERVAL = 5
#: The message type of a lease (hub → agent).
LEASE = "lease"
#: How many of a heartbeat's `alarms` are kept, and how long each may be.
MAX_ALARMS = 5
MAX_ALARM_CHARS = 200


@unique
class Action(StrEnum):
    """Remote actions staff send a PC: operation kinds its agent runs."""

    LOCK = "lock"
    UNLOCK = "unlock"
    RESTART = "restart"
    SHUTDOWN = "shutdown"
    MESSAGE = "message"
    """Show `body.text` on the PC's screen."""
    END_SESSION = "end_session"
    """The session `body.session` has ended: lock and say so."""


@unique
class PcState(StrEnum):
    """What a PC's agent reports its screen to be in a heartbeat."""

    LOCKED = "locked"
    UNLOCKED = "unlocked"


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to play a session on a PC until `lease_expires_at`
    (`min(paid_until, now + lease_max)`), numbered by `seq` (newer leases have higher ones).
    `session` None: no session, stay locked."""

    session: str | None
    paid_until: datetime | None
    lease_expires_at: datetime | None
    seq: int

    def to_data(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "paid_until": None if self.paid_until is None else _iso(self.paid_until),
            "lease_expires_at": (
                None if self.lease_expires_at is None else _iso(self.lease_expires_at)
            ),
            "seq": self.seq,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Lease:
        """A lease from its message's data (`ValueError` if it is not one)."""
        seq = data.get("seq")
        session = data.get("session")
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise ValueError("a lease's seq is a whole number")
        if session is not None and not isinstance(session, str):
            raise ValueError("a lease's session is a string or null")
        return cls(
            session=session,
            paid_until=_time(data.get("paid_until")),
            lease_expires_at=_time(data.get("lease_expires_at")),
            seq=seq,
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("a lease's times are ISO 8601 strings")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
