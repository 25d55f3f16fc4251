"""Crypto Pay's side, on its emulator. Its webhooks are signed with the app's token; it has no
declines: an invoice nobody pays expires, silently, and Kassa learns it by asking
(`getInvoices`), so a "decline" here is an expiry found by reconciliation."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Self

from kassa.providers.cryptopay import CryptoPayProvider
from kassa.services.payments import reconciliation
from tests.conformance.drivers.base import Account, Driver, Reply, at_once
from tests.emulators.cryptopay import App, CryptoPayEmulator, Sent, running, signature
from tests.helpers import later, make_provider_shop
from tests.live import LiveServer


@dataclass(frozen=True)
class CryptoPayAccount(Account):
    app: App


class CryptoPayDriver(Driver[CryptoPayAccount, Sent]):
    provider = CryptoPayProvider
    declined_status = "canceled"

    def __init__(self, server: LiveServer, emulator: CryptoPayEmulator) -> None:
        super().__init__(server)
        self.emulator = emulator

    @classmethod
    @contextmanager
    def running(cls, server: LiveServer) -> Iterator[Self]:
        with running() as emulator:
            yield cls(server, emulator)

    def connect(self) -> CryptoPayAccount:
        app = self.emulator.add_app()
        shop = make_provider_shop(
            self.server, "cryptopay", {"token": app.token, "api_url": self.emulator.api_url}
        )
        app.webhook_url = f"{self.server.url}/hooks/cryptopay/{shop.name}"
        return CryptoPayAccount(shop.name, shop.key, app)

    def pay(self, account: CryptoPayAccount, payment: dict[str, Any]) -> None:
        (reply,) = self.send(account, self.pay_silently(account, payment))
        assert reply.taken, reply.raw

    def pay_silently(self, account: CryptoPayAccount, payment: dict[str, Any]) -> Sent:
        return self.emulator.pay(payment["provider_payment_id"], send=False)

    def decline(self, account: CryptoPayAccount, payment: dict[str, Any]) -> None:
        self.emulator.expire(payment["provider_payment_id"])
        soon = later(self.server, timedelta(minutes=2))
        self.server.call(reconciliation.reconcile_due(soon, limit=10_000))

    def send(self, account: CryptoPayAccount, notice: Sent, *, copies: int = 1) -> list[Reply]:
        answers = at_once(copies, notice.send)
        return [Reply(answer.status_code == 200, answer.text) for answer in answers]

    def forge(self, account: CryptoPayAccount, notice: Sent) -> Sent:
        """Signed with a token that is not the app's."""
        other = f"{account.app.app_id}:AA{secrets.token_urlsafe(27)}"
        headers = {**notice.headers, "crypto-pay-api-signature": signature(other, notice.body)}
        return replace(notice, headers=headers)

    @contextmanager
    def api_down(self, account: CryptoPayAccount) -> Iterator[None]:
        self.emulator.down = True
        try:
            yield
        finally:
            self.emulator.down = False
