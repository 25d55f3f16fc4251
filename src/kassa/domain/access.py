"""Who may do what in the admin UI: roles, and the people who hold them.

owner      everything, including managing admin users
operator   reads everything; acts on payments (capture, cancel, refund, re-check, resend)
viewer     reads everything; changes nothing
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    OPERATOR = "operator"
    VIEWER = "viewer"

    @property
    def can_act(self) -> bool:
        """Whether this role may change payments (capture, cancel, refund, re-check, resend)."""
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
