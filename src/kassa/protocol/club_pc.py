"""The club PC's HTTP API (docs/club-agent.md, "The PC's API"): what the agent on a club's PC
asks the hub for, besides its WebSocket link (`kassa.protocol.club`). Defined once here for the
hub (`kassa.web.routes.club_pc`) and the agent (`kassa.clubagent.hub_client`).

Every request carries the PC's token (`Authorization: Bearer`, of kind `club_pc`), the same one
its link uses: the hub knows the club and the PC from it. An error is the API's usual
`{"error": {"code", "message", "param"?}}` with a 4xx status.

A customer acts on the PC only after signing in: `SIGN_IN` checks the login and password and
answers a `ticket`, which the customer's requests (`PREVIEW`, `SESSION`) carry. A ticket is
bound to the PC and the customer and lasts `TICKET_SECONDS`; the password is never kept on the
PC. A top-up names only the login: paying into someone's balance needs no password.

Money on the wire is a decimal string in the club's `currency` (`"500.00"`), as the API's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum, unique
from typing import Any, Self

#: The PC API's paths.
SCREEN = "/club/pc/screen"
"""GET: what the lock screen shows (`Screen`)."""
SIGN_IN = "/club/pc/sign_in"
"""POST `{login, password}`: `SignedIn` (401 `sign_in_failed`, 403 `customer_blocked`); 429
`too_many_attempts` after `SIGN_IN_ATTEMPTS` wrong sign-ins from one PC, or `LOGIN_ATTEMPTS` at
one login from any of the club's PCs, in `SIGN_IN_WINDOW` seconds."""
PREVIEW = "/club/pc/preview"
"""POST `{ticket, package?, minutes?}` (a package, or per-minute play: `minutes` absent means
as long as the customer can pay): `Preview`; changes nothing."""
SESSION = "/club/pc/session"
"""POST `{ticket, package?, minutes?}`: start the customer's session on this PC (`Started`);
402 `insufficient_funds`, 409 `session_exists`. Its `lease` is the link's lease message's data
with the hub's `server_time`, so the agent counts from it at once; it arrives over the link as
well."""
SESSION_END = "/club/pc/session/end"
"""POST `{}`: the customer ends the session on this PC (what was not played is given back);
answered `{"ended": session id or null}`."""
TOPUPS = "/club/pc/topups"
"""POST `{login, amount}`: an online top-up of the customer's balance (`Topup`, with the QR
to pay); 404 `customer_not_found`."""
TOPUP = "/club/pc/topups/{topup_id}"
"""GET: the top-up's `Topup` now (its `status` turns `credited` once paid)."""
APPS = "/club/pc/apps"
"""GET: the Games and Apps offered in this PC's zone: `{"data": [AppEntry…]}`."""
EVENTS = "/club/pc/events"
"""POST `{events: [PcEvent…]}` (at most `MAX_EVENTS`): the agent's journal of local events,
replayed after a reconnect; an event already received (by `id`) is ignored. Answered
`EventsAccepted`."""
STAFF = "/club/pc/staff"
"""POST `{pin}`: whether the staff PIN is right (`StaffGrant`); 401 `pin_invalid`; 429
`too_many_attempts` after `PIN_ATTEMPTS` wrong PINs from one PC in `PIN_WINDOW` seconds."""

#: How long a sign-in's ticket lasts, in seconds.
TICKET_SECONDS = 900
#: Events per `EVENTS` request at most.
MAX_EVENTS = 200
#: Wrong staff PINs a PC may try in `PIN_WINDOW` seconds.
PIN_ATTEMPTS = 5
PIN_WINDOW = 300
#: Wrong sign-ins a PC may try in `SIGN_IN_WINDOW` seconds, and wrong passwords one login may
#: be tried with from all the club's PCs in that time.
SIGN_IN_ATTEMPTS = 10
LOGIN_ATTEMPTS = 5
SIGN_IN_WINDOW = 300


@unique
class EventKind(StrEnum):
    """What the agent journals locally and replays (docs/club-agent.md, "Offline")."""

    TICK = "tick"
    """A minute of a session played (`session`)."""
    LAUNCH = "launch"
    """An app started (`app`, `session`); recorded as a launch in the club's log."""
    LOCK = "lock"
    """The screen locked (`session`, `reason`: time_up, lease_expired, staff, customer…)."""
    UNLOCK = "unlock"
    """The screen unlocked for a session (`session`), or by staff."""


class Answer:
    """A shape of the PC API's answers, read by `from_data`: the fields it knows, so a hub newer
    than the agent may add fields without breaking it."""

    __slots__ = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        """The answer from its JSON object (`ValueError` if it is not one, or lacks a field)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a {cls.__name__} is a JSON object")
        known = {each.name for each in fields(cls)}  # type: ignore[arg-type]
        data = cls.nested(data)
        try:
            return cls(**{name: value for name, value in data.items() if name in known})
        except TypeError as exc:
            raise ValueError(f"not a {cls.__name__}: {exc}") from None

    @classmethod
    def nested(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """`data` with the shapes nested in it read (none, unless a shape says otherwise)."""
        return data


@dataclass(frozen=True, slots=True)
class PackageOffer(Answer):
    name: str
    seconds: int
    price: str
    zone: str | None
    #: Whether it can be bought now (a window package only inside its window).
    available: bool


@dataclass(frozen=True, slots=True)
class Screen(Answer):
    """What the lock screen shows."""

    club: str
    pc: str
    alias: str
    zone: str
    currency: str
    #: The club's language for its PCs: `ru` or `en`.
    language: str
    #: `lock` or `continue` (docs/club.md, "The offline policy").
    offline_policy: str
    packages: list[PackageOffer]
    #: Whether an online top-up can be made (the shop has a provider for it).
    topups: bool

    @classmethod
    def nested(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        packages = data.get("packages")
        if not isinstance(packages, list):
            raise ValueError("a Screen's packages are a list")
        return {**data, "packages": [PackageOffer.from_data(each) for each in packages]}


@dataclass(frozen=True, slots=True)
class SignedIn(Answer):
    ticket: str
    login: str
    name: str | None
    balance: str
    time_bank_seconds: int
    #: Seconds left in the packages the customer holds that can be played on this PC.
    package_seconds: int


@dataclass(frozen=True, slots=True)
class Preview(Answer):
    """What starting would do: `seconds` of play, costing `price` from the balance (and the
    time bank and packages' seconds it would use)."""

    seconds: int
    price: str
    time_bank_seconds: int
    package_seconds: int
    balance_after: str


@dataclass(frozen=True, slots=True)
class Started(Answer):
    session: str
    paid_until: str
    #: The lease message's data (`kassa.protocol.club.Lease`, with the hub's `server_time`).
    lease: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Topup(Answer):
    id: str
    login: str
    amount: str
    currency: str
    #: pending, credited, failed.
    status: str
    #: What to encode in the QR (the payment page's URL or the provider's QR payload).
    qr: str | None


@dataclass(frozen=True, slots=True)
class AppEntry(Answer):
    name: str
    path: str
    #: `game` or `app`: the Games or the Apps tab.
    kind: str
    icon: str | None


@dataclass(frozen=True, slots=True)
class PcEvent(Answer):
    """One local event of the agent's journal: `id` unique (a UUID), `seq` growing by one per
    event of this PC, `at` in server time as the agent reckons it (its lease's clock)."""

    id: str
    seq: int
    kind: str
    at: str
    session: str | None = None
    app: str | None = None
    reason: str | None = None

    def to_data(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EventsAccepted(Answer):
    accepted: int
    duplicates: int
    #: The highest `seq` the hub holds of this PC's events.
    seq: int = 0


@dataclass(frozen=True, slots=True)
class StaffGrant(Answer):
    """A right PIN: the staff panel may open for `seconds`."""

    seconds: int
