"""Kaspi's provider: the QR partner API's calls (create, status, return) and the check/pay
requests Kaspi makes to Kassa. The wire formats are in `wire.py`; Kassa's record of check/pay
transactions (and the answers that read it) in `kassa.services.providers.kaspi`.

Every fact about Kaspi here is from third-party code; those NOT FOUND are settings:

- the production host of the QR API (`api_url`; the default is the certification host);
- the client certificate of the r2/r3 schemes (`client_cert`, a PEM path: unverified);
- where check/pay requests come from (`networks`, required for a live account) and whether
  they carry basic auth (`basic_user`/`basic_password`).
"""

from __future__ import annotations

import base64
import ipaddress
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from kassa.domain import (
    AmountInvalid,
    Money,
    NotificationRejected,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderDeclined,
    ProviderUnavailable,
    Refund,
    RefundStatus,
    RefundUpdate,
)
from kassa.domain.money import format_major
from kassa.domain.translatable import N_
from kassa.providers import wire as common
from kassa.providers.base import (
    Capabilities,
    CredentialField,
    InboundRequest,
    IPNetwork,
    Notification,
    PaymentCheck,
    PaymentRequest,
    Provider,
    ProviderPayment,
    QrConfirmation,
    RedirectConfirmation,
    SimulatedNotification,
    send,
)
from kassa.providers.kaspi import wire
from kassa.providers.kaspi.wire import CURRENCY, CheckPay, Command

#: The failure code of a payment Kaspi reports as `Error` (it gives no reason).
ERROR_CODE = "kaspi_error"


class KaspiProvider(Provider):
    """Kaspi (Kazakhstan): QR payments and the check/pay protocol; see the module's text."""

    name = "kaspi"
    title = "Kaspi"
    #: Kaspi's certification host; the production host is NOT FOUND: set `api_url`.
    default_api_url = "https://qrapi-cert-ip.kaspi.kz"
    methods = frozenset({"qr"})
    currencies = frozenset({CURRENCY})
    capabilities = Capabilities(refunds=True, partial_refunds=True)
    #: Kaspi does not notify about QR payments: the merchant asks about each one every
    #: `StatusPollingInterval` Kaspi returns with it (`ProviderPayment.poll_every`; its unit
    #: is NOT FOUND, the wrapper's examples read as seconds); this when Kaspi gave none.
    poll_interval = timedelta(seconds=5)
    simulated_events = ("check", "pay")
    credential_fields = (
        CredentialField(
            "api_key", N_("The Api-Key Kaspi issued for the QR partner API."), secret=True
        ),
        CredentialField(
            "device_token",
            N_("The DeviceToken of the device registered at Kaspi (device/register)."),
            secret=True,
        ),
        CredentialField(
            "confirmation",
            N_("What the payer gets: qr (a QR code to scan) or link (a pay.kaspi.kz link)."),
            required=False,
            default="qr",
        ),
        CredentialField(
            "check_pay",
            N_("true to take Kaspi's check/pay requests at Kassa's hook URL."),
            required=False,
            default="false",
        ),
        CredentialField(
            "networks",
            N_(
                "Comma-separated networks Kaspi's check/pay requests come from (ask Kaspi); "
                "required for a live account's check/pay."
            ),
            required=False,
        ),
        CredentialField(
            "basic_user",
            N_("The user of the basic auth agreed with Kaspi for check/pay, if any."),
            required=False,
        ),
        CredentialField(
            "basic_password",
            N_("Its password."),
            secret=True,
            required=False,
        ),
        CredentialField(
            "client_cert",
            N_(
                "Path of a PEM file with the client certificate and key, for Kaspi's r2/r3 "
                "schemes (unverified)."
            ),
            required=False,
        ),
        CredentialField(
            "organization_bin",
            N_("The organization's BIN, for the r3 (enhanced) scheme and refunds."),
            required=False,
        ),
    )

    def _setting(self, name: str) -> str:
        value = self.account.credentials.get(name)
        if value:
            return value
        default = next(f.default for f in self.credential_fields if f.name == name)
        return default or ""

    @property
    def _scheme(self) -> str:
        """The path prefix of Kaspi's authentication scheme: r1 (Api-Key), r2 (a client
        certificate), r3 (a certificate and the organization's BIN)."""
        if not self._setting("client_cert"):
            return "r1"
        return "r3" if self._setting("organization_bin") else "r2"

    async def _call(self, method: str, path: str, *, what: str, body: Any = None) -> Any:
        """One QR API call (`path` after the scheme's prefix); `Data` of its answer."""
        headers = {"X-Request-ID": str(uuid.uuid4())}
        if self._scheme == "r1":
            headers["Api-Key"] = self._setting("api_key")
        url = f"{self.api_url}/{self._scheme}{path}"
        certificate = self._setting("client_cert")
        if certificate:
            async with httpx.AsyncClient(cert=certificate, timeout=self.http.timeout) as http:
                response = await send(http, method, url, json=body, headers=headers)
        else:
            response = await send(self.http, method, url, json=body, headers=headers)
        try:
            envelope = wire.read_json(response.content)
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            if response.status_code >= 400:
                raise ProviderDeclined(f"Kaspi refused {what} with HTTP {response.status_code}")
            raise ProviderUnavailable("Kaspi answered something that is not JSON")
        try:
            return wire.data(envelope, what=what)
        except common.MALFORMED as exc:
            if isinstance(exc, ProviderDeclined):
                raise
            raise ProviderUnavailable(f"Kaspi answered something unreadable: {exc!r}") from exc

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        """A QR code (`qr/create`) or a payment link (`qr/create-link`), as the account's
        `confirmation` says. Whether Kaspi de-duplicates on `ExternalId` is NOT FOUND: a
        retried create may make a second QR code, which expires unpaid."""
        body: dict[str, Any] = {
            "DeviceToken": self._setting("device_token"),
            "Amount": wire.tenge(request.amount),
            "ExternalId": request.payment_id,
        }
        if self._setting("organization_bin"):
            body["OrganizationBin"] = self._setting("organization_bin")
        if self._setting("confirmation") == "link":
            found = await self._call("POST", "/v01/qr/create-link", what="the link", body=body)
            return common.read_answer(_created_link, found, provider=self.title)
        found = await self._call("POST", "/v01/qr/create", what="the QR code", body=body)
        return common.read_answer(_created_qr, found, provider=self.title)

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        reference = self._ref(payment)
        found = await self._call(
            "GET", f"/v02/payment/status/{quote(reference, safe='')}", what="the status"
        )
        return common.read_answer(
            lambda document: _status_update(document, reference), found, provider=self.title
        )

    async def refund(self, payment: Payment, refund: Refund) -> RefundUpdate:
        """A return of `refund.amount` (`payment/return`, as the third-party wrapper's
        enhanced scheme has it: unverified). Kaspi answers a return's id, taken as done; a
        refund Kassa has that id for is not asked again."""
        if refund.provider_refund_id:
            return self._refunded(refund, refund.provider_refund_id)
        reference = self._ref(payment)
        try:
            amount = wire.tenge(refund.amount)
        except AmountInvalid as exc:  # the refund is then failed, not left pending
            raise ProviderDeclined(exc.message) from exc
        body: dict[str, Any] = {
            "DeviceToken": self._setting("device_token"),
            "QrPaymentId": int(reference) if reference.isdigit() else reference,
            "Amount": amount,
        }
        if self._setting("organization_bin"):
            body["OrganizationBin"] = self._setting("organization_bin")
        found = await self._call("POST", "/v01/payment/return", what="the return", body=body)
        operation = common.read_answer(
            lambda document: wire.identifier(document, "ReturnOperationId"),
            found,
            provider=self.title,
        )
        return self._refunded(refund, operation)

    @staticmethod
    def _refunded(refund: Refund, operation: str) -> RefundUpdate:
        return RefundUpdate(
            status=RefundStatus.SUCCEEDED,
            amount=refund.amount,
            refund_id=refund.id,
            provider_refund_id=operation,
        )

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        """A check/pay request: a check asks whether Kassa takes the payment `account` for
        `sum`; a pay says Kaspi took it, once per `txn_id` (its event's identity)."""
        if self._setting("check_pay") != "true":
            raise NotificationRejected("check/pay is not enabled for this Kaspi account")
        if verify:
            self._check_caller(request)
        try:
            asked = wire.read_check_pay(request.query)
        except common.MALFORMED as exc:
            raise NotificationRejected(f"not a Kaspi check/pay request: {exc!r}") from exc
        if asked.command == Command.CHECK:
            return Notification(None, check=PaymentCheck(asked.account, asked.sum))
        return Notification(f"pay:{asked.txn_id}", updates=(_paid(asked),))

    def _check_caller(self, request: InboundRequest) -> None:
        """Kaspi's check/pay requests are not signed: they are believed for their source
        (`networks`; any source for a test account without it) and, where agreed, basic
        auth. Both are NOT FOUND in anything public, so they are the account's settings."""
        if request.method != "GET":
            raise NotificationRejected("Kaspi's check/pay requests are GET requests")
        networks = self._networks()
        if networks:
            self.check_source(request, networks)
        elif not self.account.test:
            raise NotificationRejected(
                "a live Kaspi account takes check/pay only from its networks= allow-list"
            )
        user = self._setting("basic_user")
        if user:
            token = f"{user}:{self._setting('basic_password')}".encode()
            expected = "Basic " + base64.b64encode(token).decode()
            if not common.signature_matches(request.headers.get("authorization"), expected):
                raise NotificationRejected("Kaspi check/pay request without the agreed basic auth")

    def _networks(self) -> Sequence[IPNetwork]:
        listed = [item.strip() for item in self._setting("networks").split(",") if item.strip()]
        try:
            return [ipaddress.ip_network(item, strict=False) for item in listed]
        except ValueError as exc:
            raise NotificationRejected(f"the account's networks= cannot be read: {exc}") from exc

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        """The check or pay Kaspi would send for `payment`'s whole amount, with a `txn_id`
        made from the payment's id (so a repeated simulated pay is the same transaction)."""
        query = {
            "command": Command(event).value,
            "txn_id": f"sim{payment.id}",
            "account": payment.id,
            "sum": format_major(payment.amount, payment.currency),
        }
        if event == Command.PAY:
            query["txn_date"] = payment.updated_at.strftime("%Y%m%d%H%M%S")
        headers: dict[str, str] = {}
        user = self._setting("basic_user")
        if user:
            token = f"{user}:{self._setting('basic_password')}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(token).decode()
        return SimulatedNotification(method="GET", headers=headers, query=urlencode(query))

    @staticmethod
    def _ref(payment: Payment) -> str:
        if not payment.provider_payment_id:
            raise ProviderDeclined("The payment has no Kaspi QR payment id")
        return payment.provider_payment_id


def _paid(asked: CheckPay) -> PaymentUpdate:
    """A pay: the payment `account` is paid for `sum` (which Kassa checks against the
    payment's amount: another sum credits nothing)."""
    return PaymentUpdate(status=PaymentStatus.SUCCEEDED, payment_id=asked.account, amount=asked.sum)


def _created_qr(document: Any) -> ProviderPayment:
    token = common.text(document, "QrToken")
    assert token is not None
    return ProviderPayment(
        provider_payment_id=wire.identifier(document, "QrPaymentId"),
        confirmation=QrConfirmation(payload=token),
        poll_every=wire.polling_interval(document, "QrPaymentBehaviorOptions"),
    )


def _created_link(document: Any) -> ProviderPayment:
    link = common.text(document, "PaymentLink")
    assert link is not None
    if not link.startswith("https://"):
        raise ValueError("PaymentLink is not an https URL")
    return ProviderPayment(
        provider_payment_id=wire.identifier(document, "PaymentId"),
        confirmation=RedirectConfirmation(url=link),
        poll_every=wire.polling_interval(document, "PaymentBehaviorOptions"),
    )


def _status_update(document: Any, reference: str) -> PaymentUpdate:
    status = wire.read_status(document["Status"])
    amount = document.get("Amount")
    money = Money(wire.answer_tiyn(amount), CURRENCY) if amount is not None else None
    return PaymentUpdate(
        status=status,
        provider_payment_id=reference,
        amount=money if status == PaymentStatus.SUCCEEDED else None,
        failure_code=ERROR_CODE if status == PaymentStatus.FAILED else None,
        failure_message="Kaspi reports an error" if status == PaymentStatus.FAILED else None,
    )
