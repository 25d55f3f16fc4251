"""The one aiogram `Dispatcher` every shop's bot feeds its updates to (with its `Scope`)."""

from __future__ import annotations

from aiogram import Dispatcher

from kassa.bot import (
    broadcast,
    catalog,
    errors,
    info,
    kiosks,
    owner,
    paying,
    promo,
    referral,
    start,
    subscription,
    trial,
)


def build() -> Dispatcher:
    """A dispatcher with the bot's routers, in the order they are asked."""
    dispatcher = Dispatcher()
    dispatcher.include_routers(start.router, paying.router)
    # The owners' commands (`admins` only: anyone else's pass on to the routers after).
    dispatcher.include_routers(owner.router, kiosks.router, broadcast.router)
    dispatcher.include_routers(
        catalog.router, subscription.router, trial.router, promo.router, referral.router
    )
    dispatcher.include_routers(info.router)
    dispatcher.errors.register(errors.apologise)
    return dispatcher
