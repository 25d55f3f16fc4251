"""YooKassa (API v3): one- and two-stage payments, refunds, and unsigned notifications.

Wire format (facts: YooKassa's API reference and official SDKs; user guide:
docs/providers/yookassa.md):

- API calls: HTTP Basic auth (user `shop_id`, password `secret_key`), JSON bodies, amounts as
  `{"value": "1500.00", "currency": "RUB"}` with a two-decimal string (a JSON number, or
  "169.0", is refused by YooKassa). Every POST carries an `Idempotence-Key` derived from Kassa's
  own ids, never a fresh random one, so a call retried after a crash or a timeout can never make
  a second payment or refund. HTTP 202 means "accepted, still processing": the same request is
  repeated with the same key after the advised pause. Errors are
  `{"type": "error", "id", "code", "description", "parameter"}`.
- Notifications: `POST {"type": "notification", "event", "object"}` with no signature at all.
  Kassa believes one only as far as (1) it comes from an address YooKassa publishes (the web
  layer believes X-Forwarded-For only from a configured trusted proxy) and (2) the object,
  re-read from the API, says so: nothing but the event name and the object id is taken from the
  body.

Statuses, as Kassa reads them (`kassa_status`):

- `pending` (and any status YooKassa may add later) → `pending`;
- `waiting_for_capture` → `requires_capture`;
- `succeeded` → `succeeded`;
- `canceled` by the merchant (`party` "merchant", reason `canceled_by_merchant`) or a hold
  left uncaptured (reason `expired_on_capture`) → `canceled`;
- `canceled` with reason `expired_on_confirmation` (the payer never paid in time) → `expired`;
- `canceled` for any other reason (a decline: `insufficient_funds`, `3d_secure_failed`, ...)
  → `failed`, with the reason as the failure code.

Kassa's table lets a `requires_capture` payment become only `succeeded` or `canceled`. The
reasons YooKassa documents for canceling a hold are the shop's cancel and the lapsed hold, both
read as `canceled`; the declines happen before the money is held, so `failed` and `expired`
meet only `pending` payments. (A decline reason on a held payment would be refused by the table
and logged, and the payment would stay `requires_capture` until the shop cancels it.)

A partial capture: the emulator, and Kassa, take a captured payment's `amount` as the sum
captured; whether YooKassa shows the captured or the authorized sum there after a partial
capture is NOT FOUND in the official text we could search. So a succeeded payment is reported
with `amount_captured` from its `amount`, and `amount` is left out of the comparison with the
payment's own amount (which would refuse every partially captured payment; Kassa still refuses
a captured sum above it). After Kassa's own capture call the sum asked for caps the captured
amount, which is right either way.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar, assert_never
from urllib.parse import quote

import httpx

from kassa.domain import (
    NotificationRejected,
    NotSupported,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderDeclined,
    ProviderUnavailable,
    Refund,
    RefundStatus,
    RefundUpdate,
)
from kassa.domain.translatable import N_
from kassa.providers import wire
from kassa.providers.base import (
    Capabilities,
    CheckResult,
    CredentialField,
    HookReply,
    InboundRequest,
    Notification,
    PaymentRequest,
    Provider,
    ProviderPayment,
    RedirectConfirmation,
    SimulatedNotification,
    Verdict,
    send,
)

T = TypeVar("T")


def _read(reader: Callable[[Any], T], document: Any) -> T:
    return wire.read_answer(reader, document, provider="YooKassa")


#: YooKassa refuses a longer payment description (its SDKs validate this limit).
MAX_DESCRIPTION = 128
#: Requests of one call YooKassa may answer with 202 before Kassa gives up, as its SDKs do.
MAX_ATTEMPTS = 3
#: The pause before repeating a request answered with 202, when YooKassa advises none: the
#: SDKs' default. YooKassa's `retry_after` is in milliseconds (as the PHP SDK reads it).
DEFAULT_RETRY_AFTER_MS = 1800
#: The longest pause Kassa accepts from `retry_after`: a merchant's API call is waiting.
MAX_RETRY_AFTER_MS = 5000
#: Seconds Kassa waits for the API while reading a notification (less if the configured
#: provider timeout is shorter). YooKassa wants a quick 200 and resends for 24 hours otherwise;
#: a notification the API cannot confirm in time is stored and re-read by Kassa's worker.
NOTIFICATION_TIMEOUT = 5.0
#: The metadata key under which Kassa gives YooKassa its own payment id.
METADATA_KEY = "kassa_payment_id"

#: Notifications about a payment, and about a refund; the object is re-read for these.
PAYMENT_EVENTS = ("payment.waiting_for_capture", "payment.succeeded", "payment.canceled")
REFUND_EVENT = "refund.succeeded"

#: How far along each event says its object is: 1 held, 2 final (0 would be pending).
_CLAIMED_STAGE: Mapping[str, int] = MappingProxyType(
    {
        "payment.waiting_for_capture": 1,
        "payment.succeeded": 2,
        "payment.canceled": 2,
        REFUND_EVENT: 2,
    }
)

#: What an event name and an object id in a notification may look like; YooKassa's ids are
#: UUID-like ("22e12f66-000f-5000-8000-18db351245c7"). Anything else is refused before it can
#: reach a URL path or the event key column.
_EVENT = re.compile(r"[a-z][a-z_.]{0,63}")
_OBJECT_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")

#: Kassa's method names and YooKassa's `payment_method_data.type` for them. Without a method
#: the payer chooses one on YooKassa's page.
METHODS: Mapping[str, str] = MappingProxyType(
    {
        "card": "bank_card",
        "sbp": "sbp",
        "yoo_money": "yoo_money",
        "sberbank": "sberbank",
        "tinkoff_bank": "tinkoff_bank",
    }
)


class YooKassaStatus(StrEnum):
    """Statuses of a YooKassa payment; `succeeded` and `canceled` are final."""

    PENDING = "pending"
    WAITING_FOR_CAPTURE = "waiting_for_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class YooKassaRefundStatus(StrEnum):
    """Statuses of a YooKassa refund."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


#: Cancellation reasons that are the shop's own doing: it canceled, or let a hold lapse.
CANCELED_BY_SHOP = frozenset({"canceled_by_merchant", "expired_on_capture"})
#: Cancellation reasons that mean nobody paid in time.
EXPIRED_UNPAID = frozenset({"expired_on_confirmation"})


def kassa_status(
    status: YooKassaStatus, *, party: str | None = None, reason: str | None = None
) -> PaymentStatus:
    """YooKassa's payment status (with `cancellation_details` for a canceled one) in Kassa's
    terms; see the module docstring for why."""
    match status:
        case YooKassaStatus.PENDING:
            return PaymentStatus.PENDING
        case YooKassaStatus.WAITING_FOR_CAPTURE:
            return PaymentStatus.REQUIRES_CAPTURE
        case YooKassaStatus.SUCCEEDED:
            return PaymentStatus.SUCCEEDED
        case YooKassaStatus.CANCELED:
            if party == "merchant" or reason in CANCELED_BY_SHOP:
                return PaymentStatus.CANCELED
            if reason in EXPIRED_UNPAID:
                return PaymentStatus.EXPIRED
            return PaymentStatus.FAILED
        case _:
            assert_never(status)


def kassa_refund_status(status: YooKassaRefundStatus) -> RefundStatus:
    """YooKassa's refund status in Kassa's terms."""
    match status:
        case YooKassaRefundStatus.PENDING:
            return RefundStatus.PENDING
        case YooKassaRefundStatus.SUCCEEDED:
            return RefundStatus.SUCCEEDED
        case YooKassaRefundStatus.CANCELED:
            return RefundStatus.FAILED
        case _:
            assert_never(status)


def truncate(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """`text` cut to `limit` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cancellation(document: Any) -> tuple[str | None, str | None]:
    details = document.get("cancellation_details") or {}
    return wire.text(details, "party", required=False), wire.text(details, "reason", required=False)


def payment_update(document: Any) -> PaymentUpdate:
    """A YooKassa payment object as a `PaymentUpdate`. Raises `ValueError`, `KeyError`,
    `TypeError`, `AttributeError` or a money error if it is malformed."""
    party, reason = _cancellation(document)
    try:
        status = kassa_status(YooKassaStatus(document["status"]), party=party, reason=reason)
    except ValueError:
        status = PaymentStatus.PENDING  # a status YooKassa may add later: decide nothing yet
    amount = wire.parse_value_amount(document["amount"])
    metadata = document.get("metadata") or {}
    captured = status == PaymentStatus.SUCCEEDED
    failed = status == PaymentStatus.FAILED
    return PaymentUpdate(
        status=status,
        payment_id=wire.text(metadata, METADATA_KEY, required=False),
        provider_payment_id=wire.text(document, "id"),
        # Captured: `amount` is what was taken (see the module docstring), not the order's sum.
        amount=None if captured else amount,
        amount_captured=amount.amount if captured else None,
        failure_code=(reason or "canceled") if failed else None,
        failure_message=(
            f"YooKassa canceled the payment ({party or 'unknown party'}: "
            f"{reason or 'no reason given'})"
            if failed
            else None
        ),
    )


def refund_update(document: Any) -> RefundUpdate:
    """A YooKassa refund object as a `RefundUpdate` (raises as `payment_update` does)."""
    try:
        status = kassa_refund_status(YooKassaRefundStatus(document["status"]))
    except ValueError:
        status = RefundStatus.PENDING
    party, reason = _cancellation(document)
    return RefundUpdate(
        status=status,
        amount=wire.parse_value_amount(document["amount"]).amount,
        provider_refund_id=wire.text(document, "id"),
        provider_payment_id=wire.text(document, "payment_id"),
        failure_message=(
            f"YooKassa canceled the refund ({party or 'unknown party'}: "
            f"{reason or 'no reason given'})"
            if status == RefundStatus.FAILED
            else None
        ),
    )


def created_payment(document: Any) -> ProviderPayment:
    """YooKassa's answer to a create: its id, the payer's page, and its status."""
    confirmation = document.get("confirmation") or {}
    url = wire.text(confirmation, "confirmation_url", required=False)
    return ProviderPayment(
        provider_payment_id=wire.text(document, "id"),
        confirmation=RedirectConfirmation(url) if url else None,
        status=payment_update(document).status,
    )


def read_notification(body: bytes) -> tuple[str, str]:
    """The event name and object id of a notification body, or `NotificationRejected`."""
    try:
        document = json.loads(body)
        if document["type"] != "notification":
            raise ValueError(f"type is {document['type']!r}, not 'notification'")
        event, object_id = document["event"], document["object"]["id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise NotificationRejected(f"Unreadable YooKassa notification: {exc!r}") from exc
    if not isinstance(event, str) or not _EVENT.fullmatch(event):
        raise NotificationRejected(f"Unreadable YooKassa notification: event {event!r}")
    if not isinstance(object_id, str) or not _OBJECT_ID.fullmatch(object_id):
        raise NotificationRejected(f"Unreadable YooKassa notification: object id {object_id!r}")
    return event, object_id


def _stage(update: PaymentUpdate | RefundUpdate) -> int:
    """How far along the API shows an object, on the scale of `_CLAIMED_STAGE`."""
    if update.status in (PaymentStatus.PENDING, RefundStatus.PENDING):
        return 0
    return 1 if update.status == PaymentStatus.REQUIRES_CAPTURE else 2


def _retry_after_ms(response: httpx.Response) -> int:
    """The pause YooKassa advises with a 202 (`retry_after`, ms), bounded."""
    try:
        advised = response.json().get("retry_after")
    except (ValueError, AttributeError):
        advised = None
    if isinstance(advised, bool) or not isinstance(advised, int) or advised < 0:
        return DEFAULT_RETRY_AFTER_MS
    return min(advised, MAX_RETRY_AFTER_MS)


def _optional_text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) else None


def _timestamp(value: datetime) -> str:
    """YooKassa's timestamp form: UTC with milliseconds, "2026-11-22T06:25:58.358Z"."""
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class YooKassaProvider(Provider):
    """YooKassa; see the module docstring for its wire format and how Kassa reads it."""

    name = "yookassa"
    #: How long YooKassa keeps an Idempotence-Key is NOT FOUND in its official text; third-party
    #: write-ups say 24 hours, so Kassa stops repeating a call after that.
    idempotency_window = timedelta(hours=24)
    title = "YooKassa"
    default_api_url = "https://api.yookassa.ru/v3"
    methods = frozenset(METHODS)
    # The currencies of Kassa's table YooKassa may take; anything but RUB only if YooKassa
    # has enabled it for the shop's contract.
    currencies = frozenset({"RUB", "USD", "EUR", "KZT"})
    capabilities = Capabilities(
        two_stage=True, partial_capture=True, cancel=True, refunds=True, partial_refunds=True
    )
    credential_fields = (
        CredentialField(
            "shop_id", N_("The shop's identifier (shopId) in YooKassa's cabinet: the API login.")
        ),
        CredentialField(
            "secret_key",
            N_(
                "A secret key from YooKassa's cabinet (Integration → API keys); a test shop's "
                "keys start with test_."
            ),
            secret=True,
        ),
    )
    simulated_events = (*PAYMENT_EVENTS, REFUND_EVENT)

    @property
    def _auth(self) -> httpx.BasicAuth:
        credentials = self.account.credentials
        return httpx.BasicAuth(credentials["shop_id"], credentials["secret_key"])

    async def _call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: Any = None,
        limit: httpx.Timeout | None = None,
    ) -> Any:
        """One API call, repeated (same request, same key) while YooKassa answers 202."""
        headers = {"Idempotence-Key": key} if key else {}
        options: dict[str, Any] = {"timeout": limit} if limit is not None else {}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response = await send(
                self.http,
                method,
                self.api_url + path,
                json=body,
                headers=headers,
                auth=self._auth,
                **options,
            )
            if response.status_code != 202:
                return self._document(response)
            if attempt < MAX_ATTEMPTS:
                await asyncio.sleep(_retry_after_ms(response) / 1000)
        raise ProviderUnavailable(
            f"YooKassa was still processing the request after {MAX_ATTEMPTS} attempts"
        )

    @staticmethod
    def _document(response: httpx.Response) -> Any:
        """The JSON of an answer; YooKassa's error body as `ProviderDeclined`."""
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.status_code == 429:
            # Nothing was done and asking again later will do: not a refusal.
            raise ProviderUnavailable("YooKassa asks to slow down (HTTP 429)")
        if response.status_code >= 400:
            error = document if isinstance(document, dict) else {}
            description = _optional_text(error, "description")
            parameter = _optional_text(error, "parameter")
            message = description or f"HTTP {response.status_code}"
            if parameter:
                message += f" (parameter {parameter})"
            raise ProviderDeclined(
                f"YooKassa refused: {message}",
                provider_code=_optional_text(error, "code"),
                provider_message=description,
            )
        if document is None:
            raise ProviderUnavailable("YooKassa answered something that is not JSON")
        return document

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        return_url = request.return_url or f"{self.public_url}/pay/{request.payment_id}"
        body: dict[str, Any] = {
            "amount": wire.value_amount(request.amount, request.currency),
            "capture": request.capture,
            "confirmation": {"type": "redirect", "return_url": return_url},
            "metadata": {METADATA_KEY: request.payment_id},
        }
        if request.description:
            body["description"] = truncate(request.description)
        if request.method:
            body["payment_method_data"] = {"type": METHODS[request.method]}
        document = await self._call("POST", "/payments", key=request.payment_id, body=body)
        return _read(created_payment, document)

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        return _read(payment_update, await self._call("GET", f"/payments/{self._ref(payment)}"))

    async def capture(self, payment: Payment, amount: int) -> PaymentUpdate:
        document = await self._call(
            "POST",
            f"/payments/{self._ref(payment)}/capture",
            key=f"{payment.id}:capture",
            body={"amount": wire.value_amount(amount, payment.currency)},
        )
        update = _read(payment_update, document)
        if update.amount_captured is not None and update.amount_captured > amount:
            update = replace(update, amount_captured=amount)  # see the module docstring
        return update

    async def cancel(self, payment: Payment) -> PaymentUpdate:
        """Release a hold. YooKassa cancels only payments `waiting_for_capture`: one the
        payer has not paid yet is refused (`ProviderDeclined`); YooKassa cancels those itself
        when their time is up."""
        document = await self._call(
            "POST", f"/payments/{self._ref(payment)}/cancel", key=f"{payment.id}:cancel"
        )
        return _read(payment_update, document)

    async def refund(self, payment: Payment, refund: Refund) -> RefundUpdate:
        """Ask YooKassa for the refund; for one it has answered before (Kassa knows its id),
        ask how it stands instead: repeating the create would only replay its first answer."""
        if refund.provider_refund_id:
            reference = quote(refund.provider_refund_id, safe="")
            return _read(refund_update, await self._call("GET", f"/refunds/{reference}"))
        document = await self._call(
            "POST",
            "/refunds",
            key=refund.id,
            body={
                "payment_id": self._ref(payment),
                "amount": wire.value_amount(refund.amount, refund.currency),
            },
        )
        return _read(refund_update, document)

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        """Check the sender's address (unless `verify` is off for a notification checked when
        it arrived), then re-read the object the notification names from the API and report
        what the API says. The body's own statuses and amounts are never used.

        The event's identity (for de-duplication) is `{event}:{object id}`; when the API does
        not bear the event out (it says `pending` to a `payment.succeeded`), a suffix
        `:unconfirmed:{status}` keeps the real event, when it comes, from being a duplicate.

        Raises `NotificationRejected` for a sender outside the allow-list, an unreadable body,
        or an object the API does not confirm; `ProviderUnavailable` if the API did not answer
        (Kassa stores the notification and re-reads it later)."""
        if verify:
            self.check_source(request)
        event, object_id = read_notification(request.body)
        event_key = f"{event}:{object_id}"
        update: PaymentUpdate | RefundUpdate
        if event in PAYMENT_EVENTS:
            update = _read(payment_update, await self._reread(event, "payments", object_id))
            reported = update.provider_payment_id
        elif event == REFUND_EVENT:
            update = _read(refund_update, await self._reread(event, "refunds", object_id))
            reported = update.provider_refund_id
        else:
            return Notification(event_key)  # payouts, deals...: nothing Kassa keeps
        if reported != object_id:
            raise ProviderUnavailable(f"YooKassa answered about {reported}, not {object_id}")
        if _stage(update) < _CLAIMED_STAGE[event]:
            # The API does not bear the event out (yet): a copy sent too early, or made up
            # (`kassa simulate`). Copies of it are duplicates of one another, but the real
            # event, when it comes, must not be taken for one.
            event_key += f":unconfirmed:{update.status}"
        return Notification(event_key, updates=(update,))

    async def _reread(self, event: str, collection: str, object_id: str) -> Any:
        """The object a notification names, as the API has it now, read within a short
        time; an object the API refuses to show does not exist for this shop."""
        configured = self.http.timeout.read
        seconds = NOTIFICATION_TIMEOUT if configured is None else configured
        limit = httpx.Timeout(min(seconds, NOTIFICATION_TIMEOUT))
        try:
            return await self._call("GET", f"/{collection}/{object_id}", limit=limit)
        except ProviderDeclined as exc:
            raise NotificationRejected(
                f"YooKassa's API does not confirm {event} about {object_id}: {exc.message}"
            ) from exc

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        """The notification YooKassa would send for `event` about `payment`, its object built
        from what Kassa knows. Kassa never believes a notification's body: it re-reads the
        object from YooKassa's API, so a simulation checks the path (URL, proxy, address
        allow-list, API credentials) and changes the payment only as far as the API agrees.
        A `refund.succeeded` names a refund id made up from the payment's, which the API does
        not know: expect it to be rejected, with the API's answer as the reason."""
        ref = self._ref(payment)
        document: dict[str, Any]
        if event == REFUND_EVENT:
            document = {
                "id": f"simulated-{payment.id}",
                "payment_id": ref,
                "status": YooKassaRefundStatus.SUCCEEDED.value,
                "amount": wire.value_amount(
                    payment.amount_captured or payment.amount, payment.currency
                ),
                "created_at": _timestamp(payment.updated_at),
            }
        elif event in PAYMENT_EVENTS:
            document = self._simulated_payment(
                payment, ref, YooKassaStatus(event.removeprefix("payment."))
            )
        else:
            raise NotSupported(f"YooKassa sends no {event!r} notification Kassa can simulate")
        body = {"type": "notification", "event": event, "object": document}
        return SimulatedNotification(
            method="POST",
            headers={"content-type": "application/json"},
            body=json.dumps(body, ensure_ascii=False).encode(),
        )

    def _simulated_payment(
        self, payment: Payment, ref: str, status: YooKassaStatus
    ) -> dict[str, Any]:
        captured = status == YooKassaStatus.SUCCEEDED
        amount = payment.amount_captured if captured and payment.amount_captured else payment.amount
        document: dict[str, Any] = {
            "id": ref,
            "status": status.value,
            "paid": status in (YooKassaStatus.WAITING_FOR_CAPTURE, YooKassaStatus.SUCCEEDED),
            "amount": wire.value_amount(amount, payment.currency),
            "created_at": _timestamp(payment.created_at),
            "description": truncate(payment.description or ""),
            "metadata": {METADATA_KEY: payment.id},
            "recipient": {"account_id": self.account.credentials["shop_id"]},
            "refundable": captured,
            "test": payment.test,
        }
        if captured:
            document["captured_at"] = _timestamp(payment.updated_at)
        if status == YooKassaStatus.CANCELED:
            held = payment.status == PaymentStatus.REQUIRES_CAPTURE
            document["cancellation_details"] = (
                {"party": "merchant", "reason": "canceled_by_merchant"}
                if held
                else {"party": "payment_network", "reason": "general_decline"}
            )
        return document

    @classmethod
    def reply(cls, verdict: Verdict, message: str, check: CheckResult | None = None) -> HookReply:
        """YooKassa ignores the body and resends anything not answered 200, for 24 hours.
        So: 200 for accepted, duplicate and pending (stored; Kassa's worker re-reads it, and a
        resend would be a duplicate anyway), 403 for a rejected one (the sender was not
        YooKassa, or the API did not confirm it: a resend may come from the real YooKassa
        once the set-up is fixed)."""
        status = 403 if verdict == Verdict.REJECTED else 200
        return HookReply.json(status, {"verdict": verdict.value, "message": message})

    @staticmethod
    def _ref(payment: Payment) -> str:
        if not payment.provider_payment_id:
            raise ProviderDeclined("The payment has no YooKassa id yet")
        return quote(payment.provider_payment_id, safe="")
