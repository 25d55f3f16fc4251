"""The menu's "Invite friends": the buyer's invitation link (`t.me/<bot>?start=ref_<code>`,
which `start` reads) and how many buyers came through it."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, LinkPreviewOptions

from kassa.bot import menu
from kassa.bot.outbox import Rendered
from kassa.bot.scope import Scope
from kassa.bot.start import REFERRAL_PREFIX
from kassa.bot.texts import Texts
from kassa.services.bot import buyers, plans

router = Router(name="referral")


def link(username: str, referral_code: str) -> str:
    return f"https://t.me/{username}?start={REFERRAL_PREFIX}{referral_code}"


def render(texts: Texts, invitation: str, invited: int, *, bonus: bool) -> Rendered:
    """The invitation and its count; `bonus`: whether a plan on sale gives the inviter days."""
    _, ngettext = texts.gettext, texts.ngettext
    lines = [_("Invite friends with your link:"), invitation, ""]
    if bonus:
        lines += [_("When a friend you invited buys their first plan, you get bonus days."), ""]
    lines.append(
        ngettext("You have invited %(num)d friend.", "You have invited %(num)d friends.", invited)
        % {"num": invited}
    )
    return Rendered("\n".join(lines), menu.main_menu(texts))


@router.callback_query(F.data == menu.REFERRAL)
async def referral(callback: CallbackQuery, bot: Bot, scope: Scope) -> None:
    await callback.answer()
    user = callback.from_user
    buyer = await scope.buyer(user)
    invited = await buyers.invited_count(scope.ctx, buyer_id=buyer.id)
    on_sale = await plans.list_plans(scope.ctx, shop_id=scope.shop.id, active_only=True)
    shown = render(
        scope.texts(user),
        link(scope.username, buyer.referral_code),
        invited,
        bonus=any(plan.referral_days > 0 for plan in on_sale),
    )
    await bot.send_message(
        user.id,
        shown.text,
        reply_markup=shown.keyboard,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
