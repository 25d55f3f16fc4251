"""Sending the messages services leave for buyers in `bot_messages`, each once it is sent.

A message is marked sent only after Telegram took it, so one written just before the bot
stopped is sent when it runs again (a crash between the two sends it twice; Telegram has no
idempotency key to prevent that). A buyer who blocked the bot cannot be written to: their
message is marked sent, and nothing is retried. Each kind of message has its renderer in
`RENDERERS`, which turns its `params` into words in the buyer's language.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup

from kassa.bot.menu import main_menu
from kassa.bot.scope import Scope
from kassa.bot.texts import Texts, language_of
from kassa.services.bot import activation, buyers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    keyboard: InlineKeyboardMarkup | None = None


Renderer = Callable[[Texts, Mapping[str, Any]], Rendered]


def _access(texts: Texts, params: Mapping[str, Any]) -> Rendered:
    _ = texts.gettext
    ends_at = texts.time(datetime.fromisoformat(params["ends_at"]))
    if params.get("reason") == buyers.TRIAL:
        text = _("Your free trial is on until %(ends_at)s.\n\nYour access:\n%(link)s")
    else:
        text = _("Your subscription is active until %(ends_at)s.\n\nYour access:\n%(link)s")
    return Rendered(text % {"ends_at": ends_at, "link": params["link"]}, main_menu(texts))


def _delayed(texts: Texts, params: Mapping[str, Any]) -> Rendered:
    _ = texts.gettext
    # `reason`: what lengthened the subscription (a message written before it was kept has
    # none: a purchase).
    if params.get("reason", activation.PURCHASE) == activation.PURCHASE:
        text = _(
            "Your payment has arrived. Your access is on its way: "
            "you will get it here as soon as it is ready."
        )
    else:  # the trial, a promo code, a bonus, an import: nothing was paid
        text = _("Your access is on its way: you will get it here as soon as it is ready.")
    return Rendered(text)


RENDERERS: dict[str, Renderer] = {"access": _access, "delayed": _delayed}


async def send_due(bot: Bot, scope: Scope) -> int:
    """Send the shop's unsent messages; returns how many were sent."""
    sent = 0
    for message in await activation.unsent(scope.ctx, shop_id=scope.shop.id):
        render = RENDERERS.get(message.kind)
        if render is None:
            log.error("bot message %s: no renderer for kind %r", message.id, message.kind)
            continue
        texts = Texts(language_of(message.language, scope.settings.language), scope.shop.timezone)
        rendered = render(texts, message.params)
        try:
            await bot.send_message(
                message.telegram_id, rendered.text, reply_markup=rendered.keyboard
            )
        except TelegramRetryAfter as exc:
            log.warning("bot messages: Telegram asks to wait %d s", exc.retry_after)
            await asyncio.sleep(exc.retry_after)
            break
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            # Blocked, or the chat is gone: it can never be delivered.
            log.info("bot message %s not delivered: %s", message.id, exc.message)
        await activation.mark_sent(scope.ctx, message_id=message.id)
        sent += 1
    return sent
