"""The buyer's main menu: one inline keyboard, its buttons' callback data named here so the
routers that answer them agree with the keyboard that sends them."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from kassa.bot.texts import Texts

CATALOG = "catalog"
MY_SUBSCRIPTION = "my"
TRIAL = "trial"
PROMO = "promo"
REFERRAL = "referral"
HELP = "help"
TERMS = "terms"
#: `plan:<plan id>`: the buyer chose a plan in the catalog (or to renew): the paying router
#: answers with the ways to pay for it.
PLAN_PREFIX = "plan:"


def plan_data(plan_id: str) -> str:
    return f"{PLAN_PREFIX}{plan_id}"


def main_menu(texts: Texts) -> InlineKeyboardMarkup:
    _ = texts.gettext

    def button(text: str, data: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=data)

    return InlineKeyboardMarkup(
        inline_keyboard=[
            [button(_("Plans and prices"), CATALOG)],
            [button(_("My subscription"), MY_SUBSCRIPTION)],
            [button(_("Free trial"), TRIAL), button(_("Promo code"), PROMO)],
            [button(_("Invite friends"), REFERRAL), button(_("Help"), HELP)],
        ]
    )
