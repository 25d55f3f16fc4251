"""`POST /telegram/{shop}`: the updates Telegram posts to a shop's bot in webhook mode
(`kassa bot configure SHOP mode=webhook`; `kassa bot` sets the webhook).

Telegram signs nothing: the request is the bot's if `X-Telegram-Bot-Api-Secret-Token` is the
secret Kassa gave with `setWebhook` (compared in constant time); anything else is 401 and
nothing is done, alike for a shop without such a bot. Telegram posts an update again until it
gets a 2xx, so each is claimed by its `update_id` first (`kassa.services.bot.webhooks`): a
repeat of a handled one is answered 200 with no second effect, one being handled elsewhere
503 (Telegram tries again later). The bot's code (aiogram) is imported when the first update
arrives, not when `kassa serve` starts.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request, Response

from kassa.domain import AuthenticationFailed, InvalidRequest
from kassa.services.bot import webhooks
from kassa.services.bot.webhooks import Claim

if TYPE_CHECKING:
    from kassa.bot.webhook import WebhookBots

router = APIRouter(include_in_schema=False)

#: Seconds Telegram is asked to wait before posting an update that is being handled again.
BUSY_RETRY_AFTER = 5


@router.post("/telegram/{shop}")
async def receive(shop: str, request: Request) -> Response:
    ctx = request.app.state.ctx
    given = request.headers.get(webhooks.SECRET_HEADER)
    settings = await webhooks.verify(ctx, shop_id=shop, given=given)
    if settings is None:
        raise AuthenticationFailed(f"No bot here takes updates with this {webhooks.SECRET_HEADER}")
    try:
        document = json.loads(await request.body())
    except ValueError:
        raise InvalidRequest("The body is not JSON") from None
    update_id = document.get("update_id") if isinstance(document, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise InvalidRequest("The body is not a Telegram update (no update_id)")
    claimed = await webhooks.claim(ctx, shop_id=shop, update_id=update_id)
    if claimed is Claim.BUSY:
        return Response(status_code=503, headers={"Retry-After": str(BUSY_RETRY_AFTER)})
    if claimed is Claim.TAKEN:
        # A failure before `handled` leaves the claim to run out: Telegram's retry takes it.
        await (await _bots(request)).handle(ctx, settings, document)
        await webhooks.handled(ctx, shop_id=shop, update_id=update_id)
    return Response(status_code=200)


async def _bots(request: Request) -> WebhookBots:
    """The app's connections to Telegram, made with the first update (aiogram loads then)."""
    state = request.app.state
    bots: WebhookBots | None = getattr(state, "telegram_bots", None)
    if bots is None:
        # Seconds of imports, in a thread: the event loop goes on serving everyone else.
        await asyncio.to_thread(importlib.import_module, "kassa.bot.webhook")
        from kassa.bot.webhook import WebhookBots

        bots = getattr(state, "telegram_bots", None)  # made by another request meanwhile?
        if bots is None:
            bots = state.telegram_bots = WebhookBots()
    return bots


async def close(app: FastAPI) -> None:
    """Close the app's connections to Telegram, if an update made them (the app stops)."""
    bots: WebhookBots | None = getattr(app.state, "telegram_bots", None)
    if bots is not None:
        await bots.close()
