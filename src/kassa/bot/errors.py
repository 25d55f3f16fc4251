"""What the buyer reads when a handler fails unexpectedly (the database is away, a bug): an
apology in their language, never a traceback. The error is logged with its traceback for the
shop's people. Refusals that are expected (a trial used, a promo code unknown) are answered
by each handler in its own words and never get here."""

from __future__ import annotations

import contextlib
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from kassa.bot.scope import Scope

log = logging.getLogger(__name__)


async def apologise(event: ErrorEvent, bot: Bot, scope: Scope) -> None:
    update = event.update
    log.error(
        "bot of shop %s: update %d failed",
        scope.shop.id,
        update.update_id,
        exc_info=event.exception,
    )
    query, message = update.callback_query, update.message
    user = query.from_user if query is not None else message.from_user if message else None
    if user is None:
        return
    _ = scope.texts(user).gettext
    # Telegram may itself be the failure: the apology is then lost too, and only logged.
    if query is not None:
        with contextlib.suppress(TelegramAPIError):  # answered before it failed, maybe
            await query.answer()
    with contextlib.suppress(TelegramAPIError):
        await bot.send_message(
            user.id, _("Sorry, something went wrong on our side. Please try again in a minute.")
        )
