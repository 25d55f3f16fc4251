"""Who may do what at a club: the rights a service checks before it acts for a caller.

A person of the admin UI acts through a `Caller.staff` with their role; the services the club's
pages call take that caller and check it here, so a page that forgets to hide a button still
cannot change a price. Callers without a role (a shop's API key, the command line, Kassa's own
work) act with the shop's whole authority, as they do for payments.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import PermissionDenied
from kassa.services.admin import audit
from kassa.services.callers import Caller

if TYPE_CHECKING:
    from kassa.services.club.clubs import Club


class Right(StrEnum):
    #: Serve customers: register, block, top up, correct, sell packages, sessions, shifts.
    FLOOR = "floor"
    #: Set the club up: tariffs, packages, member groups and discounts, zones, apps.
    SETUP = "setup"


def require(caller: Caller | None, right: Right) -> None:
    """`PermissionDenied` unless `caller` (None: Kassa's own work) has `right`."""
    role = None if caller is None else caller.role
    if role is None:
        return
    allowed = role.can_run_club if right is Right.FLOOR else role.can_set_up_club
    if not allowed:
        what = "run the club's floor" if right is Right.FLOOR else "change the club's set-up"
        raise PermissionDenied(f"The {role} role may not {what}", code="role_forbidden")


async def witness(
    conn: AsyncConnection,
    caller: Caller | None,
    *,
    club: Club,
    action: str,
    object_id: str,
    now: datetime,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record in the audit log, in the transaction on `conn`, that the person `caller` acts
    for (the admin UI's) did `action` at `club`; nothing for other callers."""
    if caller is None or caller.actor is None:
        return
    entry = await audit.record(
        conn,
        actor=caller.actor,
        action=action,
        now=now,
        object_id=object_id,
        shop_id=club.shop_id,
        details={"club": club.name, **(details or {})},
    )
    caller.audited.append(entry)
