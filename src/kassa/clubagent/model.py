"""What the club agent's screen shows (`View`) and what it may ask of the agent's core
(`Controller`): the one seam between the Qt windows (`kassa.clubagent.ui`) and the core that
keeps time and talks to the hub (`kassa.clubagent.core`).

The core runs its own asyncio loop in a thread of the UI's process. It hands each new `View`
to its listeners from that thread (the UI carries it over to Qt's thread with a signal); the
UI's requests return `concurrent.futures.Future`s, which fail with `AgentError` when the hub
says no or cannot be reached. The UI never counts time itself: `View.seconds_left` is the
core's, from its lease on `time.monotonic()`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum, unique
from typing import Protocol

from kassa.protocol.club_pc import AppEntry, Preview, Screen, SignedIn, StaffGrant, Started, Topup

#: The warnings before the end, in minutes: shown once each as the time left crosses them.
WARNINGS = (5, 1)


@unique
class Mode(StrEnum):
    LOCKED = "locked"
    """The lock screen: sign-in, the packages, the top-up QR."""
    SIGNED_IN = "signed_in"
    """Still locked, a customer signed in: buy a package or play per minute (price first)."""
    PLAYING = "playing"
    """Unlocked for a session: the session bar with its countdown and the catalogue."""
    STAFF = "staff"
    """Unlocked by a staff PIN the hub accepted: the staff panel."""


@unique
class Notice(StrEnum):
    """Why the screen changed, for the UI to say once (its words are the UI's)."""

    TIME_UP = "time_up"
    LEASE_EXPIRED = "lease_expired"
    ENDED_BY_STAFF = "ended_by_staff"
    LOCKED_BY_STAFF = "locked_by_staff"
    SESSION_ENDED = "session_ended"


@dataclass(frozen=True, slots=True)
class View:
    """Everything the screen shows, as one snapshot: the UI renders it whole."""

    mode: Mode = Mode.LOCKED
    #: The link to the hub is up. False: the lock screen says the server is unreachable.
    online: bool = False
    #: The club, this PC and its packages (None until the hub has been reached once; kept on
    #: disk so an offline start still shows them).
    screen: Screen | None = None
    customer: SignedIn | None = None
    session: str | None = None
    #: Seconds of play left by the lease's countdown (PLAYING), else None.
    seconds_left: int | None = None
    #: 5 or 1 while the warning of that many minutes left is to be shown, else None.
    warning: int | None = None
    #: A message staff sent to this PC's screen, until dismissed.
    message: str | None = None
    notice: Notice | None = None
    apps: tuple[AppEntry, ...] = ()
    #: The online top-up shown as a QR until it is paid (status `credited`, said for a
    #: moment) or closed.
    topup: Topup | None = None
    #: A staff unlock's seconds left (STAFF).
    staff_seconds_left: int | None = None
    #: What the screen's language is: the club's (`ru`, `en`).
    language: str = "ru"
    alarms: tuple[str, ...] = field(default=())


class AgentError(Exception):
    """The hub refused a request (`code` is its error code: `sign_in_failed`,
    `insufficient_funds`, …) or could not be reached (`hub_unreachable`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


#: The code of `AgentError` when the hub cannot be reached.
UNREACHABLE = "hub_unreachable"

Listener = Callable[[View], None]


class Controller(Protocol):
    """What the UI may ask of the core. Every method may be called from Qt's thread and
    returns at once."""

    @property
    def view(self) -> View:
        """The current snapshot."""

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every new `View` (from the core's thread)."""

    def sign_in(self, login: str, password: str) -> Future[SignedIn]: ...

    def sign_out(self) -> None:
        """Back to the lock screen (a signed-in customer who has not started)."""

    def preview(self, *, package: str | None, minutes: int | None) -> Future[Preview]:
        """What starting with `package`, or per minute (`minutes`; None: as long as the
        balance lasts), would cost. Changes nothing."""

    def start(self, *, package: str | None, minutes: int | None) -> Future[Started]:
        """Start the signed-in customer's session; the screen unlocks when the lease comes."""

    def end_session(self) -> Future[None]:
        """The customer ends the session: the PC locks, the rest is given back."""

    def top_up(self, login: str, amount: str) -> Future[Topup]:
        """An online top-up's QR; the core follows it, shows it settled (credited, failed)
        for a moment, then clears `View.topup`."""

    def close_topup(self) -> None: ...

    def launch(self, app: AppEntry) -> Future[None]:
        """Start an app of the catalogue (journalled as a launch)."""

    def staff_unlock(self, pin: str) -> Future[StaffGrant]:
        """Check the staff PIN with the hub; right: the STAFF mode for the grant's seconds."""

    def staff_lock(self) -> None:
        """Leave the staff panel: back to the lock screen."""

    def dismiss_message(self) -> None: ...
