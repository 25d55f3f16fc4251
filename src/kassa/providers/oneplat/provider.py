"""1Plat's provider: the HTTP calls, callbacks proved by their signatures and then re-read from
`order/info`, and the callbacks `kassa simulate` sends. The wire format, and how Kassa reads
1Plat's statuses, are in `wire.py`; which facts are unverified, in its docstring."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import quote

from kassa.domain import (
    KassaError,
    NotificationRejected,
    NotSupported,
    Payment,
    PaymentUpdate,
    ProviderDeclined,
    ProviderNotConfigured,
    ProviderUnavailable,
    SignatureInvalid,
)
from kassa.domain.translatable import N_
from kassa.providers import wire as shared
from kassa.providers.base import (
    CredentialField,
    InboundRequest,
    Notification,
    PaymentRequest,
    Provider,
    ProviderPayment,
    SimulatedNotification,
    send,
)
from kassa.providers.oneplat.wire import (
    CURRENCY,
    DEFAULT_METHOD,
    METHODS,
    SUCCEED_ON,
    OnePlatStatus,
    Order,
    created_payment,
    load,
    read_callback,
    read_order,
    signature_v2,
    whole_rubles,
)

T = TypeVar("T")

#: The events `kassa simulate` sends, each a callback with that status.
SIMULATED: Mapping[str, OnePlatStatus] = MappingProxyType(
    {
        "paid": OnePlatStatus.PAID,
        "confirmed": OnePlatStatus.CONFIRMED,
        "no_requisites": OnePlatStatus.NO_REQUISITES,
    }
)


def _read(reader: Callable[[Any], T], document: Any) -> T:
    return shared.read_answer(reader, document, provider="1Plat")


class OnePlatProvider(Provider):
    """1Plat (1plat.cash): card and SBP transfers to requisites it issues per payment."""

    name = "oneplat"
    title = "1Plat"
    default_api_url = "https://1plat.cash"
    methods = frozenset(METHODS)
    currencies = frozenset({CURRENCY})
    # No refund, cancel or two-stage call is documented (NOT FOUND): the base class refuses
    # them with `NotSupported`, and the capabilities say so to the API and the admin.
    credential_fields = (
        CredentialField("shop_id", N_("The shop's id in 1Plat's cabinet (the x-shop header).")),
        CredentialField(
            "secret",
            N_("The shop's secret key from 1Plat's cabinet (x-secret; it signs callbacks)."),
            secret=True,
        ),
        CredentialField(
            "succeed_on",
            N_(
                "The 1Plat status that makes a payment succeeded: 1 (paid; as integrations "
                "credit) or 2 (confirmed; safer, but never comes if the shop must confirm)."
            ),
            required=False,
            default="1",
        ),
        CredentialField(
            "verification",
            N_("The text 1Plat asks the site to serve at /1plat.txt to prove it owns it."),
            required=False,
        ),
    )
    simulated_events = tuple(SIMULATED)
    public_files = MappingProxyType({"/1plat.txt": "verification"})

    @property
    def _shop_id(self) -> str:
        return self.account.credentials["shop_id"]

    @property
    def _secret(self) -> str:
        return self.account.credentials["secret"]

    def succeed_on(self, refusal: type[KassaError] = ProviderNotConfigured) -> int:
        """The first 1Plat status that counts as paid (the `succeed_on` setting). Any value
        but 1 or 2 raises `refusal`: a merchant's create is refused as a set-up error, a
        callback is rejected (and resent), reconciliation asks again later."""
        value = self.account.credentials.get("succeed_on") or "1"
        if value not in SUCCEED_ON:
            raise refusal(
                f"1Plat's succeed_on is {value!r}; set it to 1 or 2 with "
                "`kassa providers configure SHOP oneplat succeed_on=…`"
            )
        return int(value)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"x-shop": self._shop_id, "x-secret": self._secret}
        response = await send(self.http, method, self.api_url + path, json=body, headers=headers)
        try:
            document = load(response.content)
        except ValueError:
            document = None
        if response.status_code == 429:
            # Nothing was done and asking again later will do: not a refusal.
            raise ProviderUnavailable("1Plat asks to slow down (HTTP 429)")
        if response.status_code >= 400:
            error = document if isinstance(document, dict) else {}
            message = error.get("message") or error.get("error")
            text = message if isinstance(message, str) else f"HTTP {response.status_code}"
            raise ProviderDeclined(f"1Plat refused: {text}", provider_message=text)
        if document is None:
            raise ProviderUnavailable("1Plat answered something that is not JSON")
        return document

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        """Create the order. Kopecks are refused before 1Plat is called; 1Plat's idempotency
        is NOT FOUND, so Kassa's id is sent as `merchant_order_id` and a create is never
        repeated by Kassa itself."""
        amount = whole_rubles(request.amount)
        method = METHODS[request.method or DEFAULT_METHOD]
        self.succeed_on()  # a misconfigured account is refused before 1Plat is called
        body = {
            "merchant_order_id": request.payment_id,
            "user_id": request.customer or request.payment_id,
            "amount": int(amount),
            "method": method,
        }
        document = await self._call("POST", "/api/merchant/order/create/by-api", body)
        return _read(lambda found: created_payment(found, method=method), document)

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        succeed_on = self.succeed_on(ProviderDeclined)
        return (await self._order(self._ref(payment))).update(succeed_on=succeed_on)

    async def _order(self, guid: str) -> Order:
        document = await self._call(
            "GET", f"/api/merchant/order/info/{quote(guid, safe='')}/by-api"
        )
        order = _read(read_order, document)
        if order.guid != guid:
            raise ProviderUnavailable(f"1Plat answered about {order.guid}, not {guid}")
        return order

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        """Prove the callback (`signature_v2` or `signature`, unless `verify` is off for one
        proved when it arrived), then re-read the order from `order/info` and report only
        what 1Plat's API says. The event's identity is `{guid}:{status}`, the status as the
        API has it: copies of one callback are duplicates, the next status is not.

        Raises `SignatureInvalid` for a callback neither signature proves,
        `NotificationRejected` for one that is unreadable or that the API contradicts
        (another `merchant_order_id`), `ProviderUnavailable` if the API did not answer (Kassa
        keeps the callback and re-reads it later)."""
        callback = read_callback(request.body)
        if verify and not callback.signed_by(self._shop_id, self._secret):
            raise SignatureInvalid("1Plat callback: neither signature_v2 nor signature matches")
        succeed_on = self.succeed_on(NotificationRejected)
        try:
            order = await self._order(callback.guid)
        except ProviderDeclined as exc:
            raise NotificationRejected(
                f"1Plat's API does not confirm the callback about {callback.guid}: {exc.message}"
            ) from exc
        if (
            callback.merchant_order_id is not None
            and order.merchant_order_id is not None
            and callback.merchant_order_id != order.merchant_order_id
        ):
            raise NotificationRejected(
                f"1Plat callback names order {callback.merchant_order_id}, its API "
                f"{order.merchant_order_id}"
            )
        event_key = f"{order.guid}:{order.code}"
        if order.status is None:
            return Notification(event_key)  # an unknown status: kept, answered, not applied
        return Notification(event_key, updates=(order.update(succeed_on=succeed_on),))

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        """The callback 1Plat would send for `event` about `payment`, signed with
        `signature_v2`. Kassa re-reads the order from 1Plat's API, so a simulation changes
        the payment only as far as the API agrees."""
        status = SIMULATED.get(event)
        if status is None:
            raise NotSupported(f"1Plat sends no {event!r} callback Kassa can simulate")
        amount = whole_rubles(payment.amount)
        body = {
            "payment_id": payment.provider_payment_id,
            "guid": self._ref(payment),
            "merchant_id": self._shop_id,
            "merchant_order_id": payment.id,
            "status": int(status),
            "amount": int(amount),
            "signature_v2": signature_v2(self._shop_id, amount, self._shop_id, self._secret),
        }
        return SimulatedNotification(
            method="POST",
            headers={"content-type": "application/json"},
            body=json.dumps(body).encode(),
        )

    @staticmethod
    def _ref(payment: Payment) -> str:
        if not payment.provider_payment_id:
            raise ProviderDeclined("The payment has no 1Plat guid yet")
        return payment.provider_payment_id
