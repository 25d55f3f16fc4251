"""YooKassa's provider: the HTTP calls (with their 202 repeats and errors), notifications
confirmed by re-reading their object, and the notifications `kassa simulate` sends. The wire
format, and how Kassa reads YooKassa's statuses, are in `wire.py`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar
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
    SimulatedNotification,
    Verdict,
    send,
)
from kassa.providers.yookassa.wire import (
    CLAIMED_STAGE,
    METADATA_KEY,
    METHODS,
    PAYMENT_EVENTS,
    REFUND_EVENT,
    YooKassaRefundStatus,
    YooKassaStatus,
    created_payment,
    payment_update,
    read_notification,
    receipt_document,
    refund_update,
    stage,
    timestamp,
    truncate,
)

T = TypeVar("T")

JSON = "application/json"


def _read(reader: Callable[[Any], T], document: Any) -> T:
    return wire.read_answer(reader, document, provider="YooKassa")


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


class YooKassaProvider(Provider):
    """YooKassa; see `wire.py` for its wire format and how Kassa reads it."""

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
    sends_receipts = True
    #: As YooKassa's official SDKs (Python, PHP) list them.
    notification_networks = (
        "185.71.76.0/27",
        "185.71.77.0/27",
        "77.75.153.0/25",
        "77.75.154.128/25",
        "77.75.156.11",
        "77.75.156.35",
        "2a02:5180:0:1509::/64",
        "2a02:5180:0:2655::/64",
        "2a02:5180:0:1533::/64",
        "2a02:5180:0:2669::/64",
    )

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
                content=None if body is None else wire.json_body(body),
                headers=headers if body is None else {**headers, "content-type": JSON},
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
        if request.receipt:
            body["receipt"] = receipt_document(request.receipt, request.currency)
        document = await self._call("POST", "/payments", key=request.payment_id, body=body)
        return _read(created_payment, document)

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        return _read(payment_update, await self._call("GET", f"/payments/{self._ref(payment)}"))

    async def capture(self, payment: Payment, amount: int) -> PaymentUpdate:
        """Take `amount`; a capture of less than the payment carries the receipt for what is
        taken, as YooKassa asks."""
        body: dict[str, Any] = {"amount": wire.value_amount(amount, payment.currency)}
        if payment.receipt and amount != payment.amount:
            body["receipt"] = receipt_document(payment.receipt.for_amount(amount), payment.currency)
        document = await self._call(
            "POST",
            f"/payments/{self._ref(payment)}/capture",
            key=f"{payment.id}:capture",
            body=body,
        )
        update = _read(payment_update, document)
        if update.amount_captured is not None and update.amount_captured > amount:
            update = replace(update, amount_captured=amount)  # see wire.py's docstring
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
        body: dict[str, Any] = {
            "payment_id": self._ref(payment),
            "amount": wire.value_amount(refund.amount, refund.currency),
        }
        if payment.receipt:
            body["receipt"] = receipt_document(
                payment.receipt.for_amount(refund.amount), refund.currency
            )
        document = await self._call("POST", "/refunds", key=refund.id, body=body)
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
        if stage(update) < CLAIMED_STAGE[event]:
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
                "created_at": timestamp(payment.updated_at),
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
            "created_at": timestamp(payment.created_at),
            "description": truncate(payment.description or ""),
            "metadata": {METADATA_KEY: payment.id},
            "recipient": {"account_id": self.account.credentials["shop_id"]},
            "refundable": captured,
            "test": payment.test,
        }
        if captured:
            document["captured_at"] = timestamp(payment.updated_at)
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
