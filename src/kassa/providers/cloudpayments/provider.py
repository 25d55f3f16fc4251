"""CloudPayments' provider: the HTTP calls, and what Kassa answers to its notifications.

The payer pays in CloudPayments' widget on Kassa's page `/pay/{payment id}`; Kassa's payment id
is the widget's `invoiceId`. So `create` calls no API: CloudPayments first hears of the payment
when the payer submits the card, and its TransactionId becomes Kassa's `provider_payment_id`
when the Pay notification arrives. The wire format is in `wire.py` and `notifications.py`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, assert_never
from urllib.parse import urlencode, urlsplit

import httpx

from kassa.domain import (
    NotificationRejected,
    ParameterInvalid,
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
from kassa.providers.base import (
    Capabilities,
    CheckResult,
    CredentialField,
    HookReply,
    InboundRequest,
    Notification,
    PayerPage,
    PaymentRequest,
    Provider,
    ProviderPayment,
    RedirectConfirmation,
    SimulatedNotification,
    Verdict,
    WidgetConfirmation,
    send,
)
from kassa.providers.cloudpayments.notifications import (
    KIND_RULES,
    check_kind,
    confirms,
    read_fields,
    read_notification,
)
from kassa.providers.cloudpayments.receipts import receipt_data
from kassa.providers.cloudpayments.wire import (
    CURRENCIES,
    NOTIFICATION_KINDS,
    OTHER_KINDS,
    REFUND_DATA_KEY,
    CheckCode,
    Envelope,
    Fields,
    Transaction,
    TransactionStatus,
    check_code,
    read_transaction,
    sign,
    transaction_number,
    url_decoded,
    verify_signature,
    wire_amount,
)
from kassa.providers.wire import MALFORMED, json_body

DEFAULT_WIDGET_URL = "https://widget.cloudpayments.ru/bundles/cloudpayments.js"


class CloudPaymentsProvider(Provider):
    """CloudPayments through its widget and API; see the module docstring."""

    name = "cloudpayments"
    #: X-Request-ID results are kept for one hour ([official copy]).
    idempotency_window = timedelta(hours=1)
    title = "CloudPayments"
    default_api_url = "https://api.cloudpayments.ru"
    # The widget offers the payer other ways too (what it shows is set in CloudPayments'
    # cabinet); Kassa cannot steer that from here, so it promises only cards.
    methods = frozenset({"card"})
    currencies = CURRENCIES
    capabilities = Capabilities(
        two_stage=True, partial_capture=True, cancel=True, refunds=True, partial_refunds=True
    )
    credential_fields = (
        CredentialField("public_id", N_("The site's Public ID (pk_… or test_api_…).")),
        CredentialField(
            "api_secret",
            N_("The site's API secret: API calls and notification HMAC."),
            secret=True,
        ),
        CredentialField(
            "widget_url",
            N_("The widget script (TipTopPay has its own)."),
            required=False,
            default=DEFAULT_WIDGET_URL,
        ),
    )
    hook_kinds = NOTIFICATION_KINDS
    #: Receipt too: it sets the payment's receipt status (unverified fields, see receipts.py).
    simulated_events = (*NOTIFICATION_KINDS, "receipt")
    payer_script = resources.files("kassa.providers.cloudpayments") / "widget.js"
    sends_receipts = True

    @property
    def public_id(self) -> str:
        return self.account.credentials["public_id"]

    @property
    def _secret(self) -> str:
        return self.account.credentials["api_secret"]

    @property
    def widget_url(self) -> str:
        return self.account.credentials.get("widget_url") or DEFAULT_WIDGET_URL

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        return ProviderPayment(
            provider_payment_id=None,
            confirmation=RedirectConfirmation(f"{self.public_url}/pay/{request.payment_id}"),
        )

    def payer_page(self, payment: Payment, *, language: str) -> PayerPage:
        """The widget on Kassa's page: `widget.js` (beside this module) builds the call
        `widget.pay(method, options, callbacks)` from these strings. The call's shape is from
        [3rd-party code] (aveBHS/take-keys); `language` as a constructor option is unverified.

        The widget's origin (`widget_url`'s, which TipTopPay changes) is let in for its
        script, its frames (the card form), its images, fonts and calls. Its styles are let
        in inline too: the widget draws its overlay into the page, and which way it does that
        is not documented (NOT FOUND), while a style cannot run code.
        """
        params = {
            "method": "charge" if payment.capture else "auth",
            "public-id": self.public_id,
            "amount": format_major(payment.amount, payment.currency),
            "currency": payment.currency,
            "description": payment.description or payment.id,
            "invoice-id": payment.id,
            "language": "ru-RU" if language == "ru" else "en-US",
        }
        if payment.customer:
            params["account-id"] = payment.customer
        if payment.receipt:
            # The widget's `data` (JsonData), as JSON text: a data- attribute holds text.
            params["data"] = json_body(receipt_data(payment.receipt, payment.currency)).decode()
        parts = urlsplit(self.widget_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return PayerPage(
            widget=WidgetConfirmation(self.widget_url, params),
            sources={
                "script-src": (origin,),
                "frame-src": (origin,),
                "connect-src": (origin,),
                "img-src": (origin,),
                "font-src": (origin,),
                "style-src": (origin, "'unsafe-inline'"),
            },
        )

    # The API

    async def _call(
        self, path: str, body: Mapping[str, Any], *, key: str | None = None
    ) -> Envelope:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["X-Request-ID"] = key
        response = await send(
            self.http,
            "POST",
            self.api_url + path,
            content=json_body(body),
            headers=headers,
            auth=httpx.BasicAuth(self.public_id, self._secret),
        )
        if response.status_code == 429:
            raise ProviderUnavailable("CloudPayments is busy (HTTP 429: too many requests at once)")
        if response.status_code == 401:
            raise ProviderDeclined(
                "CloudPayments refused the Public ID and API secret (HTTP 401)",
                provider_code="401",
            )
        if response.status_code >= 400:
            raise ProviderDeclined(
                f"CloudPayments refused the request (HTTP {response.status_code})",
                provider_code=str(response.status_code),
            )
        try:
            document = json.loads(response.content, parse_float=Decimal)
            success, message, model = (
                document["Success"],
                document.get("Message"),
                document.get("Model"),
            )
            if not isinstance(success, bool) or not isinstance(message, str | None):
                raise TypeError("not the {Success, Message, Model} envelope")
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderUnavailable(
                f"CloudPayments answered something unreadable: {exc!r}"
            ) from exc
        return Envelope(success, message, model if isinstance(model, dict) else None)

    @staticmethod
    def _refused(envelope: Envelope, what: str) -> ProviderDeclined:
        message = envelope.message or "no reason given"
        return ProviderDeclined(
            f"CloudPayments refused to {what}: {message}", provider_message=envelope.message
        )

    async def _lookup(self, payment: Payment) -> Transaction | None:
        """The payment's transaction at CloudPayments, or None if the payer has not paid.

        By TransactionId once Kassa knows it; before that by InvoiceId (Kassa's id), which
        finds the invoice's latest operation."""
        if payment.provider_payment_id:
            path = "/payments/get"
            body: dict[str, Any] = {
                "TransactionId": transaction_number(payment.provider_payment_id)
            }
        else:
            path, body = "/v2/payments/find", {"InvoiceId": payment.id}
        envelope = await self._call(path, body)
        if envelope.model is None:
            if (envelope.message or "").strip().lower() == "not found":
                return None
            raise self._refused(envelope, "look the payment up")
        try:
            transaction = read_transaction(envelope.model)
        except MALFORMED as exc:
            raise ProviderUnavailable(
                f"CloudPayments described the payment unreadably: {exc!r}"
            ) from exc
        if transaction.operation not in (None, "Payment"):
            # v2 find also finds refunds and payouts; the payment's own state is not in one.
            raise ProviderDeclined(
                f"The latest CloudPayments operation for {payment.id} is a "
                f"{transaction.operation} (transaction {transaction.transaction_id}); "
                "check the payment in CloudPayments' cabinet"
            )
        if transaction.invoice_id not in (None, payment.id) or (
            transaction.currency != payment.currency
        ):
            raise ProviderDeclined(
                f"CloudPayments transaction {transaction.transaction_id} is for invoice "
                f"{transaction.invoice_id} in {transaction.currency}, not for {payment.id}"
            )
        return transaction

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        transaction = await self._lookup(payment)
        if transaction is None:
            return PaymentUpdate(status=PaymentStatus.PENDING, payment_id=payment.id)
        return transaction.update

    async def capture(self, payment: Payment, amount: int) -> PaymentUpdate:
        """`/payments/confirm`; confirming less than the hold, the receipt for what is taken
        goes in its JsonData (the widget's receipt was for the whole)."""
        reference = self._reference(payment)
        params: dict[str, Any] = {
            "TransactionId": transaction_number(reference),
            "Amount": wire_amount(amount, payment.currency),
        }
        if payment.receipt and amount != payment.amount:
            params["JsonData"] = receipt_data(payment.receipt.for_amount(amount), payment.currency)
        envelope = await self._call("/payments/confirm", params, key=f"{payment.id}:confirm")
        if not envelope.success:
            raise self._refused(envelope, "confirm the payment")
        return PaymentUpdate(
            status=PaymentStatus.SUCCEEDED, provider_payment_id=reference, amount_captured=amount
        )

    async def cancel(self, payment: Payment) -> PaymentUpdate:
        """Release a hold (`/payments/void`). A payment nobody has paid has nothing to void
        at CloudPayments: it is canceled in Kassa, whose Checks then refuse it (code 13). It
        is looked up first, so a payment the payer has just paid is not canceled blindly."""
        reference = payment.provider_payment_id
        if reference is None:
            transaction = await self._lookup(payment)
            if transaction is None or transaction.status == TransactionStatus.DECLINED:
                return PaymentUpdate(status=PaymentStatus.CANCELED)
            if transaction.status == TransactionStatus.CANCELLED:
                return transaction.update
            if transaction.status != TransactionStatus.AUTHORIZED:
                status = transaction.status.value if transaction.status else "in an unknown state"
                raise ProviderDeclined(
                    f"The payer's CloudPayments transaction {transaction.transaction_id} is "
                    f"{status}; it cannot be canceled now"
                )
            reference = transaction.transaction_id
        envelope = await self._call(
            "/payments/void",
            {"TransactionId": transaction_number(reference)},
            key=f"{payment.id}:void",
        )
        if not envelope.success:
            raise self._refused(envelope, "cancel the payment")
        return PaymentUpdate(status=PaymentStatus.CANCELED, provider_payment_id=reference)

    async def refund(self, payment: Payment, refund: Refund) -> RefundUpdate:
        """`/payments/refund`, with Kassa's refund id as the X-Request-ID and in JsonData
        (so the Refund notification can name it, if CloudPayments echoes it in `Data`: NOT
        FOUND; without it the notification matches by the refund's TransactionId), and the
        return receipt's `CustomerReceipt` there when the payment had a receipt."""
        reference = self._reference(payment)
        data: dict[str, Any] = {REFUND_DATA_KEY: refund.id}
        if payment.receipt:  # CloudPayments makes the return receipt from it
            data |= receipt_data(payment.receipt.for_amount(refund.amount), refund.currency)
        envelope = await self._call(
            "/payments/refund",
            {
                "TransactionId": transaction_number(reference),
                "Amount": wire_amount(refund.amount, refund.currency),
                "JsonData": data,
            },
            key=refund.id,
        )
        if not envelope.success:
            raise self._refused(envelope, "refund")
        try:
            refund_transaction = Fields(envelope.model or {}).transaction_id()
        except MALFORMED as exc:
            raise ProviderUnavailable(
                f"CloudPayments did not say which refund it made: {exc!r}"
            ) from exc
        return RefundUpdate(
            status=RefundStatus.SUCCEEDED,
            amount=refund.amount,
            refund_id=refund.id,
            provider_refund_id=refund_transaction,
            provider_payment_id=reference,
        )

    @staticmethod
    def _reference(payment: Payment) -> str:
        if not payment.provider_payment_id:
            raise ProviderDeclined("The payment has no CloudPayments transaction yet")
        return payment.provider_payment_id

    # Notifications

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        kind = (request.kind or "").lower()
        if kind not in NOTIFICATION_KINDS + OTHER_KINDS:
            raise NotificationRejected(
                "The notification URL must end with its type: "
                + ", ".join(f"/{name}" for name in NOTIFICATION_KINDS + OTHER_KINDS)
            )
        if verify:
            verify_signature(self._secret, request)
        try:
            values = read_fields(request)
            check_kind(kind, values)
            notification = read_notification(kind, values)
        except NotificationRejected:
            raise
        except MALFORMED as exc:
            raise NotificationRejected(
                f"Unreadable CloudPayments {kind} notification: {exc!r}"
            ) from exc
        # Also when re-applying one stored as pending (`verify` off): the API's word is what
        # makes the kind certain, and it may be why the notification was left pending.
        rule = KIND_RULES.get(kind)
        if rule is not None and rule.confirmed_by_api:
            await self._confirm(kind, values)
        return notification

    async def _confirm(self, kind: str, values: Mapping[str, Any]) -> None:
        """Refuse the notification unless `/payments/get` bears it out (see `KindRule`).
        `ProviderUnavailable` if the API does not answer, or refuses the request itself (HTTP
        401 for a wrong Public ID, which the notification's HMAC does not cover): that says
        nothing against the notification, so Kassa keeps it pending and asks again later."""
        transaction = Fields(values).transaction_id()
        try:
            envelope = await self._call(
                "/payments/get", {"TransactionId": transaction_number(transaction)}
            )
        except ProviderDeclined as exc:
            raise ProviderUnavailable(
                f"CloudPayments' API could not be asked about the {kind} notification: "
                f"{exc.message}"
            ) from exc
        if envelope.model is None:
            raise NotificationRejected(
                f"CloudPayments' API does not know transaction {transaction} "
                f"({envelope.message or 'no reason given'}): the {kind} notification is refused"
            )
        try:
            found = read_transaction(envelope.model)
        except MALFORMED as exc:
            raise ProviderUnavailable(
                f"CloudPayments described transaction {transaction} unreadably: {exc!r}"
            ) from exc
        refusal = confirms(kind, values, found)
        if refusal is not None:
            raise NotificationRejected(f"{refusal}, not what the {kind} notification says")

    @classmethod
    def reply(cls, verdict: Verdict, message: str, check: CheckResult | None = None) -> HookReply:
        """`{"code": 0}` with 200 for whatever CloudPayments should not resend, and a Check's
        answer as its code.

        A rejected notification (bad HMAC, unreadable) gets HTTP 401 with code 13. For a
        Check that refuses the payment either way. For a Pay it is the safer error: if
        Kassa's API secret is wrong, a 200 would make CloudPayments drop a real payment's
        only notification, while a non-2xx answer makes it resend (on a schedule that is
        NOT FOUND), so the payment lands once the secret is fixed; the stored copy shows
        what happened meanwhile. Pending (applying failed) gets 500: resend later.
        """
        match verdict:
            case Verdict.ACCEPTED | Verdict.DUPLICATE:
                code = check_code(check) if check is not None else CheckCode.ACCEPT
                return HookReply.json(200, {"code": int(code)})
            case Verdict.REJECTED:
                return HookReply.json(401, {"code": int(CheckCode.REJECTED)})
            case Verdict.PENDING:
                return HookReply.json(500, {"code": int(CheckCode.REJECTED)})
            case _:
                assert_never(verdict)

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        """The notification CloudPayments would send: POST, form-urlencoded UTF-8, signed."""
        if event not in self.simulated_events:
            raise ParameterInvalid(
                f"CloudPayments sends no {event!r} notification; it sends: "
                + ", ".join(self.simulated_events),
                param="event",
            )
        transaction = payment.provider_payment_id or _simulated_number(payment.id)
        amount = payment.amount
        status = TransactionStatus.COMPLETED if payment.capture else TransactionStatus.AUTHORIZED
        extra: dict[str, str] = {}
        if event == "fail":
            status = TransactionStatus.DECLINED
            extra = {"Reason": "InsufficientFunds", "ReasonCode": "5051"}
        elif event == "confirm":
            status, amount = TransactionStatus.COMPLETED, payment.amount_captured or amount
        elif event == "cancel":
            status = TransactionStatus.CANCELLED
        elif event == "receipt":
            extra = {"Type": "Income", "Id": f"simulated-{payment.id}"}
        elif event == "refund":
            amount = payment.refundable or payment.amount_captured or amount
            extra = {"PaymentTransactionId": transaction, "OperationType": "Refund"}
            transaction = _simulated_number(f"{payment.id}:refund:{payment.amount_refunded}")
        fields = {
            "TransactionId": transaction,
            "Amount": format_major(amount, payment.currency),
            "Currency": payment.currency,
            "PaymentAmount": format_major(amount, payment.currency),
            "PaymentCurrency": payment.currency,
            "InvoiceId": payment.id,
            "AccountId": payment.customer or "",
            "Description": payment.description or "",
            "DateTime": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "OperationType": "Payment",
            "Status": status.value,
            "TestMode": "1" if payment.test else "0",
            "CardFirstSix": "424242",
            "CardLastFour": "4242",
            "CardType": "Visa",
            "Data": "{}",
            **extra,
        }
        body = urlencode(fields).encode()
        return SimulatedNotification(
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-HMAC": sign(self._secret, body),
                "X-Content-HMAC": sign(self._secret, url_decoded(body)),
            },
            body=body,
            kind=event,
        )


def _simulated_number(seed: str) -> str:
    """A stable made-up transaction number, so simulating one event twice is a duplicate."""
    return str(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") + 10**9)
