"""Kaspi's side, on its emulator. A payment is created as a QR payment; the payer pays it, and
Kaspi tells Kassa through check/pay: its `pay`, once per Kaspi transaction, is the
notification (believed for the account's basic auth; a forgery lacks it). A declined QR
payment, and a paid one whose `pay` never came, are found by reconciliation polling the
QR payment's status."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Self

from kassa.domain.money import format_major
from kassa.providers.kaspi import KaspiProvider
from tests.conformance.drivers.base import Account, Driver, Reply, at_once
from tests.emulators.kaspi import CheckPay, KaspiEmulator, running
from tests.helpers import make_provider_shop
from tests.live import LiveServer


@dataclass(frozen=True)
class KaspiAccount(Account):
    user: str
    password: str


@dataclass(frozen=True)
class KaspiNotice:
    request: CheckPay
    password: str


def settings(emulator: KaspiEmulator, **more: str) -> dict[str, str]:
    """A Kaspi account's settings at `emulator`, with check/pay on."""
    api_key, device_token = emulator.add_device()
    return {
        "api_key": api_key,
        "device_token": device_token,
        "check_pay": "true",
        "api_url": emulator.base_url,
        **more,
    }


def pay_request(payment: dict[str, Any], txn_id: str, amount: int | None = None) -> CheckPay:
    """Kaspi's `pay` of `payment` in its transaction `txn_id` (for `amount`, by default the
    payment's)."""
    return CheckPay(
        command="pay",
        txn_id=txn_id,
        account=payment["id"],
        sum=format_major(payment["amount"] if amount is None else amount, "KZT"),
        txn_date=datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
    )


class KaspiDriver(Driver[KaspiAccount, KaspiNotice]):
    provider = KaspiProvider

    def __init__(self, server: LiveServer, emulator: KaspiEmulator) -> None:
        super().__init__(server)
        self.emulator = emulator

    @classmethod
    @contextmanager
    def running(cls, server: LiveServer) -> Iterator[Self]:
        with running() as emulator:
            yield cls(server, emulator)

    def connect(self) -> KaspiAccount:
        user, password = "kaspi", secrets.token_hex(8)
        shop = make_provider_shop(
            self.server,
            "kaspi",
            settings(self.emulator, basic_user=user, basic_password=password),
        )
        return KaspiAccount(shop.name, shop.key, user, password)

    def payment_fields(self, account: KaspiAccount) -> dict[str, Any]:
        return {"currency": "KZT"}

    def pay(self, account: KaspiAccount, payment: dict[str, Any]) -> None:
        self.send(account, self.pay_silently(account, payment))

    def pay_silently(self, account: KaspiAccount, payment: dict[str, Any]) -> KaspiNotice:
        paid = self.emulator.pay(payment["provider_payment_id"])
        return KaspiNotice(pay_request(payment, paid["TransactionId"]), account.password)

    def decline(self, account: KaspiAccount, payment: dict[str, Any]) -> None:
        self.emulator.decline(payment["provider_payment_id"])
        self.find_lost(account, payment, None)  # type: ignore[arg-type]

    def send(self, account: KaspiAccount, notice: KaspiNotice, *, copies: int = 1) -> list[Reply]:
        url = f"{self.server.url}/hooks/kaspi/{account.name}"
        answers = at_once(
            copies,
            lambda: self.emulator.call(url, notice.request, auth=(account.user, notice.password)),
        )
        return [Reply(_taken(answer.status_code, answer.json()), answer.text) for answer in answers]

    def forge(self, account: KaspiAccount, notice: KaspiNotice) -> KaspiNotice:
        return replace(notice, password="not-" + notice.password)

    @contextmanager
    def api_down(self, account: KaspiAccount) -> Iterator[None]:
        self.emulator.down = True
        try:
            yield
        finally:
            self.emulator.down = False


def _taken(status: int, answer: Any) -> bool:
    """Kaspi repeats a `pay` answered "processing" (4) or not answered 200."""
    return status == 200 and answer.get("result") != 4
