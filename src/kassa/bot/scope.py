"""What every handler gets besides the update (aiogram passes it as the `scope` argument):
the shop whose bot received the update, that bot's settings as they were when the update
was fetched, and Kassa's context to call services with."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import User

from kassa.bot.texts import Texts, language_of
from kassa.domain import Shop
from kassa.services.bot import buyers
from kassa.services.bot.settings import BotSettings
from kassa.services.context import Context


class HandleLater(Exception):
    """Raised by a handler that could not do what an update needs now (Kassa's database did
    not answer) and must not lose it: the update is not confirmed to Telegram, which gives it
    again on the next poll (a successful Stars payment, say). Any other failure is logged and
    the update passed over."""


@dataclass(frozen=True, slots=True)
class Scope:
    ctx: Context
    shop: Shop
    settings: BotSettings
    #: The bot's @username, for links to it (`t.me/<username>?start=ref_…`).
    username: str

    def texts(self, user: User | None) -> Texts:
        """The bot's words in `user`'s language."""
        code = user.language_code if user is not None else None
        return Texts(language_of(code, self.settings.language), self.shop.timezone)

    def is_admin(self, user: User | None) -> bool:
        """Whether `user` is one of the shop's owners (`admins=`)."""
        return user is not None and user.id in self.settings.admins

    async def buyer(self, user: User, *, referral_code: str | None = None) -> buyers.Buyer:
        """The shop's buyer for `user`, registered on first sight (with the inviter's code,
        if this is their first `/start ref_<code>`)."""
        return await buyers.register(
            self.ctx,
            shop_id=self.shop.id,
            telegram_id=user.id,
            name=user.full_name,
            language=user.language_code,
            referral_code=referral_code,
        )
