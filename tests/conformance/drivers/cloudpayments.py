"""CloudPayments' side, on its emulator. The payer pays in CloudPayments' widget, so creating a
payment calls no API: CloudPayments asks Kassa first (Check), then notifies the outcome (Pay,
Fail), signed with the site's API secret; its API confirms what a notification says."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Self

import httpx

from kassa.providers.cloudpayments import CloudPaymentsProvider
from tests.conformance.drivers.base import Account, Driver, Reply, at_once
from tests.emulators.cloudpayments import (
    CloudPaymentsEmulator,
    Sent,
    Site,
    connect,
    encode_json,
    hmac_b64,
    running,
)
from tests.live import LiveServer


@dataclass(frozen=True)
class CloudPaymentsAccount(Account):
    site: Site


class CloudPaymentsDriver(Driver[CloudPaymentsAccount, Sent]):
    provider = CloudPaymentsProvider
    creates_at_provider = False

    def __init__(self, server: LiveServer, emulator: CloudPaymentsEmulator) -> None:
        super().__init__(server)
        self.emulator = emulator

    @classmethod
    @contextmanager
    def running(cls, server: LiveServer) -> Iterator[Self]:
        with running() as emulator:
            yield cls(server, emulator)

    def connect(self) -> CloudPaymentsAccount:
        site = connect(self.server, self.emulator)
        return CloudPaymentsAccount(site.name, site.shop.key, site)

    def pay(self, account: CloudPaymentsAccount, payment: dict[str, Any]) -> None:
        attempt = account.site.pay(payment)
        assert attempt.check_code == 0, attempt.check

    def pay_silently(self, account: CloudPaymentsAccount, payment: dict[str, Any]) -> Sent:
        attempt = account.site.pay(payment, send_outcome=False)
        assert attempt.outcome is not None, attempt.check
        return attempt.outcome

    def decline(self, account: CloudPaymentsAccount, payment: dict[str, Any]) -> None:
        account.site.pay(payment, decline=True)

    def send(self, account: CloudPaymentsAccount, notice: Sent, *, copies: int = 1) -> list[Reply]:
        return _replies(at_once(copies, notice.send))

    def forge(self, account: CloudPaymentsAccount, notice: Sent) -> Sent:
        """Signed with another secret, in every signature header the genuine one has."""
        other = "not-" + secrets.token_hex(16)
        headers = {
            name: hmac_b64(other, notice.content) if name.endswith("Content-HMAC") else value
            for name, value in notice.headers.items()
        }
        return replace(notice, headers=headers)

    def capture_at_provider(self, account: CloudPaymentsAccount, payment: dict[str, Any]) -> Sent:
        (held,) = [
            t
            for t in self.emulator.transactions.values()
            if t.invoice_id == payment["id"] and t.status == "Authorized"
        ]
        confirmed = httpx.post(
            f"{self.emulator.url}/payments/confirm",
            content=encode_json({"TransactionId": held.id, "Amount": held.amount}),
            headers={"Content-Type": "application/json"},
            auth=(account.site.public_id, account.site.api_secret),
        )
        assert confirmed.json()["Success"] is True, confirmed.text
        # CloudPayments now sends Confirm: taken here, to deliver when the scenario says.
        self.emulator.outbox.remove((held, "confirm"))
        return self.emulator.build(held, "confirm")

    def follow_ups(self, account: CloudPaymentsAccount) -> list[Reply]:
        return _replies(account.site.deliver())

    @contextmanager
    def api_down(self, account: CloudPaymentsAccount) -> Iterator[None]:
        self.emulator.down = True
        try:
            yield
        finally:
            self.emulator.down = False


def _replies(answers: list[httpx.Response]) -> list[Reply]:
    """CloudPayments counts a notification as taken when it is answered 200 `{"code": 0}`."""
    return [
        Reply(answer.status_code == 200 and answer.json() == {"code": 0}, answer.text)
        for answer in answers
    ]
