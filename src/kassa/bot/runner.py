"""Long polling for the shops' bots, in one process (`kassa bot`), and the outbox of every bot.

Each shop's bot asks Telegram for updates from its stored offset, hands each one to the
dispatcher, and stores the offset past it once it is handled: a bot stopped (or killed)
in the middle of an update gets that update again when it runs again, and never one it
has handled. Updates are handled one after another, in Telegram's order. An update whose
handler fails is logged and passed over, as aiogram's own polling does, so one bad update
cannot hold the bot back; one whose handler raises `HandleLater` (Kassa could not record a
Stars payment now) is not confirmed, and asked for again after a pause. Beside the polling,
the bot sends the messages services left for its buyers (`outbox`) and its owners'
broadcasts (`broadcast`). A server that cannot be reached is tried again with a growing
delay; a bot whose token Telegram refuses stops with an error in the log. The other shops'
bots go on either way.

A bot in webhook mode (`mode=webhook`) is not polled: its webhook is set instead
(`setWebhook` to `KASSA_PUBLIC_URL/telegram/{shop}` with its secret and the update types the
dispatcher uses), `kassa serve` receives its updates (`kassa.bot.webhook`), and this process
still sends its outbox and broadcasts. A polled bot's webhook is deleted first, as a webhook
left set makes every long poll fail. A bot whose mode changes is started again in its new
mode (`run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import Update

from kassa.bot import (
    broadcast,
    commands,
    notices,  # noqa: F401  (registers the reminders' and alerts' renderers)
    outbox,
)
from kassa.bot import dispatcher as dispatchers
from kassa.bot.connection import open_bot
from kassa.bot.scope import HandleLater, Scope
from kassa.services.bot import settings as bot_settings
from kassa.services.bot import webhooks
from kassa.services.bot.settings import WEBHOOK, BotSettings
from kassa.services.context import Context
from kassa.services.shops import shops

log = logging.getLogger(__name__)

#: Seconds a long poll waits at Telegram for updates.
POLL_SECONDS = 20
#: Seconds between two looks for messages to send.
OUTBOX_SECONDS = 1.0
#: Seconds between two looks for bots configured since.
DISCOVERY_SECONDS = 2.0
#: Delays before trying again after a failure, the last one repeated.
BACKOFF = (1.0, 2.0, 5.0, 15.0, 30.0)

T = TypeVar("T")


class ShopBot:
    """A shop's bot: its connection to Telegram, its polling and its outbox."""

    def __init__(self, ctx: Context, settings: BotSettings, dispatcher: Dispatcher) -> None:
        self.ctx = ctx
        self.settings = settings
        self.shop_id = settings.shop_id
        self.dispatcher = dispatcher
        token = bot_settings.open_secret(ctx, settings.token)
        self.bot: Bot = open_bot(
            token, api_url=ctx.settings.telegram_api_url, test_server=settings.test_server
        )
        self.username = ""

    async def scope(self) -> Scope:
        """The bot's scope as its settings are now (`kassa bot configure` may change them)."""
        settings = await bot_settings.get(self.ctx, shop_id=self.shop_id)
        shop = await shops.get_shop(self.ctx, shop_id=self.shop_id)
        return Scope(self.ctx, shop, settings, self.username)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            me = await self._retrying(self.bot.get_me, stop)
            if me is None:
                return
            self.username = me.username or ""
            language = self.settings.language
            await self._retrying(lambda: commands.publish(self.bot, language=language), stop)
            if self.settings.mode == WEBHOOK:
                await self._set_webhook(stop)
                await asyncio.gather(self._send(stop), self._broadcast(stop))
                return
            # A webhook left set would make every long poll fail with 409.
            await self._retrying(lambda: self.bot.delete_webhook(drop_pending_updates=False), stop)
            log.info("bot @%s of shop %s: polling", self.username, self.shop_id)
            await asyncio.gather(self._poll(stop), self._send(stop), self._broadcast(stop))
        except TelegramUnauthorizedError:
            log.error("bot of shop %s: Telegram refuses its token; this bot stops", self.shop_id)
        finally:
            await self.bot.session.close()

    async def _set_webhook(self, stop: asyncio.Event) -> None:
        url = webhooks.url(self.ctx, self.shop_id)
        secret = webhooks.secret(self.ctx, self.settings)
        allowed = self.dispatcher.resolve_used_update_types()

        async def set_webhook() -> bool:
            return await self.bot.set_webhook(url, secret_token=secret, allowed_updates=allowed)

        await self._retrying(set_webhook, stop)
        log.info("bot @%s of shop %s: webhook at %s", self.username, self.shop_id, url)

    async def _poll(self, stop: asyncio.Event) -> None:
        offset = await bot_settings.update_offset(self.ctx, shop_id=self.shop_id)
        allowed = self.dispatcher.resolve_used_update_types()
        later = 0  # updates in a row to be handled again
        while not stop.is_set():

            async def fetch(offset: int | None = offset) -> list[Update]:
                return await self.bot.get_updates(
                    offset=offset,
                    timeout=POLL_SECONDS,
                    allowed_updates=allowed,
                    request_timeout=POLL_SECONDS + 10,
                )

            updates = await self._retrying(fetch, stop)
            if not updates:
                continue
            scope = await self.scope()
            for update in updates:
                if not await self._handle(update, scope):
                    # Not confirmed: Telegram gives it again on the next poll, after a pause.
                    await _wait(stop, BACKOFF[min(later, len(BACKOFF) - 1)])
                    later += 1
                    break
                later = 0
                offset = update.update_id + 1
                await bot_settings.confirm_updates(self.ctx, shop_id=self.shop_id, below=offset)

    async def _handle(self, update: Update, scope: Scope) -> bool:
        """Hand `update` to the dispatcher; False if it is to be handled again later."""
        try:
            await self.dispatcher.feed_update(self.bot, update, scope=scope)
        except HandleLater as exc:
            log.warning(
                "bot of shop %s: update %d is to be handled again: %s",
                self.shop_id,
                update.update_id,
                exc,
            )
            return False
        except Exception:
            log.exception("bot of shop %s: update %d failed", self.shop_id, update.update_id)
        return True

    async def _send(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await outbox.send_due(self.bot, await self.scope())
                failures = 0
                delay = OUTBOX_SECONDS
            except (TelegramNetworkError, TelegramServerError) as exc:
                delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                log.warning(
                    "bot of shop %s: sending failed (%s); again in %.0f s", self.shop_id, exc, delay
                )
            await _wait(stop, delay)

    async def _broadcast(self, stop: asyncio.Event) -> None:
        """Send the owners' broadcasts (`broadcast.Sender`), beside the polling."""
        failures = 0
        while not stop.is_set():
            try:
                await broadcast.Sender(self.bot, await self.scope(), stop).send_due()
                failures = 0
                delay = OUTBOX_SECONDS
            except Exception:
                # Telegram or the database failing: the bot goes on answering, and the
                # broadcast goes on from its recipients still pending.
                delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                log.exception(
                    "bot of shop %s: broadcasting failed; again in %.0f s", self.shop_id, delay
                )
            await _wait(stop, delay)

    async def _retrying(self, call: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
        """`call()`, tried again after Telegram's or the network's failures; None once
        `stop` is set."""
        failures = 0
        while not stop.is_set():
            attempt = asyncio.ensure_future(call())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({attempt, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not attempt.done():
                attempt.cancel()
                return None
            try:
                return attempt.result()
            except TelegramRetryAfter as exc:
                delay = float(exc.retry_after)
            except (TelegramNetworkError, TelegramServerError) as exc:
                delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                log.warning("bot of shop %s: %s; again in %.0f s", self.shop_id, exc, delay)
            await _wait(stop, delay)
        return None


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@dataclass(frozen=True, slots=True)
class _Running:
    """A bot's task, the mode it runs in, and the event that stops it alone."""

    task: asyncio.Task[None]
    mode: str
    stop: asyncio.Event


async def run(ctx: Context, stop: asyncio.Event, *, shop_ids: list[str] | None = None) -> None:
    """Run the bots of `shop_ids` (every configured shop's by default) until `stop` is set.

    Bots configured while this runs (`kassa bot configure`) are started within
    `DISCOVERY_SECONDS`, and so is a bot switched between polling and webhook mode, stopped
    (its update in hand finished) and started again in its new mode; a bot that stopped (its
    token refused) is not started again until the process is, or its mode changes.
    """
    dispatcher = dispatchers.build()
    running: dict[str, _Running] = {}
    warned = False
    try:
        while not stop.is_set():
            for settings in await bot_settings.configured(ctx):
                if shop_ids is not None and settings.shop_id not in shop_ids:
                    continue
                current = running.get(settings.shop_id)
                if current is not None and current.mode != settings.mode:
                    current.stop.set()
                    await asyncio.gather(current.task, return_exceptions=True)
                    current = None
                if current is None:
                    own = asyncio.Event()
                    task = asyncio.create_task(ShopBot(ctx, settings, dispatcher).run(own))
                    task.add_done_callback(_log_failure)
                    running[settings.shop_id] = _Running(task, settings.mode, own)
            if not running and not warned:
                log.warning("no shop has a bot to run yet (kassa bot configure SHOP token=…)")
                warned = True
            await _wait(stop, DISCOVERY_SECONDS)
    finally:
        for each in running.values():
            each.stop.set()
        await asyncio.gather(*(each.task for each in running.values()), return_exceptions=True)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a bot stopped on an error", exc_info=task.exception())
