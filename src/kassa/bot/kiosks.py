"""The kiosk owner's commands (the gateway proxy's bot of seed 000): `/kiosks` (each
terminal online or not), `/add_kiosk ID` and `/regenerate_token ID` (a token, shown once and
only in a private chat: in a group everyone would read it), `/send_payment KIOSK AMOUNT` (a
test payment through that terminal, in the shop's test mode). For the owners only, as the
rest of `owner`'s commands."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from kassa.bot.owner import from_owner
from kassa.bot.scope import Scope
from kassa.domain import KassaError
from kassa.domain.money import from_decimal
from kassa.services.admin.audit import Actor
from kassa.services.callers import Caller
from kassa.services.devices import registry, terminals
from kassa.services.devices.presence import ONLINE_WITHIN
from kassa.services.payments import lifecycle

router = Router(name="kiosks")
router.message.filter(from_owner)

#: The currency of `/send_payment`'s amount.
CURRENCY = "RUB"


def _actor(message: Message) -> Actor:
    """The owner as the audit log names them."""
    user_id = message.from_user.id if message.from_user else 0
    return Actor(name=f"telegram:{user_id}")


@router.message(Command("kiosks"))
async def kiosks(message: Message, scope: Scope) -> None:
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    found = await terminals.list_terminals(scope.ctx, shop_id=scope.shop.id)
    if not found:
        await message.answer(_("No kiosks yet: add one with /add_kiosk ID"))
        return
    now = scope.ctx.clock()
    lines = []
    for terminal in found:
        state = _("online") if terminal.online(now, within=ONLINE_WITHIN) else _("offline")
        if not terminal.enabled:
            state += ", " + _("disabled")
        seen = texts.time(terminal.last_seen_at) if terminal.last_seen_at else _("never seen")
        lines.append(f"{terminal.id}: {state} ({seen})")
    await message.answer("\n".join(lines))


async def _private(message: Message, scope: Scope) -> bool:
    """Whether the chat is private; in a group, says why no token is shown."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    _ = scope.texts(message.from_user).gettext
    await message.answer(_("Tokens are shown in a private chat only: write to me directly."))
    return False


def _token_text(scope: Scope, message: Message, terminal_id: str, token: str) -> str:
    _ = scope.texts(message.from_user).gettext
    return _(
        "Kiosk %(id)s. Its token, shown once (Kassa keeps no copy):\n\n%(token)s\n\n"
        "On the kiosk set KASSA_HUB_URL=%(url)s and KASSA_TERMINAL_TOKEN to this token, "
        "then run kassa agent."
    ) % {"id": terminal_id, "token": token, "url": scope.ctx.settings.resolved_public_url}


@router.message(Command("add_kiosk"))
async def add_kiosk(message: Message, command: CommandObject, scope: Scope) -> None:
    _ = scope.texts(message.from_user).gettext
    if not await _private(message, scope):
        return
    terminal_id = (command.args or "").strip()
    if not terminal_id or " " in terminal_id:
        await message.answer(_("Usage: /add_kiosk ID"))
        return
    try:
        issued = await terminals.add_terminal(
            scope.ctx, shop=scope.shop, terminal_id=terminal_id, actor=_actor(message)
        )
    except KassaError as exc:
        await message.answer(_("Refused: %(reason)s") % {"reason": exc.message})
        return
    await message.answer(_token_text(scope, message, issued.device.id, issued.token))


@router.message(Command("regenerate_token"))
async def regenerate_token(message: Message, command: CommandObject, scope: Scope) -> None:
    _ = scope.texts(message.from_user).gettext
    if not await _private(message, scope):
        return
    terminal_id = (command.args or "").strip()
    if not terminal_id:
        await message.answer(_("Usage: /regenerate_token ID"))
        return
    try:
        found = await terminals.get_terminal(
            scope.ctx, shop_id=scope.shop.id, terminal_id=terminal_id
        )
        issued = await registry.revoke(scope.ctx, device=found, actor=_actor(message))
    except KassaError as exc:
        await message.answer(_("Refused: %(reason)s") % {"reason": exc.message})
        return
    await message.answer(
        _("Every earlier token of the kiosk stops working.")
        + "\n\n"
        + _token_text(scope, message, issued.device.id, issued.token)
    )


@router.message(Command("send_payment"))
async def send_payment(message: Message, command: CommandObject, scope: Scope) -> None:
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    words = (command.args or "").split()
    if len(words) != 2:
        await message.answer(_("Usage: /send_payment KIOSK AMOUNT"))
        return
    terminal_id, amount = words
    try:
        payment = await lifecycle.create_payment(
            scope.ctx,
            caller=Caller.system(shop=scope.shop, test=True),
            params=lifecycle.NewPayment(
                amount=from_decimal(amount, CURRENCY),
                currency=CURRENCY,
                terminal=terminal_id,
                description="A test payment from the bot",
            ),
        )
    except KassaError as exc:
        await message.answer(_("Refused: %(reason)s") % {"reason": exc.message})
        return
    await message.answer(
        _("Test payment %(id)s of %(amount)s sent to kiosk %(kiosk)s: %(status)s")
        % {
            "id": payment.id,
            "amount": texts.money(payment.amount, payment.currency),
            "kiosk": terminal_id,
            "status": payment.status.value,
        }
    )
