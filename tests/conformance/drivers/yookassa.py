"""YooKassa's side, on its emulator. Its notifications are not signed: they are believed for
the address they come from (one of YooKassa's, named by a proxy Kassa trusts), and only as
far as YooKassa's API bears them out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Self

import httpx

from kassa.providers.yookassa import YooKassaProvider
from tests.conformance.drivers.base import Account, Driver, Reply, at_once
from tests.emulators.yookassa import YOOKASSA_ADDRESS, YooKassaEmulator, running
from tests.helpers import make_provider_shop
from tests.live import LiveServer

#: An address YooKassa does not send from (TEST-NET-3).
ELSEWHERE = "203.0.113.7"


@dataclass(frozen=True)
class YooKassaAccount(Account):
    shop_id: str
    secret_key: str


@dataclass(frozen=True)
class YooKassaNotice:
    event: str
    body: bytes
    sender: str = YOOKASSA_ADDRESS


class YooKassaDriver(Driver[YooKassaAccount, YooKassaNotice]):
    provider = YooKassaProvider

    def __init__(self, server: LiveServer, emulator: YooKassaEmulator) -> None:
        super().__init__(server)
        self.emulator = emulator

    @classmethod
    @contextmanager
    def running(cls, server: LiveServer) -> Iterator[Self]:
        with running() as emulator:
            yield cls(server, emulator)

    def connect(self) -> YooKassaAccount:
        shop_id, secret_key = self.emulator.add_shop()
        settings = {
            "shop_id": shop_id,
            "secret_key": secret_key,
            "api_url": f"{self.emulator.base_url}/v3",
        }
        shop = make_provider_shop(self.server, "yookassa", settings)
        return YooKassaAccount(shop.name, shop.key, shop_id, secret_key)

    def pay(self, account: YooKassaAccount, payment: dict[str, Any]) -> None:
        self.send(account, self.pay_silently(account, payment))

    def pay_silently(self, account: YooKassaAccount, payment: dict[str, Any]) -> YooKassaNotice:
        paid = self.emulator.pay(payment["provider_payment_id"])
        held = paid["status"] == "waiting_for_capture"
        return self._notice(
            "payment.waiting_for_capture" if held else "payment.succeeded", paid["id"]
        )

    def decline(self, account: YooKassaAccount, payment: dict[str, Any]) -> None:
        declined = self.emulator.decline(payment["provider_payment_id"])
        self.send(account, self._notice("payment.canceled", declined["id"]))

    def send(
        self, account: YooKassaAccount, notice: YooKassaNotice, *, copies: int = 1
    ) -> list[Reply]:
        answers = at_once(
            copies,
            lambda: self.emulator.notify(
                self.server.url,
                account.name,
                notice.event,
                "-",
                body=notice.body,
                forwarded_for=notice.sender,
            ),
        )
        return [Reply(answer.status_code == 200, answer.text) for answer in answers]

    def forge(self, account: YooKassaAccount, notice: YooKassaNotice) -> YooKassaNotice:
        return replace(notice, sender=ELSEWHERE)

    def capture_at_provider(
        self, account: YooKassaAccount, payment: dict[str, Any]
    ) -> YooKassaNotice:
        ref = payment["provider_payment_id"]
        captured = httpx.post(
            f"{self.emulator.base_url}/v3/payments/{ref}/capture",
            auth=(account.shop_id, account.secret_key),
            headers={"Idempotence-Key": str(uuid.uuid4())},
            json={},
        )
        assert captured.json()["status"] == "succeeded", captured.text
        return self._notice("payment.succeeded", ref)

    def follow_ups(self, account: YooKassaAccount) -> list[Reply]:
        """YooKassa notifies every state its payments and refunds come to, whoever moved
        them: here, the state each of the shop's objects is in now."""
        notices = []
        for payment in self.emulator.payments_of(account.shop_id):
            event = {
                "succeeded": "payment.succeeded",
                "canceled": "payment.canceled",
                "waiting_for_capture": "payment.waiting_for_capture",
            }.get(payment["status"])
            if event is not None:
                notices.append(self._notice(event, payment["id"]))
            notices += [
                self._notice(f"refund.{refund['status']}", refund["id"])
                for refund in list(self.emulator.refunds.values())
                if refund["payment_id"] == payment["id"] and refund["status"] != "pending"
            ]
        return [reply for notice in notices for reply in self.send(account, notice)]

    @contextmanager
    def api_down(self, account: YooKassaAccount) -> Iterator[None]:
        self.emulator.down = True
        try:
            yield
        finally:
            self.emulator.down = False

    def _notice(self, event: str, object_id: str) -> YooKassaNotice:
        return YooKassaNotice(event, self.emulator.notification(event, object_id))
