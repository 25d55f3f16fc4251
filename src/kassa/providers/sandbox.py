"""The sandbox: Kassa's built-in test provider.

It behaves like a real one. Its API (the "sandbox acquirer", served by Kassa under
`/sandbox/api`) keeps its own records; its hosted checkout page lets a tester pay, decline or
authorize; and it reports the outcome by a signed notification to `/hooks/sandbox/{shop}`, so
the sandbox goes through the same ingestion path as every real provider. Its API calls go
over HTTP, or, in the process that serves the acquirer, to its API in-process (`SandboxApi`):
the same requests and answers either way.

Wire format:
- API calls: HTTP Basic auth (username: Kassa's shop id, password: the account's `secret`),
  JSON bodies, amounts as `{"value": "1500.00", "currency": "RUB"}`, an `Idempotence-Key`
  header on every POST, errors as `{"error": {"code", "message"}}`.
- Notifications: JSON `{"id", "type", "created_at", "object"}`, header `X-Sandbox-Signature`
  = hex HMAC-SHA256 of the raw body with the account's `secret`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar, assert_never

from kassa.domain import (
    NotificationRejected,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderAccount,
    ProviderDeclined,
    ProviderUnavailable,
    Refund,
    RefundStatus,
    RefundUpdate,
    SignatureInvalid,
)
from kassa.domain.translatable import N_
from kassa.providers import wire
from kassa.providers.base import (
    Capabilities,
    CredentialField,
    InboundRequest,
    Notification,
    PaymentRequest,
    Provider,
    ProviderPayment,
    RedirectConfirmation,
    SimulatedNotification,
    send,
)

SIGNATURE_HEADER = "x-sandbox-signature"

T = TypeVar("T")


def _read(reader: Callable[[Any], T], document: Any) -> T:
    return wire.read_answer(reader, document, provider="The sandbox")


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One call to the sandbox API as the wire carries it: `path` is below the API's URL
    (`/payments/sbx_…/capture`), `authorization` the `Authorization` header, `body` JSON or
    empty."""

    method: str
    path: str
    authorization: str | None
    idempotence_key: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    """The sandbox API's answer: an HTTP status and a JSON body."""

    status: int
    body: bytes


#: How the provider's calls reach the sandbox API. By default over HTTP, with the injected
#: client, at `api_url`; where this process serves the acquirer itself, the services give
#: the API answered in-process (`kassa.services.payments.sandbox_api.in_process`): the same
#: request in, the same answer out, without HTTP.
SandboxApi = Callable[[ApiRequest], Awaitable[ApiAnswer]]


def basic_authorization(shop_id: str, secret: str) -> str:
    """The `Authorization` header of an API call: HTTP Basic, Kassa's shop id and the
    account's secret."""
    return "Basic " + base64.b64encode(f"{shop_id}:{secret}".encode()).decode()


class SandboxStatus(StrEnum):
    """Statuses of a payment at the sandbox acquirer."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    FAILED = "failed"
    EXPIRED = "expired"


def kassa_status(status: SandboxStatus) -> PaymentStatus:
    """The sandbox's status in Kassa's terms; every case mapped, none guessed."""
    match status:
        case SandboxStatus.PENDING:
            return PaymentStatus.PENDING
        case SandboxStatus.AUTHORIZED:
            return PaymentStatus.REQUIRES_CAPTURE
        case SandboxStatus.SUCCEEDED:
            return PaymentStatus.SUCCEEDED
        case SandboxStatus.CANCELED:
            return PaymentStatus.CANCELED
        case SandboxStatus.FAILED:
            return PaymentStatus.FAILED
        case SandboxStatus.EXPIRED:
            return PaymentStatus.EXPIRED
        case _:
            assert_never(status)


def sign(secret: str, body: bytes) -> str:
    """The `X-Sandbox-Signature` of a notification body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payment_update(document: Any) -> PaymentUpdate:
    """A sandbox payment object as a `PaymentUpdate`; an unknown status reads as pending.
    Raises `ValueError`, `KeyError`, `TypeError` or a money error if it is malformed."""
    try:
        status = kassa_status(SandboxStatus(document["status"]))
    except ValueError:
        status = PaymentStatus.PENDING
    captured = document.get("amount_captured")
    return PaymentUpdate(
        status=status,
        payment_id=wire.text(document, "order_id", required=False),
        provider_payment_id=wire.text(document, "id"),
        amount=wire.parse_value_amount(document["amount"]),
        amount_captured=wire.parse_value_amount(captured).amount if captured else None,
        failure_code=wire.text(document, "failure_code", required=False),
        failure_message=wire.text(document, "failure_message", required=False),
    )


def refund_update(document: Any) -> RefundUpdate:
    """A sandbox refund object as a `RefundUpdate` (raises as `payment_update` does)."""
    return RefundUpdate(
        status=RefundStatus(document["status"]),
        amount=wire.parse_value_amount(document["amount"]).amount,
        refund_id=wire.text(document, "reference", required=False),
        provider_refund_id=wire.text(document, "id"),
        provider_payment_id=wire.text(document, "payment_id"),
    )


class SandboxProvider(Provider):
    """Kassa's embedded test provider; see the module docstring for its wire format."""

    name = "sandbox"
    title = N_("Sandbox")
    default_api_url = "/sandbox/api"
    methods = frozenset({"card", "sbp"})
    capabilities = Capabilities(
        two_stage=True, partial_capture=True, cancel=True, refunds=True, partial_refunds=True
    )
    credential_fields = (
        CredentialField(
            "secret",
            N_("Authenticates API calls and signs notifications; generated when not given."),
            secret=True,
        ),
    )
    test_only = True
    simulated_events = (
        "payment.succeeded",
        "payment.authorized",
        "payment.failed",
        "payment.canceled",
    )

    def __init__(
        self, account: ProviderAccount, *, api: SandboxApi | None = None, **options: Any
    ) -> None:
        """`api`, where given, takes the calls instead of HTTP (see `SandboxApi`)."""
        super().__init__(account, **options)
        self._api: SandboxApi = api or self._over_http

    @classmethod
    def generate_credentials(cls) -> dict[str, str]:
        return {"secret": "sbx_sk_" + secrets.token_urlsafe(24)}

    @property
    def _secret(self) -> str:
        return self.account.credentials["secret"]

    async def _call(
        self, method: str, path: str, *, key: str | None = None, body: Any = None
    ) -> Any:
        call = ApiRequest(
            method=method,
            path=path,
            authorization=basic_authorization(self.account.shop_id, self._secret),
            idempotence_key=key,
            body=b"" if body is None else json.dumps(body).encode(),
        )
        answer = await self._api(call)
        if answer.status >= 500:
            raise ProviderUnavailable(f"The sandbox failed with HTTP {answer.status}")
        try:
            document = json.loads(answer.body)
        except ValueError as exc:
            raise ProviderUnavailable("The sandbox answered something that is not JSON") from exc
        if answer.status >= 400:
            error = document.get("error", {}) if isinstance(document, dict) else {}
            raise ProviderDeclined(
                f"The sandbox refused: {error.get('message', answer.status)}",
                provider_code=error.get("code"),
                provider_message=error.get("message"),
            )
        return document

    async def _over_http(self, call: ApiRequest) -> ApiAnswer:
        """`call` sent to the API at `api_url` by the injected HTTP client."""
        headers = {"Content-Type": "application/json"}
        if call.authorization:
            headers["Authorization"] = call.authorization
        if call.idempotence_key:
            headers["Idempotence-Key"] = call.idempotence_key
        response = await send(
            self.http, call.method, self.api_url + call.path, content=call.body, headers=headers
        )
        return ApiAnswer(response.status_code, response.content)

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        body = {
            "order_id": request.payment_id,
            "amount": wire.value_amount(request.amount, request.currency),
            "capture": request.capture,
            "method": request.method,
            "description": request.description,
            "return_url": request.return_url,
            "expires_at": request.expires_at.isoformat() if request.expires_at else None,
        }
        document = await self._call("POST", "/payments", key=request.payment_id, body=body)
        return _read(
            lambda doc: ProviderPayment(
                provider_payment_id=str(wire.text(doc, "id")),
                confirmation=RedirectConfirmation(str(wire.text(doc, "checkout_url"))),
            ),
            document,
        )

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        return _read(payment_update, await self._call("GET", f"/payments/{self._ref(payment)}"))

    async def capture(self, payment: Payment, amount: int) -> PaymentUpdate:
        document = await self._call(
            "POST",
            f"/payments/{self._ref(payment)}/capture",
            key=f"{payment.id}:capture",
            body={"amount": wire.value_amount(amount, payment.currency)},
        )
        return _read(payment_update, document)

    async def cancel(self, payment: Payment) -> PaymentUpdate:
        document = await self._call(
            "POST", f"/payments/{self._ref(payment)}/cancel", key=f"{payment.id}:cancel"
        )
        return _read(payment_update, document)

    async def refund(self, payment: Payment, refund: Refund) -> RefundUpdate:
        document = await self._call(
            "POST",
            "/refunds",
            key=refund.id,
            body={
                "payment_id": self._ref(payment),
                "amount": wire.value_amount(refund.amount, refund.currency),
                "reference": refund.id,
            },
        )
        return _read(refund_update, document)

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        if verify:
            signature = request.headers.get(SIGNATURE_HEADER)
            if not wire.signature_matches(signature, sign(self._secret, request.body)):
                raise SignatureInvalid("X-Sandbox-Signature does not match the body")
        try:
            document = json.loads(request.body)
            kind = document["type"]
            update: PaymentUpdate | RefundUpdate = (
                refund_update(document["object"])
                if kind.startswith("refund.")
                else payment_update(document["object"])
            )
            return Notification(event_key=wire.text(document, "id"), updates=[update])
        except wire.MALFORMED as exc:
            raise NotificationRejected(f"Unreadable sandbox notification: {exc!r}") from exc

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        status = SandboxStatus(event.removeprefix("payment."))
        amount = wire.value_amount(payment.amount, payment.currency)
        document = {
            "id": f"sbxevt_sim_{secrets.token_hex(8)}",
            "type": event,
            "created_at": datetime.now(UTC).isoformat(),
            "object": {
                "id": self._ref(payment),
                "order_id": payment.id,
                "status": status.value,
                "amount": amount,
                "amount_captured": amount if status == SandboxStatus.SUCCEEDED else None,
                "failure_code": "simulated" if status == SandboxStatus.FAILED else None,
            },
        }
        body = json.dumps(document).encode()
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)}
        return SimulatedNotification("POST", headers, body)

    @staticmethod
    def _ref(payment: Payment) -> str:
        if not payment.provider_payment_id:
            raise ProviderDeclined("The payment has no sandbox id yet")
        return payment.provider_payment_id
