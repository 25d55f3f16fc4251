"""Telegram Stars' side, on the Bot API emulator. Telegram notifies the shop's bot, not Kassa:
the driver plays the buyer (who taps Pay on the invoice link) and the bot, which polls
`getUpdates`, answers the pre-checkout query with what Kassa's services say, and hands the
`successful_payment` update to them (`services.providers.telegram_stars.paid`) before
confirming it to Telegram. A notice here is that update; a forged one is posted to
`/hooks/telegram_stars/…` by someone without the account's `notice_secret`. A payment whose
update never reached Kassa is found by reconciliation, among the bot's Stars transactions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self

import httpx

from kassa.providers import Verdict
from kassa.providers.telegram_stars import SIGNATURE_HEADER, TelegramStarsProvider
from kassa.providers.wire import own_signature
from kassa.services.notifications import inbound
from kassa.services.providers import telegram_stars as stars
from tests.conformance.drivers.base import Account, Driver, Reply
from tests.emulators.telegram import Bot, TelegramEmulator, running
from tests.helpers import make_provider_shop
from tests.live import LiveServer


@dataclass(frozen=True)
class StarsAccount(Account):
    bot: Bot


@dataclass(frozen=True)
class StarsNotice:
    """A `successful_payment` update as the bot received it; `forged`: posted to Kassa's
    hook URL by someone who signs it with a secret that is not the account's."""

    update: dict[str, Any]
    forged: bool = False


class BotSide:
    """The shop's bot, as far as payments go, over the Bot API (HTTP on loopback)."""

    def __init__(self, emulator: TelegramEmulator, bot: Bot) -> None:
        self.emulator, self.bot = emulator, bot

    def call(self, method: str, **params: Any) -> Any:
        url = f"{self.emulator.bot_url(self.bot)}/{method}"
        answer = httpx.post(url, json=params, timeout=30).json()
        assert answer["ok"], answer
        return answer["result"]

    def next_update(self, kind: str, *, offset: int = 0) -> dict[str, Any]:
        """The first unconfirmed update holding `kind`, confirming the ones before it."""
        for update in self.call("getUpdates", offset=offset, timeout=5):
            if kind in update or kind in update.get("message", {}):
                return dict(update)
        raise AssertionError(f"no {kind} update came")


class TelegramStarsDriver(Driver[StarsAccount, StarsNotice]):
    provider = TelegramStarsProvider
    # Nothing declines a Stars payment: the bot may refuse it at pre-checkout, and the
    # payment stays pending until it expires.
    declines = False

    def __init__(self, server: LiveServer, emulator: TelegramEmulator) -> None:
        super().__init__(server)
        self.emulator = emulator

    @classmethod
    @contextmanager
    def running(cls, server: LiveServer) -> Iterator[Self]:
        with running() as emulator:
            yield cls(server, emulator)

    def connect(self) -> StarsAccount:
        bot = self.emulator.add_bot()
        settings = {"bot_token": bot.token, "api_url": self.emulator.api_url}
        shop = make_provider_shop(self.server, "telegram_stars", settings)
        return StarsAccount(shop.name, shop.key, bot)

    def payment_fields(self, account: StarsAccount) -> dict[str, Any]:
        return {"currency": "XTR"}

    def pay(self, account: StarsAccount, payment: dict[str, Any]) -> None:
        notice = self.pay_silently(account, payment)
        (reply,) = self.send(account, notice)
        assert reply.taken, reply.raw
        BotSide(self.emulator, account.bot).call(
            "getUpdates", offset=notice.update["update_id"] + 1
        )

    def pay_silently(self, account: StarsAccount, payment: dict[str, Any]) -> StarsNotice:
        """The buyer pays; the bot answers the pre-checkout query as Kassa says and receives
        the successful payment, then stops before handing it over (it stays unconfirmed at
        Telegram)."""
        bot = BotSide(self.emulator, account.bot)
        buyer = self.emulator.user()
        checkout = self.emulator.begin_payment(account.bot, buyer, payment["confirmation"]["url"])
        query = bot.next_update("pre_checkout_query")
        answer = self.server.call(
            stars.pre_checkout(
                self.server.ctx, shop=account.name, query=query["pre_checkout_query"]
            )
        )
        bot.call(
            "answerPreCheckoutQuery",
            pre_checkout_query_id=query["pre_checkout_query"]["id"],
            ok=answer.ok,
            **({} if answer.ok else {"error_message": answer.error_message}),
        )
        assert checkout.wait(1), "the emulator took no answer"
        assert checkout.ok, (answer, checkout)
        update = bot.next_update("successful_payment", offset=query["update_id"] + 1)
        return StarsNotice(update)

    def decline(self, account: StarsAccount, payment: dict[str, Any]) -> None:
        raise NotImplementedError("nothing declines a Telegram Stars payment")

    def send(self, account: StarsAccount, notice: StarsNotice, *, copies: int = 1) -> list[Reply]:
        if notice.forged:
            return [self._post_forged(account, notice) for _ in range(copies)]

        async def hand_over() -> list[inbound.Result]:
            ctx = self.server.ctx
            return list(
                await asyncio.gather(
                    *(
                        stars.paid(ctx, shop=account.name, update=notice.update)
                        for _ in range(copies)
                    )
                )
            )

        return [
            Reply(result.verdict in (Verdict.ACCEPTED, Verdict.DUPLICATE), result)
            for result in self.server.call(hand_over())
        ]

    def _post_forged(self, account: StarsAccount, notice: StarsNotice) -> Reply:
        body = json.dumps(notice.update).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: own_signature("not-the-secret", body),
        }
        url = f"{self.server.url}/hooks/telegram_stars/{account.name}"
        answer = httpx.post(url, content=body, headers=headers, timeout=30)
        return Reply(answer.status_code == 200, answer.text)

    def forge(self, account: StarsAccount, notice: StarsNotice) -> StarsNotice:
        """The same update, signed with a secret that is not the account's."""
        return StarsNotice(notice.update, forged=True)

    @contextmanager
    def api_down(self, account: StarsAccount) -> Iterator[None]:
        self.emulator.down = True
        try:
            yield
        finally:
            self.emulator.down = False
