"""Telegram Stars: payments in Telegram's own currency (`XTR`), taken by the shop's bot.

The wire side, stateless as every provider (reference: providers.md §4):

- `create` calls the Bot API's `createInvoiceLink` with the bot's token (`bot_token`, the
  account's secret): currency `XTR`, an empty `provider_token`, exactly one price of whole
  Stars (the amount is the number of Stars: `XTR` has no minor unit, never times 100), and
  Kassa's payment id as the `payload` (1-128 bytes), which Telegram echoes back in the
  pre-checkout query and in `successful_payment`. The payer gets the link
  (`InvoiceLinkConfirmation`). In the chat the shop's bot sends the same invoice with
  `sendInvoice` (`invoice_params`). Telegram has no idempotency key: a second link made by
  a retry pays the same payment, and only one payment is ever taken for it (the bot's
  pre-checkout answer refuses a payment no longer pending).
- Telegram does not notify Kassa: `successful_payment` reaches the shop's bot over its own
  authenticated channel (long polling with its token, or a webhook checked by its secret
  token). The bot hands the update to `kassa.services.providers.telegram_stars.paid`, which
  signs it with the account's `notice_secret` (a secret Kassa generates and keeps, as the
  USDT-TRC20 watcher's) and ingests it through the core's notification path; here
  `parse_notification` checks that signature, so nothing posted to
  `/hooks/telegram_stars/…` by anyone else is believed. The event's identity is the
  `telegram_payment_charge_id`, so every copy of one payment is a duplicate.
- The payment's `provider_payment_id` is `{user_id}:{telegram_payment_charge_id}`: a refund
  (`refundStarPayment`) needs both the buyer's Telegram user id and the charge id, and only
  the `successful_payment` update knows who paid (a link can be paid by anyone who has it;
  the payment's `customer` is whatever the merchant named). Charge ids hold no `:`.
- Test accounts use Telegram's test environment (`/bot<token>/test/<method>`, a bot made
  with the test environment's @BotFather, free Stars) unless `test_environment=false`; a
  live account never does. The path is third-party knowledge, not in the reference.
- Refunds return the whole charge (Telegram has no partial refund of Stars); a repeat is
  `CHARGE_ALREADY_REFUNDED` at Telegram, which a retry after a lost answer takes as done.
- A successful payment the bot did not hand over is given to it again by Telegram, which
  keeps an update until the bot confirms it (`getUpdates` with a higher offset); and `fetch`
  (reconciliation, the "check payment" button) finds it among the bot's Stars transactions
  (`getStarTransactions`). That a user's payment there carries the `invoice_payload` and
  that the list is oldest first is third-party documentation (aiogram, python-telegram-bot),
  not the reference: were the list newest first, `fetch` would find nothing (never a wrong
  success).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kassa.domain import (
    Money,
    NotificationRejected,
    NotSupported,
    ParameterInvalid,
    Payment,
    PaymentStatus,
    PaymentUpdate,
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
    InvoiceLinkConfirmation,
    Notification,
    PaymentRequest,
    Provider,
    ProviderPayment,
    SimulatedNotification,
    send,
)

CURRENCY = "XTR"
#: The header carrying the signature of the bot's notifications (Kassa's own).
SIGNATURE_HEADER = "x-kassa-bot-signature"
#: The event `kassa simulate` sends: a `successful_payment` message, as the bot hands it over.
SUCCESSFUL_PAYMENT = "successful_payment"
#: The Bot API's limits on an invoice [reference §4.1].
TITLE_LIMIT, DESCRIPTION_LIMIT, PAYLOAD_LIMIT = 32, 255, 128
#: Telegram's refusal of a second refund of one charge [official, reference §4.3].
ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"
DEFAULT_TITLE = "Payment"
#: `getStarTransactions`' largest page [third-party documentation].
PAGE = 100
#: The most calls one `fetch` makes (finding the list's end takes about 2 log2(n / 100)).
MAX_CALLS = 60
#: How far before a payment's creation `fetch` looks: Telegram's clock and Kassa's differ.
CLOCK_SKEW = timedelta(minutes=2)


def invoice_params(
    *, payment_id: str, amount: int, title: str, description: str | None
) -> dict[str, Any]:
    """The parameters of `createInvoiceLink` (and of `sendInvoice`, with a `chat_id`) for a
    payment of `amount` Stars."""
    if len(payment_id.encode()) > PAYLOAD_LIMIT:
        raise ValueError("a payment id longer than Telegram's payload")
    title = (title.strip() or DEFAULT_TITLE)[:TITLE_LIMIT]
    return {
        "title": title,
        "description": ((description or "").strip() or title)[:DESCRIPTION_LIMIT],
        "payload": payment_id,
        "provider_token": "",
        "currency": CURRENCY,
        "prices": [{"label": title, "amount": amount}],
    }


def read_successful_payment(update: Any) -> tuple[int, Mapping[str, Any]]:
    """The payer's user id and the `successful_payment` of a Bot API update (or of its
    message); `ValueError` (or `KeyError`, `TypeError`) if it carries none."""
    message = update.get("message", update) if isinstance(update, dict) else None
    if not isinstance(message, dict):
        raise TypeError("the update holds no message")
    paid, sender = message["successful_payment"], message["from"]
    if not isinstance(paid, dict) or not isinstance(sender, dict):
        raise TypeError("successful_payment and from are objects")
    user_id = sender["id"]
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise TypeError("the payer's id is a number")
    for name in ("currency", "invoice_payload", "telegram_payment_charge_id"):
        wire.text(paid, name)
    if ":" in paid["telegram_payment_charge_id"] or not paid["telegram_payment_charge_id"]:
        raise ValueError("a charge id is a word without ':'")
    total = paid["total_amount"]
    if isinstance(total, bool) or not isinstance(total, int):
        raise TypeError("total_amount is a whole number")
    return user_id, paid


def kept_as(user_id: int, charge: str) -> str:
    """The `provider_payment_id` of a payment by `user_id` whose charge is `charge`."""
    return f"{user_id}:{charge}"


def charge_of(payment: Payment) -> tuple[int, str]:
    """The payer's user id and the charge id kept as the payment's `provider_payment_id`."""
    user, _, charge = (payment.provider_payment_id or "").partition(":")
    if not user.isdigit() or not charge:
        raise ProviderDeclined(f"Payment {payment.id} has no Telegram Stars charge to refund")
    return int(user), charge


class TelegramStarsProvider(Provider):
    """Telegram Stars, through the shop's bot (the Bot API)."""

    name = "telegram_stars"
    title = "Telegram Stars"
    default_api_url = "https://api.telegram.org"
    methods = frozenset({"stars"})
    currencies = frozenset({CURRENCY})
    capabilities = Capabilities(refunds=True)
    notifies_hook_url = False
    simulated_events = (SUCCESSFUL_PAYMENT,)
    credential_fields = (
        CredentialField("bot_token", N_("The bot's token from @BotFather"), secret=True),
        CredentialField(
            "title",
            N_("The invoice's title the buyer sees (up to 32 characters)"),
            required=False,
            default=DEFAULT_TITLE,
        ),
        CredentialField(
            "test_environment",
            N_(
                "true: the bot is in Telegram's test environment, whose Stars are free, for "
                "test accounts only; by default, as the account's test mode."
            ),
            required=False,
        ),
        CredentialField(
            "notice_secret",
            N_("Signs the payments the bot hands to Kassa; Kassa generates it"),
            secret=True,
        ),
    )

    @classmethod
    def generate_credentials(cls) -> dict[str, str]:
        return {"notice_secret": secrets.token_urlsafe(32)}

    @classmethod
    def check_credentials(cls, credentials: Mapping[str, str], *, test: bool) -> None:
        _test_environment(credentials, test=test)

    @property
    def base_url(self) -> str:
        """Where the bot's calls go: `/bot<token>/<method>`, or in Telegram's test environment
        `/bot<token>/test/<method>`."""
        token = self.account.credentials["bot_token"]
        test = _test_environment(self.account.credentials, test=self.account.test)
        return f"{self.api_url}/bot{token}/test" if test else f"{self.api_url}/bot{token}"

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """One Bot API call with the bot's token; the `result` of its answer. A 429 and a
        5xx leave nothing done (`ProviderUnavailable`); a refusal is `ProviderDeclined` with
        Telegram's description. Messages never name the URL: it holds the token."""
        response = await send(self.http, "POST", f"{self.base_url}/{method}", json=dict(params))
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ProviderUnavailable(
                f"Telegram's answer to {method} could not be read (HTTP {response.status_code})"
            )
        if response.status_code == 429 or document.get("error_code") == 429:
            retry_after = (document.get("parameters") or {}).get("retry_after")
            raise ProviderUnavailable(f"Telegram asks to retry {method} after {retry_after} s")
        if document.get("ok") is not True:
            description = str(document.get("description") or f"HTTP {response.status_code}")
            code = description.removeprefix("Bad Request: ")
            raise ProviderDeclined(
                f"Telegram refused {method}: {description}",
                provider_code=code[:100],
                provider_message=description,
            )
        return document.get("result")

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        params = invoice_params(
            payment_id=request.payment_id,
            amount=request.amount,
            title=self.account.credentials.get("title") or DEFAULT_TITLE,
            description=request.description,
        )
        link = await self.call("createInvoiceLink", params)
        if not isinstance(link, str) or not link.startswith("https://"):
            raise ProviderUnavailable("Telegram's invoice link could not be read")
        return ProviderPayment(provider_payment_id=None, confirmation=InvoiceLinkConfirmation(link))

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        """Look for the payment among the bot's Stars transactions (`getStarTransactions`),
        newest first back to its creation: succeeded if one from a user carries its payload
        and its amount, pending otherwise. The list is oldest first, paged by `offset`, and
        its length is not given: its end is found by probing doubling offsets, then halving."""
        pages = _Pages(self)
        since = int((payment.created_at - CLOCK_SKEW).timestamp())
        offset = await pages.end()
        while offset > 0:
            offset = max(0, offset - PAGE)
            page = await pages.at(offset)
            for transaction in page:
                found = _paid_by(transaction, payment)
                if found is not None:
                    return PaymentUpdate(
                        status=PaymentStatus.SUCCEEDED,
                        payment_id=payment.id,
                        provider_payment_id=found,
                        amount=Money(payment.amount, CURRENCY),
                    )
            if not page or _date(page[0]) < since:
                break
        return PaymentUpdate(status=PaymentStatus.PENDING, payment_id=payment.id)

    async def refund(self, payment: Payment, refund: Refund) -> RefundUpdate:
        """Return the whole charge with `refundStarPayment`; a charge refunded already (the
        answer to an earlier try was lost) is taken as refunded."""
        user_id, charge = charge_of(payment)
        try:
            await self.call(
                "refundStarPayment", {"user_id": user_id, "telegram_payment_charge_id": charge}
            )
        except ProviderDeclined as exc:
            if exc.provider_code != ALREADY_REFUNDED:
                raise
        return RefundUpdate(
            status=RefundStatus.SUCCEEDED,
            amount=refund.amount,
            refund_id=refund.id,
            provider_refund_id=charge,
            payment_id=payment.id,
            provider_payment_id=payment.provider_payment_id,
        )

    # The bot's notifications

    def notice(self, update: Mapping[str, Any]) -> SimulatedNotification:
        """The notification of a Bot API update (exactly as the bot received it) that holds a
        `successful_payment`, signed with the account's `notice_secret`."""
        body = json.dumps(dict(update), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: wire.own_signature(self.account.credentials["notice_secret"], body),
        }
        return SimulatedNotification(method="POST", headers=headers, body=body)

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        """A `successful_payment` the shop's bot received and signed: the payment named by
        its payload succeeded, for `total_amount` Stars."""
        if verify:
            expected = wire.own_signature(self.account.credentials["notice_secret"], request.body)
            if not wire.signature_matches(request.headers.get(SIGNATURE_HEADER), expected):
                raise SignatureInvalid(f"{self.title} notification signature does not match")
        try:
            user_id, paid = read_successful_payment(json.loads(request.body))
            amount = Money(paid["total_amount"], CURRENCY)
        except (*wire.MALFORMED,) as exc:
            raise NotificationRejected(f"unreadable {self.title} notification: {exc}") from None
        if paid["currency"] != CURRENCY:
            raise NotificationRejected(f"a {self.title} payment is in {CURRENCY}")
        charge = paid["telegram_payment_charge_id"]
        update = PaymentUpdate(
            status=PaymentStatus.SUCCEEDED,
            payment_id=paid["invoice_payload"],
            provider_payment_id=kept_as(user_id, charge),
            amount=amount,
        )
        return Notification(event_key=charge, updates=(update,))

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        """The `successful_payment` the bot would hand over for `payment`, paid by a made-up
        user (for test accounts: no Stars moved anywhere)."""
        if event != SUCCESSFUL_PAYMENT:
            raise NotSupported(f"{self.title} has no event {event!r}; it has: {SUCCESSFUL_PAYMENT}")
        user = {"id": 100_000_001, "is_bot": False, "first_name": "Test"}
        update = {
            "update_id": secrets.randbelow(10**9),
            "message": {
                "message_id": secrets.randbelow(10**6),
                "from": user,
                "chat": {"id": user["id"], "type": "private", "first_name": "Test"},
                "date": int(datetime.now(UTC).timestamp()),
                "successful_payment": {
                    "currency": CURRENCY,
                    "total_amount": payment.amount,
                    "invoice_payload": payment.id,
                    "telegram_payment_charge_id": f"stxsimulated{secrets.token_hex(16)}",
                    "provider_payment_charge_id": "",
                },
            },
        }
        return self.notice(update)


def _test_environment(credentials: Mapping[str, str], *, test: bool) -> bool:
    """Whether the bot is in Telegram's test environment: `test_environment` if set, else the
    account's test mode. A live account never is: its orders would be paid in free Stars."""
    chosen = wire.flag(credentials, "test_environment", default=test)
    if chosen and not test:
        raise ParameterInvalid(
            "A bot in Telegram's test environment can only be a test account (test=true)",
            param="test_environment",
        )
    return chosen


class _Pages:
    """The bot's Stars transactions as `fetch` reads them: pages by offset, each read once,
    at most `MAX_CALLS` calls."""

    def __init__(self, provider: TelegramStarsProvider) -> None:
        self.provider = provider
        self.read: dict[int, list[Any]] = {}

    async def at(self, offset: int) -> list[Any]:
        if offset not in self.read:
            if len(self.read) >= MAX_CALLS:
                raise ProviderUnavailable("Too many Telegram Stars transactions to look through")
            result = await self.provider.call(
                "getStarTransactions", {"offset": offset, "limit": PAGE}
            )
            page = result.get("transactions") if isinstance(result, dict) else None
            if not isinstance(page, list):
                raise ProviderUnavailable("Telegram's list of Stars transactions is unreadable")
            self.read[offset] = page
        return self.read[offset]

    async def end(self) -> int:
        """How many transactions there are: the first page that is not full, found by
        doubling the offset, then by halving the last gap (in whole pages)."""
        low, high = 0, 0
        while len(await self.at(high)) == PAGE:
            low, high = high, max(PAGE, high * 2)
        # Pages from `low` are full up to some page at most `high`, which is not.
        while high - low > PAGE:
            middle = low + (high - low) // (2 * PAGE) * PAGE
            if len(await self.at(middle)) == PAGE:
                low = middle
            else:
                high = middle
        last = high if len(await self.at(low)) == PAGE else low
        return last + len(await self.at(last))


def _date(transaction: Any) -> int:
    date = transaction.get("date") if isinstance(transaction, dict) else None
    return date if isinstance(date, int) and not isinstance(date, bool) else 0


def _paid_by(transaction: Any, payment: Payment) -> str | None:
    """`{user id}:{charge id}` if `transaction` is a user's payment of `payment` (its payload
    and amount), else None."""
    if not isinstance(transaction, dict):
        return None
    source = transaction.get("source")
    if not isinstance(source, dict) or source.get("type") != "user":
        return None
    if source.get("invoice_payload") != payment.id or transaction.get("amount") != payment.amount:
        return None
    user = (source.get("user") or {}).get("id")
    charge = transaction.get("id")
    if isinstance(user, bool) or not isinstance(user, int) or not isinstance(charge, str):
        return None
    return kept_as(user, charge) if charge and ":" not in charge else None
