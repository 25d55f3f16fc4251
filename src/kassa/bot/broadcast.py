"""`/broadcast` for the shop's owners: the audience (all, active, expired, trial), then the
text (FSM), a preview with Send and Cancel, and once sent a progress message with Stop.

The sending itself is not done in an update's handler but by `send_due`, which the bot
process runs beside its polling (`runner.ShopBot`), so the bot keeps answering meanwhile.
It keeps within Telegram's limits (`PER_SECOND` messages, a 429's `retry_after` waited
out and the same recipient tried again), counts those who blocked the bot (403) without
trying them again, marks each recipient once sent, and edits the progress message as it
goes. A broadcast being sent when the process stops is taken up again when it runs again,
with only the recipients still pending (`kassa.services.bot.broadcasts` says which one
recipient a kill can make get it twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiogram import Bot, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from kassa.bot.owner import NO_BUTTONS, from_owner
from kassa.bot.scope import Scope
from kassa.bot.texts import Texts
from kassa.domain import KassaError
from kassa.services.bot import broadcasts

log = logging.getLogger(__name__)

router = Router(name="broadcast")
router.message.filter(from_owner)
router.callback_query.filter(from_owner)

#: Messages a second at most: Telegram allows about 30 to different chats.
PER_SECOND = 25
#: Seconds between two edits of the progress message.
PROGRESS_EVERY = 1.0
#: Recipients read at a time (and how often the broadcast's state is looked at).
BATCH = 25

#: Callback data: `bc:a:<audience>`, `bc:go:<id>`, `bc:no:<id>`, `bc:stop:<id>`.
AUDIENCE, GO, NO, STOP = "bc:a:", "bc:go:", "bc:no:", "bc:stop:"


class Compose(StatesGroup):
    text = State()


def _audience_name(texts: Texts, audience: str) -> str:
    _ = texts.gettext
    return {
        "all": _("everyone"),
        "active": _("active subscribers"),
        "expired": _("expired subscriptions"),
        "trial": _("on a trial"),
    }[audience]


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


@router.message(Command("broadcast"))
async def broadcast(message: Message, scope: Scope, state: FSMContext) -> None:
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    await state.clear()
    rows = []
    for audience in broadcasts.AUDIENCES:
        size = await broadcasts.audience_size(scope.ctx, shop_id=scope.shop.id, audience=audience)
        rows.append([_button(f"{_audience_name(texts, audience)} ({size})", AUDIENCE + audience)])
    await message.answer(
        _("Who gets the broadcast?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(F.data.startswith(AUDIENCE))
async def choose_audience(query: CallbackQuery, scope: Scope, state: FSMContext) -> None:
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    audience = (query.data or "").removeprefix(AUDIENCE)
    await query.answer()
    if audience not in broadcasts.AUDIENCES or not isinstance(query.message, Message):
        return
    await state.set_state(Compose.text)
    await state.update_data(audience=audience)
    await query.message.edit_text(
        _("Broadcast to %(audience)s. Now send me its text (or /cancel).")
        % {"audience": _audience_name(texts, audience)}
    )


@router.message(Compose.text, Command("cancel"))
async def cancel_compose(message: Message, scope: Scope, state: FSMContext) -> None:
    _ = scope.texts(message.from_user).gettext
    await state.clear()
    await message.answer(_("Broadcast cancelled."))


#: A command sent meanwhile is the command, not the broadcast's text.
@router.message(Compose.text, F.text, ~F.text.startswith("/"))
async def compose(message: Message, scope: Scope, state: FSMContext) -> None:
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    audience = (await state.get_data()).get("audience", "all")
    try:
        drafted = await broadcasts.draft(
            scope.ctx,
            shop_id=scope.shop.id,
            audience=audience,
            text=message.text or "",
            chat_id=message.chat.id,
            message_id=message.message_id,
        )
    except KassaError as exc:
        await message.answer(exc.message)
        return
    await state.clear()
    size = await broadcasts.audience_size(scope.ctx, shop_id=scope.shop.id, audience=audience)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(_("Send"), GO + drafted.id), _button(_("Cancel"), NO + drafted.id)]
        ]
    )
    await message.answer(
        _("Send this to %(audience)s (%(count)d)?\n\n%(text)s")
        % {"audience": _audience_name(texts, audience), "count": size, "text": drafted.text},
        reply_markup=keyboard,
    )


def progress_texts(scope: Scope) -> Texts:
    """The progress message's words: the bot's language, whoever looks (the process that
    edits it as it sends knows no user)."""
    return Texts(scope.settings.language, scope.shop.timezone)


def progress_text(texts: Texts, broadcast: broadcasts.Broadcast) -> str:
    _ = texts.gettext
    counts = broadcast.counts
    headline = {
        broadcasts.SENDING: _("Sending the broadcast…"),
        broadcasts.STOPPED: _("Broadcast stopped."),
        broadcasts.DONE: _("Broadcast sent."),
    }.get(broadcast.state, broadcast.state)
    return (
        headline
        + "\n"
        + _("%(done)d of %(total)d: sent %(sent)d, blocked %(blocked)d, failed %(failed)d")
        % {
            "done": counts.done,
            "total": counts.total,
            "sent": counts.sent,
            "blocked": counts.blocked,
            "failed": counts.failed,
        }
    )


def _stop_keyboard(texts: Texts, broadcast: broadcasts.Broadcast) -> InlineKeyboardMarkup:
    """Stop while it is sent; no buttons after."""
    if broadcast.state != broadcasts.SENDING:
        return NO_BUTTONS
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(texts.gettext("Stop"), STOP + broadcast.id)]]
    )


@router.callback_query(F.data.startswith(GO))
async def go(query: CallbackQuery, scope: Scope) -> None:
    texts = progress_texts(scope)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    started = await broadcasts.start(
        scope.ctx,
        shop_id=scope.shop.id,
        broadcast_id=(query.data or "").removeprefix(GO),
        progress_message_id=query.message.message_id,
    )
    await _edit(query.message, progress_text(texts, started), _stop_keyboard(texts, started))


@router.callback_query(F.data.startswith(NO))
async def no(query: CallbackQuery, scope: Scope) -> None:
    _ = scope.texts(query.from_user).gettext
    await query.answer()
    broadcast_id = (query.data or "").removeprefix(NO)
    cancelled = await broadcasts.cancel(scope.ctx, shop_id=scope.shop.id, broadcast_id=broadcast_id)
    if cancelled and isinstance(query.message, Message):
        await _edit(query.message, _("Broadcast cancelled."), NO_BUTTONS)


@router.callback_query(F.data.startswith(STOP))
async def stop(query: CallbackQuery, scope: Scope) -> None:
    texts = progress_texts(scope)
    broadcast_id = (query.data or "").removeprefix(STOP)
    await broadcasts.stop(scope.ctx, shop_id=scope.shop.id, broadcast_id=broadcast_id)
    await query.answer(scope.texts(query.from_user).gettext("Stopping."))
    if isinstance(query.message, Message):
        stopped = await broadcasts.get(scope.ctx, shop_id=scope.shop.id, broadcast_id=broadcast_id)
        await _edit(query.message, progress_text(texts, stopped), _stop_keyboard(texts, stopped))


async def _edit(message: Message, text: str, keyboard: InlineKeyboardMarkup) -> None:
    try:
        await message.edit_text(text, reply_markup=keyboard)
    except TelegramBadRequest as exc:
        log.info("broadcast: progress not edited: %s", exc.message)


class Sender:
    """Sends a shop's broadcasts for its bot process, at `PER_SECOND` at most."""

    def __init__(self, bot: Bot, scope: Scope, stop: asyncio.Event) -> None:
        self.bot, self.scope, self.stop = bot, scope, stop
        self.texts = progress_texts(scope)
        self.interval = 1.0 / PER_SECOND
        self.last_progress = 0.0

    async def send_due(self) -> None:
        """Send every broadcast being sent now, until each is done or stopped (or the
        process is stopping)."""
        for broadcast in await broadcasts.sending(self.scope.ctx, shop_id=self.scope.shop.id):
            await self._send(broadcast)

    async def _send(self, broadcast: broadcasts.Broadcast) -> None:
        ctx = self.scope.ctx
        while not self.stop.is_set():
            current = await broadcasts.get(ctx, broadcast_id=broadcast.id)
            if current.state != broadcasts.SENDING:
                break
            due = await broadcasts.pending(ctx, broadcast_id=broadcast.id, limit=BATCH)
            if not due:
                await broadcasts.finish(ctx, broadcast_id=broadcast.id)
                break
            for telegram_id in due:
                if not await self._deliver(broadcast, telegram_id):
                    break  # waited on a 429: look at the state again first
                await self._progress(broadcast.id, every=PROGRESS_EVERY)
        await self._progress(broadcast.id, every=0)

    async def _deliver(self, broadcast: broadcasts.Broadcast, telegram_id: int) -> bool:
        """Send to one recipient and mark them; False if Telegram asked to wait (they
        stay pending)."""
        try:
            await self.bot.send_message(telegram_id, broadcast.text)
            status = broadcasts.SENT
        except TelegramRetryAfter as exc:
            log.info("broadcast %s: Telegram asks to wait %d s", broadcast.id, exc.retry_after)
            await _sleep(self.stop, exc.retry_after)
            return False
        except TelegramForbiddenError:
            status = broadcasts.BLOCKED
        except TelegramBadRequest as exc:
            log.info("broadcast %s: not delivered to %d: %s", broadcast.id, telegram_id, exc)
            status = broadcasts.FAILED
        await broadcasts.mark(
            self.scope.ctx, broadcast_id=broadcast.id, telegram_id=telegram_id, status=status
        )
        await _sleep(self.stop, self.interval)
        return True

    async def _progress(self, broadcast_id: str, *, every: float) -> None:
        """Edit the owner's progress message, at most once in `every` seconds."""
        now = time.monotonic()
        if now - self.last_progress < every:
            return
        self.last_progress = now
        current = await broadcasts.get(self.scope.ctx, broadcast_id=broadcast_id)
        if current.progress_message_id is None:
            return
        try:
            await self.bot.edit_message_text(
                progress_text(self.texts, current),
                chat_id=current.owner_chat_id,
                message_id=current.progress_message_id,
                reply_markup=_stop_keyboard(self.texts, current),
            )
        except (TelegramBadRequest, TelegramRetryAfter) as exc:
            log.info("broadcast %s: progress not edited: %s", broadcast_id, exc)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
