"""USDT-TRC20's side, on a TronGrid emulator. The "provider" that notifies Kassa is Kassa's own
watcher: the payer's transfer is appended to the emulated chain, and the watcher (run once)
finds it and delivers its signed notification through the core's ingestion path. A notice
here is that notification, which `send` delivers as the watcher does (`inbound.receive`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Self

from kassa.domain import ProviderAccount
from kassa.domain.money import from_decimal
from kassa.providers import InboundRequest, Verdict
from kassa.providers.tron_usdt import SIGNATURE_HEADER, TronUsdtProvider, sign
from kassa.services.notifications import inbound
from kassa.services.providers import tron_usdt as state
from tests.conformance.drivers.base import Account, Driver, Reply
from tests.emulators.tron_usdt import TronGridEmulator, new_address, running
from tests.helpers import later, make_provider_shop
from tests.live import LiveServer


@dataclass(frozen=True)
class TronAccount(Account):
    address: str
    account: ProviderAccount


@dataclass(frozen=True)
class TronNotice:
    headers: dict[str, str]
    body: bytes


class TronUsdtDriver(Driver[TronAccount, TronNotice]):
    provider = TronUsdtProvider
    creates_at_provider = False
    declines = False

    def __init__(self, server: LiveServer, emulator: TronGridEmulator) -> None:
        super().__init__(server)
        self.emulator = emulator

    @classmethod
    @contextmanager
    def running(cls, server: LiveServer) -> Iterator[Self]:
        with running() as emulator:
            yield cls(server, emulator)

    def connect(self) -> TronAccount:
        address = new_address()
        settings = {"address": address, "api_url": self.emulator.base_url}
        shop = make_provider_shop(self.server, "tron_usdt", settings)
        return TronAccount(shop.name, shop.key, address, shop.account)

    def payment_fields(self, account: TronAccount) -> dict[str, Any]:
        return {"currency": "USDT"}

    def pay(self, account: TronAccount, payment: dict[str, Any]) -> None:
        self.transfer(account, payment)
        self.watch()

    def transfer(self, account: TronAccount, payment: dict[str, Any]) -> dict[str, Any]:
        """The payer sends the payment's exact amount; the chain confirms it."""
        amount = from_decimal(payment["confirmation"]["amount"], "USDT")
        return self.emulator.transfer(account.address, amount)

    def watch(self) -> int:
        """The watcher, once (its clock ahead, so every account's look is due)."""
        return self.server.call(state.watch(later(self.server, timedelta(minutes=3))))

    def pay_silently(self, account: TronAccount, payment: dict[str, Any]) -> TronNotice:
        entry = self.transfer(account, payment)
        gateway = self.server.ctx.gateways.for_account(account.account)
        assert isinstance(gateway, TronUsdtProvider)
        notice = gateway.notice(payment["id"], entry)
        return TronNotice(dict(notice.headers), notice.body)

    def decline(self, account: TronAccount, payment: dict[str, Any]) -> None:
        raise NotImplementedError("a transfer on a chain cannot be declined")

    def send(self, account: TronAccount, notice: TronNotice, *, copies: int = 1) -> list[Reply]:
        request = InboundRequest(method="POST", headers=notice.headers, body=notice.body)

        async def deliver() -> list[inbound.Result]:
            ctx = self.server.ctx
            return list(
                await asyncio.gather(
                    *(
                        inbound.receive(
                            ctx, provider="tron_usdt", shop_ref=account.name, request=request
                        )
                        for _ in range(copies)
                    )
                )
            )

        results = self.server.call(deliver())
        return [
            Reply(result.verdict in (Verdict.ACCEPTED, Verdict.DUPLICATE), result)
            for result in results
        ]

    def forge(self, account: TronAccount, notice: TronNotice) -> TronNotice:
        """Signed with a secret that is not the account's."""
        headers = {**notice.headers, SIGNATURE_HEADER: sign("not-the-secret", notice.body)}
        return replace(notice, headers=headers)
