"""A computer club's rules, pure: time windows, tariffs, and in which order a customer's time is
used.

Times of day are minutes after local midnight in the club's time zone (the caller converts);
a window `23:00-08:00` runs across midnight. Rates are per minute, in the currency's minor
units, and a started minute is charged whole.

**The order time is used in** (fixed, as club owners ask, `usage_plan`): first the packages the
customer bought that may be used here and now (their zone, their window; the one ending
soonest first), then the time bank (seconds given by staff), then the money balance at the
zone's per-minute rate in force each minute (with the customer's group discount).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kassa.domain.errors import ParameterInvalid

MINUTES_PER_DAY = 24 * 60
#: What a preview looks ahead at most: one day of play.
PREVIEW_MINUTES = MINUTES_PER_DAY
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Names: zones, packages, apps, groups (a club's own name follows shops' rules, below).
NAME = re.compile(r"\S(.{0,62}\S)?")
CLUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


class LedgerKind:
    """What a ledger entry records."""

    TOPUP = "topup"
    PURCHASE = "purchase"
    SESSION_CHARGE = "session_charge"
    REFUND = "refund"
    CORRECTION = "correction"

    ALL = (TOPUP, PURCHASE, SESSION_CHARGE, REFUND, CORRECTION)


class OfflinePolicy:
    """What a PC does when its link to Kassa is lost (used by the sessions to come)."""

    LOCK = "lock"
    """Lock when its lease runs out (at most `lease_max` after the last heartbeat)."""
    CONTINUE = "continue"
    """Keep playing to the paid time; the session is reconciled afterwards."""

    ALL = (LOCK, CONTINUE)


class AppKind:
    GAME = "game"
    APP = "app"

    ALL = (GAME, APP)


def check_name(value: str, *, what: str, param: str = "name") -> str:
    """A zone's, package's, app's or group's name: 1-64 characters, no spaces at the ends."""
    if not NAME.fullmatch(value):
        raise ParameterInvalid(f"{what}'s name is 1-64 characters", param=param)
    return value


def check_club_name(value: str) -> str:
    """A club's name: what `{club}` means in URLs and settings, unique across Kassa."""
    if not CLUB_NAME.fullmatch(value):
        raise ParameterInvalid(
            "A club's name is 1-64 letters, digits, '_' or '-' (it is used in URLs)",
            param="name",
        )
    return value


def check_login(value: str) -> str:
    if not LOGIN.fullmatch(value):
        raise ParameterInvalid(
            "A login is 1-64 letters, digits, '.', '_', '@' or '-'", param="login"
        )
    return value


def _minute(text: str, param: str) -> int:
    found = _TIME.fullmatch(text.strip())
    if found is None:
        raise ParameterInvalid(f"{text!r} is not a time of day such as 23:00", param=param)
    return int(found[1]) * 60 + int(found[2])


def format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class Window:
    """A window of the day, `start` included, `end` excluded, in minutes after midnight;
    across midnight when `end < start` (the two never equal)."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str, *, param: str = "window") -> Window:
        """`"23:00-08:00"` (across midnight) or `"10:00-18:00"`."""
        start, sep, end = text.partition("-")
        if not sep:
            raise ParameterInvalid(f"{text!r} is not a window such as 23:00-08:00", param=param)
        window = cls(_minute(start, param), _minute(end, param))
        if window.start == window.end:
            raise ParameterInvalid("a window's start and end differ", param=param)
        return window

    @property
    def overnight(self) -> bool:
        return self.end < self.start

    def contains(self, minute: int) -> bool:
        if self.overnight:
            return minute >= self.start or minute < self.end
        return self.start <= minute < self.end

    def ends_after(self, local: datetime) -> datetime:
        """The end of this window's occurrence that `local` (a wall-clock time inside it)
        falls in."""
        minute = local.hour * 60 + local.minute
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = midnight + timedelta(minutes=self.end)
        if self.overnight and minute >= self.start:
            end += timedelta(days=1)
        return end

    def __str__(self) -> str:
        return f"{format_minute(self.start)}-{format_minute(self.end)}"


def parse_weekdays(text: str, *, param: str = "days") -> frozenset[int]:
    """`"mon-fri"`, `"sat,sun"`, `"fri"` → weekday numbers (Monday 0)."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        if first not in WEEKDAYS or (sep and last not in WEEKDAYS):
            raise ParameterInvalid(
                f"{text!r} is not a list of days such as mon-fri or sat,sun", param=param
            )
        start = WEEKDAYS.index(first)
        stop = WEEKDAYS.index(last) if sep else start
        days.update(day % 7 for day in range(start, stop + (7 if stop < start else 0) + 1))
    return frozenset(days)


def format_weekdays(days: Iterable[int]) -> str:
    return ",".join(WEEKDAYS[day] for day in sorted(days))


@dataclass(frozen=True, slots=True)
class TariffRule:
    """A zone's per-minute rate, on some days (`weekdays`, None: every day) and at some times
    (`window`, None: all day)."""

    per_minute: int
    weekdays: frozenset[int] | None = None
    window: Window | None = None

    @property
    def specificity(self) -> int:
        return (self.weekdays is not None) + 2 * (self.window is not None)

    def applies(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.window is not None:
            if not self.window.contains(minute):
                return False
            if self.window.overnight and minute < self.window.end:
                day = (day - 1) % 7  # after midnight, the night belongs to the day it began
        return self.weekdays is None or day in self.weekdays


def rate_at(rules: Sequence[TariffRule], local: datetime) -> int | None:
    """The per-minute rate in force at `local`: of the rules that apply, the most specific (a
    time window counts more than days), and of those the cheapest; None if none applies."""
    applying = [rule for rule in rules if rule.applies(local)]
    if not applying:
        return None
    best = max(rule.specificity for rule in applying)
    return min(rule.per_minute for rule in applying if rule.specificity == best)


def discounted(per_minute: int, percent: int) -> int:
    """A rate with a member group's discount, rounded half up to a minor unit."""
    return (per_minute * (100 - percent) + 50) // 100


@dataclass(frozen=True, slots=True)
class Held:
    """Time a customer holds in a package, usable here and now for `seconds`."""

    holding_id: str
    package: str
    seconds: int


@dataclass(frozen=True, slots=True)
class Use:
    """One source of a plan: `kind` package, time_bank or balance; for the balance, what it
    costs (`amount`)."""

    kind: str
    seconds: int
    amount: int = 0
    holding_id: str | None = None
    package: str | None = None


@dataclass(frozen=True, slots=True)
class UsagePlan:
    """How `seconds` of play would be paid for, source by source, in the fixed order; `short`
    is what nothing covers (the customer would be locked then)."""

    uses: tuple[Use, ...]
    seconds: int
    short: int

    @property
    def amount(self) -> int:
        return sum(use.amount for use in self.uses)


def usage_plan(
    *,
    held: Sequence[Held],
    time_bank: int,
    balance: int,
    rate: Callable[[int], int | None],
    seconds: int | None = None,
) -> UsagePlan:
    """Plan `seconds` of play (None: as much as the customer can, up to `PREVIEW_MINUTES`):
    packages in the order given, then the time bank, then the balance minute by minute at
    `rate(minute)` (the rate of the n-th minute from now; None: no rate, play stops)."""
    wanted = PREVIEW_MINUTES * 60 if seconds is None else seconds
    uses: list[Use] = []
    left = wanted
    for each in held:
        take = min(each.seconds, left)
        if take > 0:
            uses.append(Use("package", take, holding_id=each.holding_id, package=each.package))
            left -= take
    take = min(max(time_bank, 0), left)
    if take > 0:
        uses.append(Use("time_bank", take))
        left -= take
    paid_seconds, amount, money = 0, 0, balance
    elapsed = wanted - left
    while left > 0:
        price = rate((elapsed + paid_seconds) // 60)
        if price is None or price > money:
            break
        money -= price
        amount += price
        step = min(60, left)
        paid_seconds += step
        left -= step
    if paid_seconds:
        uses.append(Use("balance", paid_seconds, amount=amount))
    short = left if seconds is not None else 0
    return UsagePlan(tuple(uses), wanted - left, short)
