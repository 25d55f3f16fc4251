"""The sandbox's side: its checkout page is the payer, its acquirer (served by Kassa under
`/sandbox/api`) the provider's records and cabinet. The acquirer notifies only about what the
payer does, and answers Kassa's own calls without a notification."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from kassa.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, sign
from kassa.services.shops import shops
from tests.conformance.drivers.base import Account, Driver, Reply, at_once
from tests.helpers import (
    ShopSetup,
    checkout,
    make_shop,
    paid_silently_at_the_sandbox,
    sandbox_notification,
)
from tests.live import free_socket


@dataclass(frozen=True)
class SandboxAccount(Account):
    setup: ShopSetup


@dataclass(frozen=True)
class SandboxNotice:
    body: bytes
    headers: dict[str, str]


class SandboxDriver(Driver[SandboxAccount, SandboxNotice]):
    provider = SandboxProvider

    def connect(self) -> SandboxAccount:
        setup = make_shop(self.server)
        return SandboxAccount(setup.name, setup.key, setup)

    def pay(self, account: SandboxAccount, payment: dict[str, Any]) -> None:
        action = "pay" if payment["capture"] else "authorize"
        assert checkout(self.server, payment, action).status_code == 200

    def pay_silently(self, account: SandboxAccount, payment: dict[str, Any]) -> SandboxNotice:
        held = not payment["capture"]
        paid_silently_at_the_sandbox(self.server, payment, hold=held)
        return self._notice(account, payment, "authorized" if held else "succeeded")

    def decline(self, account: SandboxAccount, payment: dict[str, Any]) -> None:
        assert checkout(self.server, payment, "decline").status_code == 200

    def send(
        self, account: SandboxAccount, notice: SandboxNotice, *, copies: int = 1
    ) -> list[Reply]:
        url = f"{self.server.url}/hooks/sandbox/{account.name}"
        answers = at_once(
            copies, lambda: httpx.post(url, content=notice.body, headers=notice.headers)
        )
        return [Reply(answer.status_code == 200, answer.text) for answer in answers]

    def forge(self, account: SandboxAccount, notice: SandboxNotice) -> SandboxNotice:
        forged = sign("sbx_sk_" + secrets.token_urlsafe(24), notice.body)
        return SandboxNotice(notice.body, {**notice.headers, SIGNATURE_HEADER: forged})

    def capture_at_provider(
        self, account: SandboxAccount, payment: dict[str, Any]
    ) -> SandboxNotice:
        captured = httpx.post(
            f"{self.server.url}/sandbox/api/payments/{payment['provider_payment_id']}/capture",
            auth=(account.setup.shop.id, account.setup.secret),
            headers={"Idempotence-Key": secrets.token_hex(8)},
            json={},
        )
        assert captured.json()["status"] == "succeeded", captured.text
        return self._notice(account, payment, "succeeded")

    @contextmanager
    def api_down(self, account: SandboxAccount) -> Iterator[None]:
        with free_socket() as unused:  # bound, never listening: connections are refused
            self._point_at(account, f"http://127.0.0.1:{unused.getsockname()[1]}/sandbox/api")
            try:
                yield
            finally:
                self._point_at(account, "")  # back to Kassa's own acquirer

    def _point_at(self, account: SandboxAccount, api_url: str) -> None:
        self.server.call(
            shops.configure_provider(
                self.server.ctx,
                shop=account.setup.shop,
                provider="sandbox",
                settings={"api_url": api_url},
            )
        )

    @staticmethod
    def _notice(account: SandboxAccount, payment: dict[str, Any], status: str) -> SandboxNotice:
        body, headers = sandbox_notification(account.setup.secret, payment, status)
        return SandboxNotice(body, headers)
