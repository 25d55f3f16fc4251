"""1Plat's side, on its emulator. Its callbacks are signed with the shop's secret (MD5
`signature_v2` and HMAC `signature`); Kassa then re-reads the order from 1Plat's API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self

from kassa.providers.oneplat import OnePlatProvider
from tests.conformance.drivers.base import Account, Driver, Reply, at_once
from tests.emulators.oneplat import OnePlatEmulator, running
from tests.helpers import make_provider_shop
from tests.live import LiveServer


@dataclass(frozen=True)
class OnePlatAccount(Account):
    shop_id: str
    secret: str


@dataclass(frozen=True)
class OnePlatNotice:
    guid: str
    body: bytes


class OnePlatDriver(Driver[OnePlatAccount, OnePlatNotice]):
    provider = OnePlatProvider

    def __init__(self, server: LiveServer, emulator: OnePlatEmulator) -> None:
        super().__init__(server)
        self.emulator = emulator

    @classmethod
    @contextmanager
    def running(cls, server: LiveServer) -> Iterator[Self]:
        with running() as emulator:
            yield cls(server, emulator)

    def connect(self) -> OnePlatAccount:
        shop_id, secret = self.emulator.add_shop()
        settings = {"shop_id": shop_id, "secret": secret, "api_url": self.emulator.base_url}
        shop = make_provider_shop(self.server, "oneplat", settings)
        return OnePlatAccount(shop.name, shop.key, shop_id, secret)

    def pay(self, account: OnePlatAccount, payment: dict[str, Any]) -> None:
        self.send(account, self.pay_silently(account, payment))

    def pay_silently(self, account: OnePlatAccount, payment: dict[str, Any]) -> OnePlatNotice:
        guid = payment["provider_payment_id"]
        self.emulator.pay(guid)
        return OnePlatNotice(guid, self.emulator.callback(guid))

    def decline(self, account: OnePlatAccount, payment: dict[str, Any]) -> None:
        guid = payment["provider_payment_id"]
        self.emulator.no_requisites(guid)
        self.send(account, OnePlatNotice(guid, self.emulator.callback(guid)))

    def send(
        self, account: OnePlatAccount, notice: OnePlatNotice, *, copies: int = 1
    ) -> list[Reply]:
        answers = at_once(
            copies, lambda: self.emulator.notify(self.server.url, account.name, notice.body)
        )
        return [Reply(answer.status_code == 200, answer.text) for answer in answers]

    def forge(self, account: OnePlatAccount, notice: OnePlatNotice) -> OnePlatNotice:
        return OnePlatNotice(notice.guid, self.emulator.callback(notice.guid, secret="guessed"))

    @contextmanager
    def api_down(self, account: OnePlatAccount) -> Iterator[None]:
        self.emulator.down = True
        try:
            yield
        finally:
            self.emulator.down = False
