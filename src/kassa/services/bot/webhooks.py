"""Updates Telegram posts to a webhook-mode bot (`mode=webhook`, `/telegram/{shop}`): whose
they are, and each handled once.

Telegram signs nothing: it sends back, in `X-Telegram-Bot-Api-Secret-Token`, the secret it
was given with `setWebhook`, which Kassa made and keeps sealed (`settings`); `verify` compares
it in constant time. Telegram posts an update again until it is answered 2xx, so an update is
claimed by its `update_id` before it is handled: a claim is a row with a lease, made once
(a unique key) or taken over once its lease has run out (a conditional update: the process
handling it died), and marked handled after. A repeat of a handled update is answered without
a second effect; one that comes while another holds the claim is answered "busy" (non-2xx),
so Telegram tries again later and nothing is lost if the holder dies. Handled updates are
forgotten after `KEPT` (Telegram gives up on an update within a day; not a documented figure,
an observed one).
"""

from __future__ import annotations

import enum
import hmac
from datetime import timedelta

from sqlalchemy import delete, select, update

from kassa.services.bot import settings as bot_settings
from kassa.services.bot.settings import WEBHOOK, BotSettings
from kassa.services.context import Context
from kassa.store.tables import bot_webhook_updates

#: The header Telegram sends the webhook's secret in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header's name)
#: How long a claimed update is left to the process that claimed it.
LEASE = timedelta(minutes=1)
#: How long a handled update's id is kept against Telegram's repeats.
KEPT = timedelta(days=2)


class Claim(enum.Enum):
    TAKEN = "taken"
    HANDLED = "handled"
    BUSY = "busy"


def url(ctx: Context, shop_id: str) -> str:
    """Where Telegram is to post the shop's bot's updates (`KASSA_PUBLIC_URL`)."""
    return f"{ctx.settings.resolved_public_url}/telegram/{shop_id}"


def secret(ctx: Context, settings: BotSettings) -> str:
    """The webhook's secret in the clear, for `setWebhook` alone."""
    if settings.webhook_secret is None:
        raise ValueError("this bot was never set to webhook mode")
    return bot_settings.open_secret(ctx, settings.webhook_secret)


async def verify(ctx: Context, *, shop_id: str, given: str | None) -> BotSettings | None:
    """The shop's bot settings if it is in webhook mode and `given` is its secret, else None
    (no bot, another mode, no secret or a wrong one: the caller cannot tell which)."""
    found = await bot_settings.find(ctx, shop_id=shop_id)
    if found is None or found.mode != WEBHOOK or found.webhook_secret is None or not given:
        return None
    expected = secret(ctx, found).encode()
    return found if hmac.compare_digest(expected, given.encode()) else None


async def claim(ctx: Context, *, shop_id: str, update_id: int) -> Claim:
    """Claim the update for handling: `TAKEN` (handle it, then `handled`), `HANDLED` before,
    or `BUSY` (another process is handling it now)."""
    now = ctx.clock()
    row = bot_webhook_updates.c
    async with ctx.db.write() as conn:
        made = await conn.execute(
            ctx.db.insert_ignoring_conflict(
                bot_webhook_updates, index_elements=["shop_id", "update_id"]
            ),
            {
                "shop_id": shop_id,
                "update_id": update_id,
                "claimed_until": now + LEASE,
                "received_at": now,
            },
        )
        if made.rowcount == 1:
            return Claim.TAKEN
        this = (row.shop_id == shop_id, row.update_id == update_id)
        taken_over = await conn.execute(
            update(bot_webhook_updates)
            .where(*this, row.claimed_until < now)
            .values(claimed_until=now + LEASE)
        )
        if taken_over.rowcount == 1:
            return Claim.TAKEN
        until = (await conn.execute(select(row.claimed_until).where(*this))).scalar()
    return Claim.HANDLED if until is None else Claim.BUSY


async def handled(ctx: Context, *, shop_id: str, update_id: int) -> None:
    """Record that the claimed update was handled: its repeats are answered without effect."""
    row = bot_webhook_updates.c
    async with ctx.db.write() as conn:
        await conn.execute(
            update(bot_webhook_updates)
            .where(row.shop_id == shop_id, row.update_id == update_id)
            .values(claimed_until=None)
        )


async def prune(ctx: Context) -> int:
    """The background job: forget handled updates older than `KEPT`."""
    row = bot_webhook_updates.c
    # Telegram has stopped posting them again by then, handled or not.
    old = (row.received_at < ctx.clock() - KEPT,)
    async with ctx.db.read() as conn:
        if (await conn.execute(select(row.update_id).where(*old).limit(1))).first() is None:
            return 0
    async with ctx.db.write() as conn:
        done = await conn.execute(delete(bot_webhook_updates).where(*old))
    return done.rowcount
