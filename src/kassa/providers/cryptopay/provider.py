"""Crypto Pay's provider: the API calls (createInvoice, getInvoices, deleteInvoice), webhooks
proved by their HMAC, and the webhooks `kassa simulate` sends. The wire format, and how Kassa
reads an invoice, are in `wire.py`."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from kassa.domain import (
    NotificationRejected,
    NotSupported,
    ParameterInvalid,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderDeclined,
    ProviderUnavailable,
)
from kassa.domain.translatable import N_
from kassa.providers import wire as shared
from kassa.providers.base import (
    Capabilities,
    CredentialField,
    InboundRequest,
    InvoiceLinkConfirmation,
    Notification,
    PaymentRequest,
    Provider,
    ProviderPayment,
    SimulatedNotification,
    send,
)
from kassa.providers.cryptopay.wire import (
    ASSETS,
    FIAT,
    LINKS,
    MAINNET_URL,
    PAID_UPDATE,
    SIGNATURE_HEADER,
    TESTNET_URL,
    TOKEN_HEADER,
    ApiError,
    check_fresh,
    invoice_id,
    invoice_link,
    invoice_params,
    invoice_update,
    read_envelope,
    read_update,
    sign,
    timestamp,
    verify_signature,
    wire_amount,
)

#: `accepted_assets` as Crypto Pay takes it: asset codes, comma-separated, no spaces.
_ASSET_LIST = re.compile(r"[A-Z0-9]{2,10}(,[A-Z0-9]{2,10})*")


class CryptoPayProvider(Provider):
    """Crypto Pay (@CryptoBot): invoices in crypto or in fiat, paid in Telegram. Kassa's
    default answers to webhooks suit it: it wants HTTP 200, and resends anything else (a
    rejected one, 401; one whose applying failed, 500) for 3 days."""

    name = "cryptopay"
    title = "Crypto Pay"
    default_api_url = MAINNET_URL
    methods = frozenset({"crypto"})
    currencies = FIAT | ASSETS
    # No refunds: Crypto Pay has no refund call (money goes back by `transfer`, by hand).
    capabilities = Capabilities(cancel=True)
    credential_fields = (
        CredentialField(
            "token",
            N_("The app's API token (@CryptoBot → Crypto Pay → My Apps); also signs webhooks."),
            secret=True,
        ),
        CredentialField(
            "testnet",
            N_(
                "true: the app is @CryptoTestnetBot's (testnet-pay.crypt.bot), for test "
                "accounts only; by default, as the account's test mode."
            ),
            required=False,
        ),
        CredentialField(
            "accepted_assets",
            N_(
                "The assets a fiat invoice may be paid in, comma-separated (USDT,TON); "
                "all if empty."
            ),
            required=False,
        ),
        CredentialField(
            "link",
            N_("Which invoice link the payer gets: bot, mini_app or web_app."),
            required=False,
            default="bot",
        ),
    )
    simulated_events = (PAID_UPDATE,)

    @property
    def _token(self) -> str:
        return self.account.credentials["token"]

    @classmethod
    def check_credentials(cls, credentials: Mapping[str, str], *, test: bool) -> None:
        _base(credentials, test=test, api_url=None)
        _link(credentials)
        assets = credentials.get("accepted_assets") or ""
        if assets and not _ASSET_LIST.fullmatch(assets):
            raise ParameterInvalid(
                f"accepted_assets is a comma-separated list of assets (USDT,TON), not {assets!r}",
                param="accepted_assets",
            )

    @property
    def base_url(self) -> str:
        """Where the calls go (see `_base`)."""
        return _base(self.account.credentials, test=self.account.test, api_url=self.account.api_url)

    async def _call(self, method: str, params: dict[str, str]) -> Any:
        """One API call, GET with a query string as Crypto Pay's libraries make them; a
        refusal is `ProviderDeclined` with Crypto Pay's error name."""
        response = await send(
            self.http,
            "GET",
            f"{self.base_url}/{method}",
            params=params,
            headers={TOKEN_HEADER: self._token},
        )
        if response.status_code == 429:
            raise ProviderUnavailable("Crypto Pay asks to slow down (HTTP 429)")
        try:
            document = response.json()
        except ValueError:
            document = None
        refused = isinstance(document, dict) and document.get("ok") is False
        if response.status_code >= 400 and not refused:
            # A refusal whatever the body (a proxy's page, say): nothing was done.
            status = response.status_code
            document = {"ok": False, "error": {"code": status, "name": f"HTTP {status}"}}
        result = shared.read_answer(read_envelope, document, provider="Crypto Pay")
        if isinstance(result, ApiError):
            raise ProviderDeclined(
                f"Crypto Pay refused {method}: {result.name}",
                provider_code=result.name,
                provider_message=result.name,
            )
        return result

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        """Create the invoice. Crypto Pay has no idempotency key for it: Kassa's id travels in
        `payload`, so a second invoice made by a retry after a lost answer still names the
        payment it is for."""
        expires_in = None
        if request.expires_at is not None:
            now = request.created_at or datetime.now(UTC)
            expires_in = math.ceil((request.expires_at - now).total_seconds())
        params = invoice_params(
            payment_id=request.payment_id,
            amount=request.amount,
            currency=request.currency,
            description=request.description,
            expires_in=expires_in,
            accepted_assets=self.account.credentials.get("accepted_assets") or None,
            return_url=request.return_url,
        )
        link = _link(self.account.credentials)  # checked before anything is sent, as the URL is
        invoice = await self._call("createInvoice", params)

        def created(document: Any) -> ProviderPayment:
            return ProviderPayment(
                provider_payment_id=invoice_id(document),
                confirmation=InvoiceLinkConfirmation(invoice_link(document, link)),
                status=invoice_update(document).status,
            )

        return shared.read_answer(created, invoice, provider="Crypto Pay")

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        """The invoice as `getInvoices` shows it. One it no longer shows was deleted (by
        Kassa's cancel whose answer was lost, or by hand in the app): nobody can pay it, so
        the payment is reported `canceled`, with the failure code `deleted`; left `pending`,
        it would be asked about, and kept open past its expiry, for ever."""
        invoice = await self._invoice(payment)
        if invoice is None:
            return PaymentUpdate(
                status=PaymentStatus.CANCELED,
                payment_id=payment.id,
                provider_payment_id=payment.provider_payment_id,
                failure_code="deleted",
                failure_message=f"Crypto Pay has no invoice {payment.provider_payment_id} any more",
            )
        return shared.read_answer(invoice_update, invoice, provider="Crypto Pay")

    async def cancel(self, payment: Payment) -> PaymentUpdate:
        """Delete the invoice. If Crypto Pay refuses, the invoice may have been paid (or may
        have expired) meanwhile: what it says about it now is reported instead."""
        try:
            await self._call("deleteInvoice", {"invoice_id": self._ref(payment)})
        except ProviderDeclined:
            reported = await self.fetch(payment)
            if reported.status == PaymentStatus.PENDING:
                raise
            return reported
        return PaymentUpdate(
            status=PaymentStatus.CANCELED,
            payment_id=payment.id,
            provider_payment_id=payment.provider_payment_id,
        )

    async def _invoice(self, payment: Payment) -> Any:
        result = await self._call("getInvoices", {"invoice_ids": self._ref(payment)})

        def found(document: Any) -> Any:
            items = document["items"] if isinstance(document, dict) else document
            for item in items:
                if invoice_id(item) == payment.provider_payment_id:
                    return item
            return None

        return shared.read_answer(found, result, provider="Crypto Pay")

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        """Check the HMAC over the raw body and the date (unless `verify` is off for one
        checked when it arrived), then read the invoice the webhook carries. The body is
        believed: only Crypto Pay and the app know the token that signs it.

        The event's identity is `invoice_paid:{invoice_id}`, not the `update_id`: an invoice
        is paid once, so every copy of its webhook, whatever its update_id (a resend, or a
        new update about the same payment), is a duplicate. Other update types (none is
        documented) are stored under `{type}:{update_id}` and change nothing."""
        if verify:
            verify_signature(self._token, request.body, request.headers.get(SIGNATURE_HEADER))
        update = read_update(request.body)
        if verify:
            check_fresh(update, datetime.now(UTC))
        if update.update_type != PAID_UPDATE:
            return Notification(f"{update.update_type}:{update.update_id}")
        reported = _read_invoice(update.invoice)
        return Notification(f"{PAID_UPDATE}:{reported.provider_payment_id}", updates=(reported,))

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        """The `invoice_paid` webhook Crypto Pay would send about `payment`, signed with the
        account's token. The body is believed once its signature matches, so a simulation
        pays the (test) payment."""
        if event != PAID_UPDATE:
            raise NotSupported(f"Crypto Pay sends no {event!r} webhook Kassa can simulate")
        now = datetime.now(UTC)
        amount = wire_amount(payment.amount, payment.currency)
        invoice: dict[str, Any] = {
            "invoice_id": int(payment.provider_payment_id or "1"),
            "hash": f"IV{payment.id[-12:]}",
            "status": "paid",
            "amount": amount,
            "payload": payment.id,
            "created_at": timestamp(payment.created_at),
            "paid_at": timestamp(now),
            "allow_comments": True,
            "allow_anonymous": True,
        }
        if payment.currency in FIAT:
            invoice |= {"currency_type": "fiat", "fiat": payment.currency, "paid_asset": "USDT"}
        else:
            invoice |= {"currency_type": "crypto", "asset": payment.currency}
            invoice |= {"paid_asset": payment.currency, "paid_amount": amount}
        document = {
            "update_id": int(now.timestamp()),
            "update_type": PAID_UPDATE,
            "request_date": timestamp(now),
            "payload": invoice,
        }
        body = json.dumps(document, separators=(",", ":")).encode()
        return SimulatedNotification(
            method="POST",
            headers={"content-type": "application/json", SIGNATURE_HEADER: sign(self._token, body)},
            body=body,
        )

    @staticmethod
    def _ref(payment: Payment) -> str:
        if not payment.provider_payment_id:
            raise ProviderDeclined("The payment has no Crypto Pay invoice yet")
        return quote(payment.provider_payment_id, safe="")


def _testnet(credentials: Mapping[str, str], *, test: bool) -> bool:
    """Whether the account is a testnet app: `testnet` if set, else its test mode."""
    return shared.flag(credentials, "testnet", default=test)


def _base(credentials: Mapping[str, str], *, test: bool, api_url: str | None) -> str:
    """Where an account's calls go: its `api_url` if set, else the testnet's or the mainnet's
    host. A live account is never a testnet app, whose money is play money: its payments would
    succeed unpaid."""
    testnet = _testnet(credentials, test=test)
    if testnet and not test:
        raise ParameterInvalid(
            "A Crypto Pay testnet app can only be a test account (test=true)", param="testnet"
        )
    return (api_url.rstrip("/") if api_url else None) or (TESTNET_URL if testnet else MAINNET_URL)


def _link(credentials: Mapping[str, str]) -> str:
    """Which invoice link the payer gets (the `link` setting)."""
    link = credentials.get("link") or "bot"
    if link not in LINKS:
        raise ParameterInvalid(
            f"link must be one of {', '.join(LINKS)}, not {link!r}", param="link"
        )
    return link


def _read_invoice(invoice: Any) -> PaymentUpdate:
    """The invoice a verified webhook carries; an unreadable one is refused."""
    try:
        return invoice_update(invoice)
    except shared.MALFORMED as exc:
        raise NotificationRejected(f"Unreadable Crypto Pay invoice: {exc!r}") from exc
