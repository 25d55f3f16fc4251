"""The lease kept on disk (`lease.json` in the data dir), so that a crash or a restart of the
agent does not forget the session being played, nor a lock the hub has not heard of yet.

The file is signed with an HMAC-SHA256 keyed by the PC's token: a file edited by hand (to give
a PC more time) fails it and is ignored (the PC stays locked until the hub says otherwise).
The monotonic clock starts again at a reboot, so a deadline on it means nothing afterwards: a
reboot (another boot id, or the monotonic clock behind where it was at the last save) makes
the lease count as run out, unless the hub renews it.

Beside the lease it keeps what decides whether it still plays: the club's offline policy (under
`continue` a lease past its end plays on to `paid_until`) and whether staff locked the PC. The
watchdog reads them to tell a UI killed while a session played (`playing_now`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kassa.clubagent.files import atomic_write
from kassa.clubagent.lease import LOCK, Countdown, Held, Monotonic, Reference
from kassa.protocol.club import Lease

log = logging.getLogger(__name__)

FILE = "lease.json"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True, slots=True)
class Ended:
    """A session this PC locked at its lease's end, at `at` (hub time), until the hub has
    heard of it."""

    session: str
    at: datetime

    def to_data(self) -> dict[str, str]:
        return {"session": self.session, "at": self.at.isoformat().replace("+00:00", "Z")}


@dataclass(frozen=True, slots=True)
class Saved:
    held: Held | None = None
    ended: tuple[Ended, ...] = field(default=())
    #: The club's offline policy (`lease.LOCK` or `lease.CONTINUE`).
    policy: str = LOCK
    #: Staff locked the PC: the held lease does not unlock it.
    suspended: bool = False


def boot_id(path: Path = BOOT_ID) -> str | None:
    """This boot's id (Linux); None where there is none."""
    try:
        return path.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


class LeaseStore:
    def __init__(self, path: Path, token: str, clock: Monotonic, boot: str | None = None) -> None:
        self.path = path
        self._key = token.encode()
        self.clock = clock
        self.boot = boot

    def save(self, saved: Saved) -> None:
        payload = {
            "boot": self.boot,
            "mono": self.clock(),
            "held": None if saved.held is None else _held_data(saved.held),
            "ended": [each.to_data() for each in saved.ended],
            "policy": saved.policy,
            "suspended": saved.suspended,
        }
        body = json.dumps(payload, sort_keys=True)
        signed = {"payload": body, "hmac": self._sign(body)}
        atomic_write(self.path, json.dumps(signed).encode())

    def load(self) -> Saved:
        """What was saved: nothing if there is no file or it is not ours; the lease left out
        after a reboot."""
        try:
            signed = json.loads(self.path.read_bytes())
            body = signed["payload"]
            if not isinstance(body, str) or not hmac.compare_digest(
                str(signed["hmac"]), self._sign(body)
            ):
                log.warning("ignored %s: its signature does not match (edited?)", self.path)
                return Saved()
            payload = json.loads(body)
            ended = tuple(Ended(each["session"], _time(each["at"])) for each in payload["ended"])
            held = None if payload["held"] is None else _held(payload["held"])
            policy, suspended = str(payload.get("policy", LOCK)), payload.get("suspended") is True
        except FileNotFoundError:
            return Saved()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignored the unreadable %s: %s", self.path, exc)
            return Saved()
        if held is not None and self._rebooted(payload):
            log.warning(
                "the PC restarted since session %s's lease was saved: it counts as run out "
                "unless the hub renews it",
                held.lease.session,
            )
            held = None
        return Saved(held, ended, policy, suspended)

    def playing_now(self) -> bool:
        """Whether the saved lease holds the PC unlocked now: not locked by staff, and before
        its lock by the monotonic clock (`paid_until` under the `continue` policy, however long
        past `lease_expires_at`)."""
        saved = self.load()
        if saved.held is None or saved.suspended:
            return False
        countdown = Countdown(self.clock, saved.policy)
        countdown.offer(saved.held.lease, saved.held.reference)
        return countdown.playing()

    def _rebooted(self, payload: dict[str, Any]) -> bool:
        boot = payload.get("boot")
        if boot is not None and self.boot is not None:
            return bool(boot != self.boot)
        return bool(self.clock() < float(payload["mono"]))

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


def _held_data(held: Held) -> dict[str, Any]:
    return {
        "lease": held.lease.to_data(),
        "server": held.reference.server.isoformat(),
        "mono": held.reference.mono,
    }


def _held(data: dict[str, Any]) -> Held:
    return Held(
        Lease.from_data(data["lease"]), Reference(_time(data["server"]), float(data["mono"]))
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
