"""A webhook-mode bot's updates, as `kassa serve` receives them at `/telegram/{shop}` (the
route imports this module only when the first update arrives, so a server without such bots
never loads aiogram). Each update goes to the same dispatcher as polling's, with the same
`Scope`; the handlers' answers go to Telegram through a `Bot` kept per shop. Sending the
outbox stays with `kassa bot`, which sets the webhook (`runner`)."""

from __future__ import annotations

import functools
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.types import Update
from pydantic import ValidationError

from kassa.bot import dispatcher as dispatchers
from kassa.bot.connection import open_bot
from kassa.bot.scope import Scope
from kassa.services.bot import settings as bot_settings
from kassa.services.bot.settings import BotSettings
from kassa.services.context import Context
from kassa.services.shops import shops

log = logging.getLogger(__name__)


@functools.cache
def _dispatcher() -> Dispatcher:
    """The process's one dispatcher (a router belongs to one dispatcher only)."""
    return dispatchers.build()


class WebhookBots:
    """The serving process's connections to Telegram, one per webhook-mode bot that got an
    update; `close` them when the app stops."""

    def __init__(self) -> None:
        #: shop id → (the sealed token it was opened with, its bot, its @username).
        self._bots: dict[str, tuple[str, Bot, str]] = {}

    async def handle(self, ctx: Context, settings: BotSettings, document: dict[str, Any]) -> None:
        """Feed one update to the dispatcher. A handler's failure is logged and the update
        counts as handled, as in polling (`runner`)."""
        bot, username = await self._bot(ctx, settings)
        shop = await shops.get_shop(ctx, shop_id=settings.shop_id)
        try:
            update = Update.model_validate(document, context={"bot": bot})
        except ValidationError as exc:
            # Only Telegram knows the secret, and it sends updates: not one to post again.
            log.error("bot of shop %s: not an update: %s", settings.shop_id, exc)
            return
        try:
            await _dispatcher().feed_update(bot, update, scope=Scope(ctx, shop, settings, username))
        except Exception:
            log.exception("bot of shop %s: update %d failed", settings.shop_id, update.update_id)

    async def _bot(self, ctx: Context, settings: BotSettings) -> tuple[Bot, str]:
        kept = self._bots.get(settings.shop_id)
        if kept is None or kept[0] != settings.token:
            old = kept
            token = bot_settings.open_secret(ctx, settings.token)
            bot = open_bot(
                token, api_url=ctx.settings.telegram_api_url, test_server=settings.test_server
            )
            kept = self._bots[settings.shop_id] = (settings.token, bot, "")
            if old is not None:  # configured with another token since
                await old[1].session.close()
        sealed, bot, username = kept
        if not username:
            try:
                username = (await bot.get_me()).username or ""
            except (TelegramAPIError, TelegramNetworkError) as exc:
                # Only links to the bot need it: asked again with the next update.
                log.warning("bot of shop %s: getMe failed (%s)", settings.shop_id, exc)
            self._bots[settings.shop_id] = (sealed, bot, username)
        return bot, username

    async def close(self) -> None:
        for _, bot, _ in self._bots.values():
            await bot.session.close()
        self._bots.clear()
