"""Who may do what in the admin UI: roles, and the people who hold them.

owner          everything, including managing admin users
operator       reads everything; acts on payments (capture, cancel, refund, re-check, resend)
               and on clubs, their prices included
viewer         reads everything; changes nothing
club_operator  runs a club's floor (customers, top-ups and corrections, purchases, sessions,
               remote actions, shifts) but cannot set the club up: tariffs, packages,
               member groups and their discounts, zones, apps (club owners' fraud complaint:
               the desk must not lower its own prices); acts on no payment
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    OPERATOR = "operator"
    VIEWER = "viewer"
    CLUB_OPERATOR = "club_operator"

    @property
    def can_act(self) -> bool:
        """Whether this role may change payments (capture, cancel, refund, re-check, resend)."""
        return self in (Role.OWNER, Role.OPERATOR)

    @property
    def can_run_club(self) -> bool:
        """Whether this role may serve a club's customers: register, top up, correct, sell,
        run sessions and shifts."""
        return self in (Role.OWNER, Role.OPERATOR, Role.CLUB_OPERATOR)

    @property
    def can_set_up_club(self) -> bool:
        """Whether this role may change what a club charges and offers: tariffs, packages,
        member groups and discounts, zones, apps."""
        return self in (Role.OWNER, Role.OPERATOR)

    @property
    def can_manage_users(self) -> bool:
        return self == Role.OWNER


@dataclass(frozen=True, slots=True)
class AdminUser:
    """A person who signs in to the admin UI. The password hash never leaves the store."""

    id: str
    name: str
    role: Role
    active: bool
    created_at: datetime
    updated_at: datetime
