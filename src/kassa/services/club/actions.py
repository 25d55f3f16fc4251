"""Remote actions on a club's PCs (lock, unlock, restart, shut down, a message to the screen,
end the session): device operations of the PC's link, acknowledged and answered by its agent,
so staff (and the dashboard to come) see whether the PC did it (`recent`).

Ending a session is `kassa.services.club.sessions.end`, which tells the PC itself.
"""

from __future__ import annotations

from kassa.domain import ParameterInvalid
from kassa.domain.devices import Operation
from kassa.protocol.club import Action
from kassa.services.club import pcs, sessions
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.services.devices import operations as device_operations
from kassa.services.devices.club_pcs import KIND

#: The longest text shown on a PC's screen.
MAX_MESSAGE = 500


async def send(
    ctx: Context, *, club: Club, pc: str, action: str, actor: str, text: str | None = None
) -> Operation:
    """Queue `action` for the club's PC `pc` (its agent gets it now if linked, else when it
    connects, within `sessions.TELL_WITHIN`); the operation, to follow its state."""
    try:
        chosen = Action(action)
    except ValueError:
        raise ParameterInvalid(
            f"an action is one of {', '.join(Action)}", param="action", code="action_unknown"
        ) from None
    found = await pcs.get(ctx, club=club, name=pc)
    if chosen is Action.END_SESSION:
        await sessions.end(ctx, club=club, pc=pc, actor=actor)
        return (await recent(ctx, club=club, pc=pc, limit=1))[0]
    body: dict[str, str] = {}
    if chosen is Action.MESSAGE:
        if not text or not text.strip() or len(text) > MAX_MESSAGE:
            raise ParameterInvalid(f"a message is 1-{MAX_MESSAGE} characters", param="text")
        body["text"] = text.strip()
    return await device_operations.queue_operation(
        ctx,
        shop_id=found.device.shop_id,
        device_id=found.name,
        device_kind=KIND,
        kind=chosen.value,
        body=body,
        answer_within=sessions.TELL_WITHIN.total_seconds(),
    )


async def recent(ctx: Context, *, club: Club, pc: str, limit: int = 20) -> list[Operation]:
    """The PC's latest actions, newest first, each with its state (queued, sent, accepted by
    the agent, done, unknown, expired) and the agent's answer."""
    found = await pcs.get(ctx, club=club, name=pc)
    return await device_operations.list_operations(
        ctx, shop_id=found.device.shop_id, device_id=found.name, limit=limit
    )
