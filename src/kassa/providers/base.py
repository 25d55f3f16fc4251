"""The one interface every provider implements, and the values that cross it.

A provider translates between Kassa's domain and one provider's wire format. It is stateless:
it gets a provider account and an injected `httpx.AsyncClient`, and it never touches the
database or the web framework. The services layer persists what it returns.

Operations a provider does not offer raise `NotSupported`; what it does offer is declared as
data (`methods`, `currencies`, `capabilities`) for the API, the CLI and the admin UI. So is
everything else about it that Kassa's other layers need, so that a provider is one module (or
package): what the payer must do (one of the typed confirmations), what Kassa's payer page
shows for it (`payer_page`, `payer_script`), and where its unsigned notifications come from
(`notification_networks`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import httpx

from kassa.domain import (
    Money,
    NotificationRejected,
    NotSupported,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderAccount,
    ProviderUnavailable,
    ReceiptUpdate,
    Refund,
    RefundUpdate,
)
from kassa.domain.receipts import Receipt

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do beyond taking a payment."""

    two_stage: bool = False
    partial_capture: bool = False
    cancel: bool = False
    refunds: bool = False
    partial_refunds: bool = False


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One setting of a provider account, named as the provider names it. `description`
    is English marked for translation (`N_`); `default`, if any, is what an empty value
    means."""

    name: str
    description: str
    secret: bool = False
    required: bool = True
    default: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What Kassa asks a provider to create. `payment_id` is Kassa's own id for the payment."""

    payment_id: str
    amount: int
    currency: str
    capture: bool
    method: str | None = None
    description: str | None = None
    customer: str | None = None
    return_url: str | None = None
    expires_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: The shop's terminal (kiosk) to take the payment at, for the `terminal` provider.
    terminal: str | None = None
    created_at: datetime | None = None
    #: What the provider's state module in services recorded for this payment before the
    #: provider is called (`kassa.services.providers`: TRC20's reserved amount), as text.
    prepared: Mapping[str, str] = field(default_factory=dict)
    #: The fiscal receipt to send with the payment, for a provider that `sends_receipts`;
    #: None: send none.
    receipt: Receipt | None = None


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """Work for a shop's terminal that Kassa must queue with the payment (in its
    transaction), for providers that take payments at the shop's own terminals."""

    terminal: str
    kind: str
    body: Mapping[str, Any]
    deadline: datetime


# What the payer must do: one of these, `type` telling which (the API's `confirmation`)


@dataclass(frozen=True, slots=True)
class RedirectConfirmation:
    """The payer follows `url`: the provider's checkout page, or Kassa's own payer page."""

    type: ClassVar[Literal["redirect"]] = "redirect"
    url: str


@dataclass(frozen=True, slots=True)
class QrConfirmation:
    """The payer scans a QR code of `payload` (an SBP or Kaspi link, say) with a banking
    app; `image_url`, if the provider draws the code itself, is a picture of it."""

    type: ClassVar[Literal["qr"]] = "qr"
    payload: str
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class RequisitesConfirmation:
    """The payer transfers exactly `amount` (minor units of `currency`, which may differ from
    the payment's own by the provider's adjustment) to a card number (`pan`) or, through SBP,
    to a phone number (`phone`): one of the two. `bank` and `holder` are the recipient's bank
    and name as the payer's banking app will show them; the requisites hold until
    `expires_at`. `url`, where the provider has one, is its page showing the same
    requisites (1Plat)."""

    type: ClassVar[Literal["requisites"]] = "requisites"
    amount: int
    currency: str
    pan: str | None = None
    phone: str | None = None
    bank: str | None = None
    holder: str | None = None
    expires_at: datetime | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.pan is None) == (self.phone is None):
            raise ValueError("requisites name a card number (pan) or a phone number, one of them")
        if self.amount <= 0:
            raise ValueError("the amount to transfer is positive")


@dataclass(frozen=True, slots=True)
class CryptoTransferConfirmation:
    """The payer sends exactly `amount` of `asset` on `network` to `address`, before
    `expires_at`. `amount` is a decimal string in the asset's units, as a wallet takes it
    ("10.000137"): the payment is recognised by that exact amount, so it may exceed the
    payment's own. `payload` is what the QR code for a wallet encodes."""

    type: ClassVar[Literal["crypto_transfer"]] = "crypto_transfer"
    address: str
    amount: str
    asset: str
    network: str
    payload: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLinkConfirmation:
    """The payer opens `url`, an invoice in a messenger or a wallet (Telegram, CryptoBot)."""

    type: ClassVar[Literal["invoice_link"]] = "invoice_link"
    url: str


@dataclass(frozen=True, slots=True)
class WidgetConfirmation:
    """The payer pays in the provider's widget: its `script`, opened with `params` (JSON
    values), on the merchant's own page."""

    type: ClassVar[Literal["widget"]] = "widget"
    script: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TerminalConfirmation:
    """The payer pays at the shop's terminal (kiosk) `terminal`."""

    type: ClassVar[Literal["terminal"]] = "terminal"
    terminal: str


Confirmation = (
    RedirectConfirmation
    | QrConfirmation
    | RequisitesConfirmation
    | CryptoTransferConfirmation
    | InvoiceLinkConfirmation
    | WidgetConfirmation
    | TerminalConfirmation
)


#: The Content-Security-Policy directives a payer page's widget may add sources to.
PAGE_DIRECTIVES = frozenset(
    {"script-src", "frame-src", "connect-src", "img-src", "font-src", "style-src"}
)
_DATA_NAME = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True, slots=True)
class PayerPage:
    """What Kassa's payer page (`/pay/{payment}`) shows while a payment waits for its payer:
    the provider's widget. The page loads `widget.script`, then the provider's `payer_script`
    opens the widget with `widget.params`, which the page carries as `data-*` attributes
    (so their names are lower-case words joined by hyphens, their values text). `sources`
    is what the widget needs the page's Content-Security-Policy to let in besides Kassa's
    own, by directive (one of `PAGE_DIRECTIVES`): `{"script-src": ("https://w.example",)}`."""

    widget: WidgetConfirmation
    sources: Mapping[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        for name in self.widget.params:
            if not _DATA_NAME.fullmatch(name):
                raise ValueError(f"{name!r} cannot be the name of a data- attribute")
        if unknown := set(self.sources) - PAGE_DIRECTIVES:
            raise ValueError(f"a widget cannot widen {', '.join(sorted(unknown))}")


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """The provider's answer to a create: its id (unknown until the payer pays, for widget
    providers such as CloudPayments), and what the payer must do next (`None` when the
    provider did not say)."""

    provider_payment_id: str | None
    confirmation: Confirmation | None
    status: PaymentStatus = PaymentStatus.PENDING
    operation: OperationRequest | None = None
    #: The fiscal receipt's registration, where the provider's answer tells it.
    receipt_status: str | None = None
    #: For a provider that is polled: how often it asks to be asked about this payment, where
    #: its answer says (Kaspi's `StatusPollingInterval`); None: its `poll_interval`.
    poll_every: timedelta | None = None


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A notification exactly as received: raw body bytes, lower-case header names."""

    method: str
    headers: Mapping[str, str]
    body: bytes
    query: str = ""
    kind: str | None = None
    source_ip: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentCheck:
    """A provider asking, before it charges the payer, whether Kassa will accept the payment
    (CloudPayments' Check). `payment_id` is Kassa's id as the provider echoes it back."""

    payment_id: str | None
    amount: Money


class CheckResult(StrEnum):
    """Kassa's answer to a `PaymentCheck`; providers translate it into their own codes."""

    ACCEPT = "accept"
    UNKNOWN_PAYMENT = "unknown_payment"
    WRONG_AMOUNT = "wrong_amount"
    NOT_PAYABLE = "not_payable"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified notification: the provider's identity of the event and what it says.

    A notification either reports `updates` or asks a `check`; `event_key` is `None` for a
    check, which changes nothing and is answered afresh each time it is asked."""

    event_key: str | None
    updates: Sequence[PaymentUpdate | RefundUpdate | ReceiptUpdate] = ()
    check: PaymentCheck | None = None


@dataclass(frozen=True, slots=True)
class SimulatedNotification:
    """A notification built exactly as the provider would send it (format, signature), for
    `kassa simulate`. `kind` is the path segment after `/hooks/{provider}/{shop}`, if any."""

    method: str
    headers: Mapping[str, str]
    body: bytes = b""
    kind: str | None = None
    query: str = ""


class Verdict(StrEnum):
    """What Kassa made of an inbound notification."""

    ACCEPTED = "accepted"
    """Verified and applied (or verified and about nothing Kassa knows)."""
    DUPLICATE = "duplicate"
    """Verified, but the same event was accepted before."""
    REJECTED = "rejected"
    """Failed verification or could not be read; nothing changed."""
    PENDING = "pending"
    """Verified and stored, but applying it failed; the worker tries again."""


@dataclass(frozen=True, slots=True)
class HookReply:
    """The HTTP answer a provider expects to a notification."""

    status_code: int
    body: bytes
    media_type: str = "application/json"

    @classmethod
    def json(cls, status_code: int, document: Any) -> HookReply:
        return cls(status_code, json.dumps(document, separators=(",", ":")).encode())


class Provider:
    """Base of every provider module. Subclasses set the class attributes and override what
    they support; the defaults raise `NotSupported`."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: Where the provider's API lives; a path starting with "/" is served by Kassa itself.
    default_api_url: ClassVar[str]
    methods: ClassVar[frozenset[str]]
    #: Currencies the provider takes; `None` means every currency Kassa knows.
    currencies: ClassVar[frozenset[str] | None] = None
    capabilities: ClassVar[Capabilities] = Capabilities()
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    #: Whether accounts of this provider can only be test accounts.
    test_only: ClassVar[bool] = False
    #: Whether a payment goes through this provider only when it names it (or, for terminals,
    #: a terminal): never the shop's default for a payment that names no provider.
    named_only: ClassVar[bool] = False
    #: How long the provider remembers an idempotency key; a call repeated later could be done
    #: twice, so Kassa stops repeating it then. `None`: as long as Kassa needs.
    idempotency_window: ClassVar[timedelta | None] = None
    #: Path segments after `/hooks/{provider}/{shop}` the provider posts to, one per kind of
    #: notification (CloudPayments); empty when it posts everything to one URL.
    hook_kinds: ClassVar[tuple[str, ...]] = ()
    #: Whether the provider is given Kassa's notification URL. Not when Kassa finds the
    #: payments itself and signs their notifications (the USDT-TRC20 watcher).
    notifies_hook_url: ClassVar[bool] = True
    #: The events `kassa simulate` can send for this provider, in the provider's own names.
    simulated_events: ClassVar[tuple[str, ...]] = ()
    #: The networks the provider publishes as its notifications' sources, for a provider that
    #: does not sign them (see `check_source`); Kassa's settings may replace or extend them.
    notification_networks: ClassVar[tuple[str, ...]] = ()
    #: The script that opens the provider's widget on Kassa's payer page (a file beside its
    #: module; see `payer_page`), or `None` for a provider without one. The page runs it
    #: before its own `pay.js`; it sets `window.kassaWidget = {ready(), open(data, done)}`:
    #: `ready()` says whether the widget's own script loaded what it should, `open` opens the
    #: widget with the page's `data-*` attributes (`data.publicId` for `data-public-id`) and
    #: calls `done.paid()` when the widget says the payer paid, `done.declined(reason)` when
    #: not. The widget's word only changes what the page says: Kassa learns the outcome from
    #: the provider.
    payer_script: ClassVar[Traversable | None] = None
    #: Whether the provider sends fiscal receipts (54-FZ) for the shop: then a payment's
    #: `receipt` is built from the shop's fiscal settings and passed in `PaymentRequest`, and
    #: the same one (`Payment.receipt`) is there for its refunds.
    sends_receipts: ClassVar[bool] = False
    #: Files Kassa serves at the root of its site for this provider, by path ("/1plat.txt"),
    #: each naming the credential field whose value is the file's text (a provider's proof
    #: that the merchant owns the site); `kassa.services.providers.public_files` serves them.
    public_files: ClassVar[Mapping[str, str]] = MappingProxyType({})
    #: For a provider that does not notify Kassa about its payments (Kaspi QR): how often
    #: reconciliation asks about an open payment (`fetch`), instead of the sparse schedule of
    #: `kassa.domain.checks` meant for lost notifications, unless the provider's answer to the
    #: create said otherwise (`ProviderPayment.poll_every`). `None`: that schedule.
    poll_interval: ClassVar[timedelta | None] = None

    def __init__(
        self,
        account: ProviderAccount,
        *,
        http: httpx.AsyncClient,
        api_url: str,
        public_url: str,
        notification_sources: Sequence[IPNetwork] = (),
    ) -> None:
        self.account = account
        self.http = http
        self.api_url = api_url.rstrip("/")
        #: Kassa's own public base URL, for pages the payer is sent to.
        self.public_url = public_url.rstrip("/")
        #: The networks this provider's notifications may come from: `notification_networks`,
        #: as Kassa's settings replace or extend them.
        self.notification_sources = tuple(notification_sources)

    def check_source(
        self, request: InboundRequest, networks: Sequence[IPNetwork] | None = None
    ) -> None:
        """Reject a notification whose sender is outside `networks` (by default
        `notification_sources`). For providers that do not sign their notifications; the
        address is the one the web layer determined (X-Forwarded-For is believed only from a
        configured trusted proxy)."""
        try:
            address = ipaddress.ip_address(request.source_ip or "")
        except ValueError:
            raise NotificationRejected(
                f"{self.title} notification from an unreadable address"
            ) from None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        allowed = self.notification_sources if networks is None else networks
        if not any(address in network for network in allowed):
            raise NotificationRejected(f"{self.title} does not send notifications from {address}")

    @classmethod
    def sends_notifications(cls) -> bool:
        """Whether the provider notifies Kassa at `/hooks/{provider}/…` (whether it reads
        notifications at all)."""
        return cls.parse_notification is not Provider.parse_notification

    @classmethod
    def generate_credentials(cls) -> dict[str, str]:
        """Credentials Kassa can create itself (e.g. the sandbox's signing secret)."""
        return {}

    @classmethod
    def check_credentials(cls, credentials: Mapping[str, str], *, test: bool) -> None:
        """Refuse, with `ParameterInvalid`, an account's settings (all of them, as they will be
        stored) that cannot work, when the account is configured (Crypto Pay: a testnet app
        as a live account); by default, every value is taken."""

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        """Create the payment at the provider, idempotently for `request.payment_id`."""
        raise NotSupported(f"{self.title} cannot create payments through the API")

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        """Ask the provider what state the payment is in now."""
        raise NotSupported(f"{self.title} cannot be asked about a payment")

    async def capture(self, payment: Payment, amount: int) -> PaymentUpdate:
        """Take `amount` of a held payment."""
        raise NotSupported(f"{self.title} has no two-stage payments")

    async def cancel(self, payment: Payment) -> PaymentUpdate:
        """Cancel a payment not yet paid, or release a hold."""
        raise NotSupported(f"{self.title} cannot cancel payments")

    async def refund(self, payment: Payment, refund: Refund) -> RefundUpdate:
        """Return `refund.amount` of the payment, idempotently for `refund.id`."""
        raise NotSupported(f"{self.title} cannot refund payments")

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        """Check the notification is authentic (unless `verify` is off for one already checked)
        and read it; raise `SignatureInvalid` if it is not."""
        raise NotSupported(f"{self.title} sends no notifications")

    def payer_page(self, payment: Payment, *, language: str) -> PayerPage | None:
        """What Kassa's payer page shows while `payment` waits for its payer (`language`:
        "ru" or "en"), or `None`: the page then says where the payment stands, with a link
        to the confirmation URL if that is not the page itself."""
        return None

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        """The notification the provider would send about `payment` for `event` (one of
        `simulated_events`), signed with this account's credentials."""
        raise NotSupported(f"kassa simulate cannot send {self.title} notifications")

    @classmethod
    def reply(cls, verdict: Verdict, message: str, check: CheckResult | None = None) -> HookReply:
        """The answer the provider expects (with Kassa's `check` result when it asked one): by
        default 200 for anything it should not resend, 401 for a rejected notification and
        500 (resend later) when applying failed."""
        status = {Verdict.REJECTED: 401, Verdict.PENDING: 500}.get(verdict, 200)
        return HookReply.json(status, {"verdict": verdict.value, "message": message})


async def send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP call to a provider; failures whose outcome is unknown (timeouts, network
    errors, 5xx) become `ProviderUnavailable`, so nothing typed by httpx leaves `providers/`."""
    try:
        response = await http.request(method, url, **kwargs)
    # Messages name no URL: some providers (Telegram) carry a token in the path.
    except httpx.TimeoutException as exc:
        raise ProviderUnavailable("The provider did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(
            f"The provider could not be reached ({type(exc).__name__})"
        ) from exc
    if response.status_code >= 500:
        raise ProviderUnavailable(f"The provider failed with HTTP {response.status_code}")
    return response
