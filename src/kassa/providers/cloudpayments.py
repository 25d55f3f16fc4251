"""CloudPayments (Russia), and TipTopPay (Kazakhstan, the same platform with its own widget host).

The payer pays in CloudPayments' widget on Kassa's page `/pay/{payment id}`; Kassa's payment id
is the widget's `invoiceId`. So `create` calls no API: CloudPayments first hears of the payment
when the payer submits the card, and its TransactionId becomes Kassa's `provider_payment_id`
when the Pay notification arrives.

Facts come from a saved copy of the official API docs ([official copy]) unless marked
otherwise; see `reference/providers.md` section 2.

Wire format:
- API: `POST` with JSON, HTTP Basic auth (Public ID, API secret), an `X-Request-ID` header for
  idempotency (the result for an id is kept for one hour), answers `{"Success", "Message",
  "Model"}`. `Success: true` does not mean paid: `Model.Status` says what the transaction is.
  `Amount` is a JSON number in major units (`1500.5`).
- Notifications: one URL per type (`/hooks/cloudpayments/{shop}/{check|pay|fail|confirm|refund|
  cancel}`), form-urlencoded by POST (or the query string by GET, CloudPayments' default), in
  UTF-8 or Windows-1251, or JSON; signed with `Content-HMAC` = base64 HMAC-SHA256 of the raw
  bytes keyed with the API secret ([official SDK]: the Bitrix module). CloudPayments expects
  `{"code": 0}` back; only Check's code matters ([3rd-party code]).
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any, assert_never
from urllib.parse import unquote_to_bytes, urlencode, urlsplit

import httpx

from kassa.domain import (
    Money,
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
    SignatureInvalid,
    currency_exponent,
)
from kassa.domain.money import format_major, to_decimal
from kassa.domain.translatable import N_
from kassa.providers import wire
from kassa.providers.base import (
    Capabilities,
    CheckResult,
    CredentialField,
    HookReply,
    InboundRequest,
    Notification,
    PaymentCheck,
    PaymentRequest,
    Provider,
    ProviderPayment,
    SimulatedNotification,
    Verdict,
    send,
)

SIGNATURE_HEADER = "content-hmac"
#: The same HMAC over the URL-decoded parameters. Integrators report this; CloudPayments'
#: official wording of the difference between the two headers is NOT FOUND.
DECODED_SIGNATURE_HEADER = "x-content-hmac"

DEFAULT_WIDGET_URL = "https://widget.cloudpayments.ru/bundles/cloudpayments.js"

#: The notification types Kassa acts on, as the last segment of the notification URL.
NOTIFICATION_KINDS = ("check", "pay", "fail", "confirm", "refund", "cancel")
#: The other types CloudPayments sends ([3rd-party code]: izatop/cloudpayments): stored and
#: acknowledged, nothing applied. A URL ending with anything else is no CloudPayments one.
OTHER_KINDS = ("recurrent", "receipt")

#: CloudPayments takes more currencies; these are the ones Kassa knows. All have two decimals,
#: which the refund notification relies on (it carries no `Currency`).
CURRENCIES = frozenset({"RUB", "KZT", "USD", "EUR"})
_EXPONENT_CURRENCY = "RUB"
assert {currency_exponent(c) for c in CURRENCIES} == {currency_exponent(_EXPONENT_CURRENCY)}


class TransactionStatus(StrEnum):
    """Statuses of a CloudPayments transaction ([3rd-party code]: izatop/cloudpayments)."""

    AWAITING_AUTHENTICATION = "AwaitingAuthentication"
    AUTHORIZED = "Authorized"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"
    DECLINED = "Declined"


def kassa_status(status: TransactionStatus) -> PaymentStatus:
    """A transaction's status in Kassa's terms; every case mapped, none guessed."""
    match status:
        case TransactionStatus.AWAITING_AUTHENTICATION:
            return PaymentStatus.PENDING  # the payer is in 3-D Secure
        case TransactionStatus.AUTHORIZED:
            return PaymentStatus.REQUIRES_CAPTURE
        case TransactionStatus.COMPLETED:
            return PaymentStatus.SUCCEEDED
        case TransactionStatus.CANCELLED:
            return PaymentStatus.CANCELED
        case TransactionStatus.DECLINED:
            return PaymentStatus.FAILED
        case _:
            assert_never(status)


class CheckCode(IntEnum):
    """Answers to a Check notification ([3rd-party code]: izatop/cloudpayments ResponseCodes).
    Any non-zero code refuses the payment; the codes only say why."""

    ACCEPT = 0
    INVALID_INVOICE = 10
    INVALID_ACCOUNT = 11
    INVALID_AMOUNT = 12
    REJECTED = 13
    EXPIRED = 20


def check_code(result: CheckResult) -> CheckCode:
    """Kassa's answer to a Check in CloudPayments' codes."""
    match result:
        case CheckResult.ACCEPT:
            return CheckCode.ACCEPT
        case CheckResult.UNKNOWN_PAYMENT:
            return CheckCode.INVALID_INVOICE
        case CheckResult.WRONG_AMOUNT:
            return CheckCode.INVALID_AMOUNT
        case CheckResult.NOT_PAYABLE:
            return CheckCode.REJECTED
        case CheckResult.EXPIRED:
            return CheckCode.EXPIRED
        case _:
            assert_never(result)


def wire_amount(amount: int, currency: str) -> Decimal:
    """Minor units to CloudPayments' major-unit amount: 150050 RUB → Decimal("1500.50")."""
    return to_decimal(amount, currency)


def json_body(document: Any) -> bytes:
    """`document` as JSON, with every `Decimal` written as the exact JSON number it is.

    The `json` module can only write numbers it gets as `int` or `float`, and a float would
    round money (and print `1500.5` for `Decimal("1500.50")` only by luck). So Decimals are
    written here digit for digit in plain notation (`1500.50`, never `1.5005E+3`), and
    everything else by `json` itself. A float is refused, so one cannot slip in.
    """
    if isinstance(document, Decimal):
        if not document.is_finite():
            raise ValueError(f"{document} is not a JSON number")
        return format(document, "f").encode()
    if isinstance(document, float):
        raise TypeError("amounts are Decimals, never floats")
    if isinstance(document, Mapping):
        members = (
            json.dumps(str(name)).encode() + b":" + json_body(value)
            for name, value in document.items()
        )
        return b"{" + b",".join(members) + b"}"
    if isinstance(document, list | tuple):
        return b"[" + b",".join(json_body(item) for item in document) + b"]"
    return json.dumps(document).encode()


def sign(secret: str, message: bytes) -> str:
    """A notification's `Content-HMAC`: base64 of HMAC-SHA256 over `message`."""
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def url_decoded(message: bytes) -> bytes:
    """What `X-Content-HMAC` is reported to be computed over: the parameters URL-decoded
    (`+` as a space, `%XX` as the byte), at the byte level, so the charset does not matter."""
    return unquote_to_bytes(message.replace(b"+", b" "))


def signed_message(request: InboundRequest) -> bytes:
    """The bytes a notification is signed over: the body, or the raw query string of a GET."""
    return request.query.encode() if request.method.upper() == "GET" else request.body


def verify_signature(secret: str, request: InboundRequest) -> None:
    """Raise `SignatureInvalid` unless `Content-HMAC` matches the raw bytes, or
    `X-Content-HMAC` matches them URL-decoded; compared in constant time."""
    message = signed_message(request)
    candidates = (
        (SIGNATURE_HEADER, message),
        (DECODED_SIGNATURE_HEADER, url_decoded(message)),
    )
    for header, signed in candidates:
        given = request.headers.get(header)
        if given is not None and wire.signature_matches(given.strip(), sign(secret, signed)):
            return
    raise SignatureInvalid("Content-HMAC does not match the notification")


# Reading notifications


def _declared_charset(content_type: str | None) -> str | None:
    """The codec named by a Content-Type's `charset=`, or None if there is none."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            try:
                return codecs.lookup(value.strip().strip('"')).name
            except LookupError:
                raise NotificationRejected(f"Unknown charset {value.strip()!r}") from None
    return None


#: The codecs CloudPayments can send in (its setting `Encoding`: UTF8 or Windows1251).
_CHARSETS = frozenset({"utf-8", "cp1251"})


def _charset(declared: str | None, content: bytes) -> str:
    """The charset to decode a notification's text in.

    The Content-Type's `charset=` wins. Whether CloudPayments sends one is NOT FOUND, so
    without it the text is UTF-8 if it is valid UTF-8, else Windows-1251: Cyrillic in
    Windows-1251 (bytes 0xC0-0xFF in a row) is practically never valid UTF-8, while anything
    sent as UTF-8 always is.
    """
    if declared is not None:
        if declared not in _CHARSETS:
            raise NotificationRejected(f"CloudPayments does not send {declared}")
        return declared
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Fields by name; a name given twice makes the notification ambiguous, so unreadable."""
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in fields:
            raise ValueError(f"{name} appears twice")
        fields[name] = value
    return fields


def read_fields(request: InboundRequest) -> dict[str, Any]:
    """A notification's fields, decoded from the raw bytes (after verification).

    Forms and query strings give text; JSON gives its own types, with numbers read as
    `Decimal` or `int` (never `float`). Raises `ValueError` or `NotificationRejected`.
    """
    content_type = request.headers.get("content-type")
    raw = signed_message(request)
    media_type = (content_type or "").split(";")[0].strip().lower()
    if request.method.upper() != "GET" and (
        media_type == "application/json" or raw.lstrip().startswith(b"{")
    ):
        text = raw.decode(_charset(_declared_charset(content_type), raw))
        document = json.loads(text, parse_float=Decimal, object_pairs_hook=_unique)
        if not isinstance(document, dict):
            raise ValueError("the JSON body is not an object")
        return document
    pairs = [
        (url_decoded(name), url_decoded(value))
        for name, _, value in (part.partition(b"=") for part in raw.split(b"&") if part)
    ]
    charset = _charset(_declared_charset(content_type), b"".join(n + v for n, v in pairs))
    return _unique([(name.decode(charset), value.decode(charset)) for name, value in pairs])


class _Fields:
    """Typed access to a notification's fields, whether they came as form text or JSON."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"{name} is not text")
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{name} holds a NUL character")  # PostgreSQL's text cannot
        return str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise KeyError(name)
        return value

    def transaction_id(self, name: str = "TransactionId") -> str:
        value = self.required(name)
        # An integer in CloudPayments' models; that it fits in 64 bits is assumed (its width
        # is NOT FOUND), so a longer one is refused rather than stored.
        if not value.isascii() or not value.isdigit() or len(value.lstrip("0")) > 19:
            raise ValueError(f"{name} {value[:40]!r} is not a transaction number")
        number = int(value)
        if number >= 2**63:
            raise ValueError(f"{name} {value!r} is not a transaction number")
        return str(number)

    def money(self, *, currency_required: bool = True) -> Money:
        """`Amount` (a decimal string in forms, a number in JSON) in `Currency`."""
        value = self.values.get("Amount")
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise TypeError("Amount is not a decimal number")
        currency = self.required("Currency") if currency_required else self.text("Currency")
        return Money.from_major(value, currency or _EXPONENT_CURRENCY)

    def data(self) -> Mapping[str, Any]:
        """`Data`: the JsonData, sent as a JSON string (an object in JSON bodies). Only a hint
        (see `read_notification`), so a `Data` that is not a JSON object reads as empty
        rather than making a genuine notification unreadable."""
        value = self.values.get("Data")
        if isinstance(value, str):
            try:
                value = json.loads(value, parse_float=Decimal)
            except ValueError:
                return {}
        return value if isinstance(value, dict) else {}


#: The key of Kassa's refund id in a refund's JsonData (see `CloudPaymentsProvider.refund`).
REFUND_DATA_KEY = "kassa_refund_id"


# Which kind a notification is: from what it signs, not from its URL


@dataclass(frozen=True, slots=True)
class KindRule:
    """What the signed body of one kind of notification says about its transaction.

    The kind a notification is posted as is the last segment of its URL, which nothing signs:
    a genuine body posted to another kind's URL must not be read as that kind. So the body's
    own `OperationType` and `Status` must fit the kind. Where a body of another kind can say
    the same (a Check's body is what the Pay's will be; whether a one-stage Pay or a Confirm
    said `Completed` changes nothing, but a Check's `Completed` comes before anybody paid; the
    Cancel notification's fields are not documented), CloudPayments' API must confirm the
    transaction is in that state before the notification is applied.
    """

    operation: str
    #: The `Status` values the body may carry; empty: not looked at.
    statuses: frozenset[TransactionStatus]
    #: Whether the body must carry a `Status` (Pay, Fail and Confirm do, [official copy]).
    status_required: bool
    #: Whether the transaction's state must be confirmed with `/payments/get` first.
    confirmed_by_api: bool


_S = TransactionStatus
KIND_RULES: dict[str, KindRule] = {
    # A Check comes before authorization and carries the status the payment will have
    # (observed in integrations; [official copy] lists Status among its fields): it changes
    # nothing, so only a body that plainly is not one is refused.
    "check": KindRule(
        "Payment",
        frozenset({_S.AWAITING_AUTHENTICATION, _S.AUTHORIZED, _S.COMPLETED}),
        status_required=False,
        confirmed_by_api=False,
    ),
    "pay": KindRule(
        "Payment",
        frozenset({_S.AUTHORIZED, _S.COMPLETED}),
        status_required=True,
        confirmed_by_api=True,
    ),
    # Declined is final and no other kind carries it (a Check precedes the decision).
    "fail": KindRule(
        "Payment", frozenset({_S.DECLINED}), status_required=True, confirmed_by_api=False
    ),
    "confirm": KindRule(
        "Payment", frozenset({_S.COMPLETED}), status_required=True, confirmed_by_api=True
    ),
    # The Refund notification carries OperationType=Refund and PaymentTransactionId, which no
    # other kind has ([official copy]); its Status is not documented.
    "refund": KindRule("Refund", frozenset(), status_required=False, confirmed_by_api=False),
    # The Cancel notification's fields are NOT FOUND in the documentation: a Status, if there
    # is one, must say Cancelled, and the API must say so in any case.
    "cancel": KindRule(
        "Payment", frozenset({_S.CANCELLED}), status_required=False, confirmed_by_api=True
    ),
}

#: The states a transaction in a status may be in later: a hold is confirmed or voided, and
#: every other status but 3-D Secure's is final.
LATER_STATES: dict[TransactionStatus, frozenset[TransactionStatus]] = {
    _S.AWAITING_AUTHENTICATION: frozenset(TransactionStatus),
    _S.AUTHORIZED: frozenset({_S.AUTHORIZED, _S.COMPLETED, _S.CANCELLED}),
    _S.COMPLETED: frozenset({_S.COMPLETED}),
    _S.CANCELLED: frozenset({_S.CANCELLED}),
    _S.DECLINED: frozenset({_S.DECLINED}),
}


def claimed_status(values: Mapping[str, Any]) -> TransactionStatus | None:
    """The body's `Status`, if it has one; `ValueError` for a status CloudPayments does not
    have (the body cannot be read)."""
    status = _Fields(values).text("Status")
    return None if status is None else TransactionStatus(status)


def check_kind(kind: str, values: Mapping[str, Any]) -> None:
    """Raise `NotificationRejected` if the body's own fields contradict `kind` (see
    `KindRule`), or `ValueError` if its Status is unknown. Kinds Kassa does not act on
    (Recurrent, Receipt…) change nothing and are not checked."""
    rule = KIND_RULES.get(kind)
    if rule is None:
        return
    fields = _Fields(values)
    operation = fields.text("OperationType")
    if operation is not None and operation != rule.operation:
        raise NotificationRejected(
            f"The body is a CloudPayments {operation} notification (OperationType), "
            f"not a {kind} one: refused"
        )
    status = claimed_status(values)
    if status is None and rule.status_required:
        raise NotificationRejected(f"A CloudPayments {kind} notification carries a Status")
    if status is not None and rule.statuses and status not in rule.statuses:
        raise NotificationRejected(
            f"The body says Status={status.value}, which a CloudPayments {kind} notification "
            "never says: it was sent to another kind's URL, and is refused"
        )


def confirms(kind: str, values: Mapping[str, Any], found: Transaction) -> str | None:
    """Why the transaction as the API has it (`found`) does not bear out a `kind`
    notification with these fields; `None` if it does. The transaction must be the body's
    (number, invoice, currency) and in the body's status or one it may have reached since."""
    fields = _Fields(values)
    claimed = claimed_status(values)
    expected = LATER_STATES[claimed] if claimed is not None else KIND_RULES[kind].statuses
    says = f"CloudPayments' API says transaction {found.transaction_id}"
    if (found.transaction_id, found.invoice_id) != (
        fields.transaction_id(),
        fields.text("InvoiceId"),
    ) or fields.text("Currency") not in (None, found.currency):
        return f"{says} is for invoice {found.invoice_id} in {found.currency}, not this one"
    if found.operation not in (None, "Payment"):
        return f"{says} is a {found.operation}"
    if found.status not in expected:
        return f"{says} is {found.status.value if found.status else 'in an unknown status'}"
    return None


def read_notification(kind: str, values: Mapping[str, Any]) -> Notification:
    """A verified notification of type `kind` in Kassa's terms; see the module docstring."""
    fields = _Fields(values)
    if kind == "check":
        return Notification(
            event_key=None,
            check=PaymentCheck(payment_id=fields.text("InvoiceId"), amount=fields.money()),
        )
    if kind not in NOTIFICATION_KINDS:
        # Recurrent, Receipt: nothing about a payment's state.
        return Notification(event_key=None)
    transaction = fields.transaction_id()
    update: PaymentUpdate | RefundUpdate
    if kind == "refund":
        kassa_refund = fields.data().get(REFUND_DATA_KEY)
        update = RefundUpdate(
            status=RefundStatus.SUCCEEDED,
            amount=fields.money(currency_required=False).amount,
            refund_id=kassa_refund
            if isinstance(kassa_refund, str) and "\x00" not in kassa_refund
            else None,
            provider_refund_id=transaction,
            payment_id=fields.text("InvoiceId"),
            provider_payment_id=fields.transaction_id("PaymentTransactionId"),
        )
    else:
        update = _payment_update(kind, fields, transaction)
    return Notification(event_key=f"{kind}:{transaction}", updates=[update])


def _payment_update(kind: str, fields: _Fields, transaction: str) -> PaymentUpdate:
    common: dict[str, Any] = {
        "payment_id": fields.text("InvoiceId"),
        "provider_payment_id": transaction,
    }
    if kind == "pay":
        status = fields.required("Status")
        if status == TransactionStatus.AUTHORIZED:
            return PaymentUpdate(PaymentStatus.REQUIRES_CAPTURE, amount=fields.money(), **common)
        if status == TransactionStatus.COMPLETED:
            return PaymentUpdate(PaymentStatus.SUCCEEDED, amount=fields.money(), **common)
        raise ValueError(f"a Pay notification with Status {status!r}")
    if kind == "fail":
        reason, code = fields.text("Reason"), fields.text("ReasonCode")
        message = fields.text("CardHolderMessage") or reason
        return PaymentUpdate(
            PaymentStatus.FAILED,
            amount=fields.money(),
            failure_code=reason or code,
            failure_message=f"{message} (ReasonCode {code})" if code else message,
            **common,
        )
    if kind == "confirm":
        # The confirmed amount, which may be less than the payment's: it is what was taken,
        # so it is not checked against the payment's amount (decide() checks the range).
        # That a partial Confirm carries the confirmed rather than the original amount is
        # NOT FOUND in CloudPayments' documentation.
        captured = fields.money()
        return PaymentUpdate(PaymentStatus.SUCCEEDED, amount_captured=captured.amount, **common)
    if kind == "cancel":
        amount = fields.money() if fields.values.get("Amount") not in (None, "") else None
        return PaymentUpdate(PaymentStatus.CANCELED, amount=amount, **common)
    raise AssertionError(kind)


# Reading API answers


@dataclass(frozen=True, slots=True)
class Envelope:
    """CloudPayments' answer to an API call."""

    success: bool
    message: str | None
    model: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Transaction:
    """A transaction as `/payments/get` or `/v2/payments/find` describe it. `status` is None
    for a status Kassa does not know; `update` reads it as pending then."""

    transaction_id: str
    status: TransactionStatus | None
    operation: str | None
    invoice_id: str | None
    currency: str
    update: PaymentUpdate


def read_transaction(model: Mapping[str, Any]) -> Transaction:
    """A transaction model; raises one of `wire.MALFORMED` if it cannot be read."""
    fields = _Fields(model)
    transaction = fields.transaction_id()
    money = fields.money()
    try:
        status: TransactionStatus | None = TransactionStatus(fields.required("Status"))
    except ValueError:
        status = None
    common: dict[str, Any] = {
        "payment_id": fields.text("InvoiceId"),
        "provider_payment_id": transaction,
    }
    if status == TransactionStatus.COMPLETED:
        # Completed may be a partial confirmation: Amount is then what was taken (assumed,
        # as for the Confirm notification), so it becomes the captured amount.
        update = PaymentUpdate(PaymentStatus.SUCCEEDED, amount_captured=money.amount, **common)
    elif status == TransactionStatus.DECLINED:
        update = PaymentUpdate(
            PaymentStatus.FAILED,
            amount=money,
            failure_code=fields.text("Reason") or fields.text("ReasonCode"),
            failure_message=fields.text("CardHolderMessage"),
            **common,
        )
    else:
        known = PaymentStatus.PENDING if status is None else kassa_status(status)
        update = PaymentUpdate(known, amount=money, **common)
    return Transaction(
        transaction_id=transaction,
        status=status,
        operation=fields.text("OperationType"),
        invoice_id=fields.text("InvoiceId"),
        currency=money.currency,
        update=update,
    )


def _transaction_number(reference: str) -> int:
    if not reference.isascii() or not reference.isdigit():
        raise ProviderDeclined(f"{reference!r} is not a CloudPayments transaction number")
    return int(reference)


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
    simulated_events = NOTIFICATION_KINDS

    @property
    def public_id(self) -> str:
        return self.account.credentials["public_id"]

    @property
    def _secret(self) -> str:
        return self.account.credentials["api_secret"]

    @property
    def widget_url(self) -> str:
        return self.account.credentials.get("widget_url") or DEFAULT_WIDGET_URL

    @property
    def widget_origin(self) -> str:
        """Where the widget script and its frames come from (for the page's CSP)."""
        parts = urlsplit(self.widget_url)
        return f"{parts.scheme}://{parts.netloc}"

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        return ProviderPayment(
            provider_payment_id=None,
            confirmation={"type": "redirect", "url": f"{self.public_url}/pay/{request.payment_id}"},
        )

    def widget(self, payment: Payment, *, language: str) -> dict[str, str]:
        """What Kassa's payment page hands the widget (strings; the page's script builds the
        call `widget.pay(method, options, callbacks)` from them). The call's shape is from
        [3rd-party code] (aveBHS/take-keys); `language` as a constructor option is unverified.
        """
        options = {
            "method": "charge" if payment.capture else "auth",
            "public-id": self.public_id,
            "amount": format_major(payment.amount, payment.currency),
            "currency": payment.currency,
            "description": payment.description or payment.id,
            "invoice-id": payment.id,
            "language": "ru-RU" if language == "ru" else "en-US",
            "script-url": self.widget_url,
        }
        if payment.customer:
            options["account-id"] = payment.customer
        return options

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
                "TransactionId": _transaction_number(payment.provider_payment_id)
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
        except wire.MALFORMED as exc:
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
        reference = self._reference(payment)
        envelope = await self._call(
            "/payments/confirm",
            {
                "TransactionId": _transaction_number(reference),
                "Amount": wire_amount(amount, payment.currency),
            },
            key=f"{payment.id}:confirm",
        )
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
            {"TransactionId": _transaction_number(reference)},
            key=f"{payment.id}:void",
        )
        if not envelope.success:
            raise self._refused(envelope, "cancel the payment")
        return PaymentUpdate(status=PaymentStatus.CANCELED, provider_payment_id=reference)

    async def refund(self, payment: Payment, refund: Refund) -> RefundUpdate:
        """`/payments/refund`, with Kassa's refund id as the X-Request-ID and in JsonData
        (so the Refund notification can name it, if CloudPayments echoes it in `Data`: NOT
        FOUND; without it the notification matches by the refund's TransactionId)."""
        reference = self._reference(payment)
        envelope = await self._call(
            "/payments/refund",
            {
                "TransactionId": _transaction_number(reference),
                "Amount": wire_amount(refund.amount, refund.currency),
                "JsonData": {REFUND_DATA_KEY: refund.id},
            },
            key=refund.id,
        )
        if not envelope.success:
            raise self._refused(envelope, "refund")
        try:
            refund_transaction = _Fields(envelope.model or {}).transaction_id()
        except wire.MALFORMED as exc:
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
        except wire.MALFORMED as exc:
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
        transaction = _Fields(values).transaction_id()
        try:
            envelope = await self._call(
                "/payments/get", {"TransactionId": _transaction_number(transaction)}
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
        except wire.MALFORMED as exc:
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
