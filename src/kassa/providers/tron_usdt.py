"""USDT on TRON (TRC20), received on the shop's own address and recognised on the chain.

Nobody notifies Kassa of a transfer: Kassa watches the address itself. A payment is given a
unique amount to send (its price plus a small tail in USDT's six decimals, reserved by
Kassa's state module `kassa.services.providers.tron_usdt` before `create`, in
`PaymentRequest.prepared`), and the transfer of exactly that amount is the payment. This
module is the wire side, stateless as every provider:

- `transfers()` reads TronGrid's list of an address's TRC20 transfers
  (`GET /v1/accounts/{address}/transactions/trc20`: `only_confirmed=true`, `only_to=true`,
  the token's `contract_address`, `min_timestamp`/`max_timestamp` in ms, `limit` up to 200,
  ascending `order_by`, `fingerprint` for the next page) and yields only transfers of the
  real token (`token_info.address`, never its symbol: scam tokens call themselves "USDT")
  to the address; the API key goes in `TRON-PRO-API-KEY`; 429/403/503 (TronGrid's limits)
  are `ProviderUnavailable`, which the watcher backs off from.
- `fetch()` (reconciliation) looks on the chain for the payment's exact amount between its
  creation and its expiry, so a payment the watcher missed is still found.
- The watcher's match reaches Kassa as a notification through the core's ingestion path
  (stored raw, verified, applied, its event written): `notice()` signs it with the account's
  `watcher_secret`, a secret Kassa generates and keeps, and `parse_notification` checks that
  signature, so nothing posted to `/hooks/tron_usdt/…` by anyone else is believed.

Facts (reference: providers.md §7). Official: the endpoint and its parameters `only_confirmed`,
`limit`, `fingerprint`, `contract_address`; the answer's fields; the API key header; the
limits' status codes; mainnet USDT is `TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t`, 6 decimals.
Third-party only (used by integrators, not in TronGrid's page): `only_to`, `min_timestamp`,
`max_timestamp`, `order_by` — the watcher does not rely on them alone (it filters the
recipient and de-duplicates itself). Testnets (Shasta, Nile) have other USDT contracts:
`contract=` is a setting for that reason, defaulting to mainnet's.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kassa.domain import (
    AmountInvalid,
    NotificationRejected,
    NotSupported,
    ParameterInvalid,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderDeclined,
    ProviderUnavailable,
    SignatureInvalid,
)
from kassa.domain.money import format_major, from_decimal
from kassa.domain.translatable import N_
from kassa.providers import wire
from kassa.providers.base import (
    CredentialField,
    CryptoTransferConfirmation,
    InboundRequest,
    Notification,
    PaymentRequest,
    Provider,
    ProviderPayment,
    SimulatedNotification,
    send,
)

#: Tether's USDT-TRC20 contract on TRON's mainnet [official].
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ASSET = "USDT"
NETWORK = "TRC20"
#: The header carrying the signature of the watcher's notifications (Kassa's own).
SIGNATURE_HEADER = "x-kassa-watcher-signature"
#: TronGrid's largest page [official].
PAGE_SIZE = 200
#: How far before a payment's creation `fetch` looks: the clocks of Kassa and of the chain's
#: block producers differ a little.
CLOCK_SKEW = timedelta(minutes=2)
#: The names in `PaymentRequest.prepared`: the exact amount to send (raw units), and where.
PREPARED_AMOUNT = "amount"
PREPARED_ADDRESS = "address"
#: TronGrid's answers to too many requests [official: rate limits]; 503 is every 5xx's fate.
_LIMITED = frozenset({403, 429})


@dataclass(frozen=True, slots=True)
class Transfer:
    """One confirmed TRC20 transfer as TronGrid lists it: `value` in the token's smallest
    units, `block_timestamp` in ms, `raw` the list entry exactly as received."""

    transaction_id: str
    contract: str
    sender: str
    recipient: str
    value: int
    block_timestamp: int
    raw: Mapping[str, Any]

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.block_timestamp / 1000, UTC)


def read_transfer(document: Any) -> Transfer:
    """A transfer from one entry of TronGrid's `data`; `ValueError` if it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("token_info"), dict):
        raise ValueError("a TRC20 transfer is an object with token_info")
    value, timestamp = document.get("value"), document.get("block_timestamp")
    # The value is a string of digits (raw units); never a float.
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ValueError(f"a transfer's value is a string of digits, not {value!r}")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise ValueError("a transfer's block_timestamp is an integer (ms)")
    fields: dict[str, str] = {}
    for name, found in (
        *((name, document.get(name)) for name in ("transaction_id", "from", "to", "type")),
        ("contract", document["token_info"].get("address")),
    ):
        if not isinstance(found, str) or not found:
            raise ValueError("a transfer names its transaction, sender, recipient and token")
        fields[name] = found
    return Transfer(
        transaction_id=fields["transaction_id"],
        contract=fields["contract"],
        sender=fields["from"],
        recipient=fields["to"],
        value=int(value),
        block_timestamp=timestamp,
        raw=document,
    )


def exact_amount(amount: int) -> str:
    """Raw USDT units as a wallet takes them: 10000137 → "10.000137"."""
    return format_major(amount, ASSET)


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def is_address(text: str) -> bool:
    """Whether `text` is a TRON address in base58check: 25 bytes, 0x41 and the 20 bytes of the
    account, then the first 4 bytes of SHA-256(SHA-256()) of those 21. A changed letter or its
    case (base58 is case-sensitive) fails the checksum."""
    if len(text) != 34 or not all(char in _BASE58 for char in text):
        return False
    number = 0
    for char in text:
        number = number * 58 + _BASE58.index(char)
    if number >= 1 << 200:
        return False
    raw = number.to_bytes(25, "big")
    payload, checksum = raw[:21], raw[21:]
    digest = hashlib.sha256(hashlib.sha256(payload).digest()).digest()
    return payload[0] == 0x41 and digest[:4] == checksum


#: The watcher's signature of a notification (Kassa's own, shared with the Telegram bot's).
sign = wire.own_signature


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class TronUsdtProvider(Provider):
    """USDT-TRC20 transfers to the shop's address, watched on TronGrid."""

    name = "tron_usdt"
    title = "USDT-TRC20"
    default_api_url = "https://api.trongrid.io"
    methods = frozenset({"crypto"})
    currencies = frozenset({ASSET})
    simulated_events = ("transfer",)
    notifies_hook_url = False
    credential_fields = (
        CredentialField(
            "address", N_("The shop's TRON address that receives USDT (case-sensitive)")
        ),
        CredentialField(
            "api_key", N_("TronGrid API key (TRON-PRO-API-KEY)"), secret=True, required=False
        ),
        CredentialField(
            "contract",
            N_("The USDT token's contract; another only on a testnet"),
            required=False,
            default=USDT_CONTRACT,
        ),
        CredentialField(
            "poll_interval",
            N_("Seconds between the watcher's looks at the address"),
            required=False,
            default="10",
        ),
        CredentialField(
            "watcher_secret",
            N_("Signs the watcher's notifications; Kassa generates it"),
            secret=True,
        ),
    )

    @classmethod
    def generate_credentials(cls) -> dict[str, str]:
        return {"watcher_secret": secrets.token_urlsafe(32)}

    @classmethod
    def check_credentials(cls, credentials: Mapping[str, str], *, test: bool) -> None:
        for name in ("address", "contract"):
            value = credentials.get(name) or ""
            if value and not is_address(value):
                raise ParameterInvalid(
                    f"{name} is not a TRON address (T…, 34 characters, case-sensitive; "
                    f"its checksum fails): {value[:40]!r}",
                    param=name,
                )
        interval = credentials.get("poll_interval") or "10"
        try:
            seconds = float(interval)
        except ValueError:
            seconds = math.nan
        if not 1 <= seconds <= 3600:
            raise ParameterInvalid(
                f"poll_interval is a number of seconds from 1 to 3600, not {interval[:20]!r}",
                param="poll_interval",
            )

    @property
    def address(self) -> str:
        return self.account.credentials["address"]

    @property
    def contract(self) -> str:
        return self.account.credentials.get("contract") or USDT_CONTRACT

    @property
    def watch_every(self) -> float:
        """The watcher's interval for this account, in seconds: between 1 and an hour; an
        unreadable setting means the default."""
        try:
            interval = float(self.account.credentials.get("poll_interval") or 10)
        except ValueError:
            return 10.0
        return min(max(interval, 1.0), 3600.0) if math.isfinite(interval) else 10.0

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        """Nothing is created anywhere: the payer is told the address and the exact amount
        Kassa reserved for the payment."""
        try:
            amount = int(request.prepared[PREPARED_AMOUNT])
        except (KeyError, ValueError):
            raise NotSupported(
                f"{self.title} payments need the amount Kassa reserves for them"
            ) from None
        address = request.prepared.get(PREPARED_ADDRESS, self.address)
        confirmation = CryptoTransferConfirmation(
            address=address,
            amount=exact_amount(amount),
            asset=ASSET,
            network=NETWORK,
            payload=address,
            expires_at=request.expires_at,
        )
        return ProviderPayment(provider_payment_id=None, confirmation=confirmation)

    async def fetch(self, payment: Payment) -> PaymentUpdate:
        """Succeeded if the payment's exact amount reached its address between its creation
        and its expiry; pending otherwise (a wrong amount is never this payment's)."""
        confirmation = payment.confirmation or {}
        try:
            address = str(confirmation["address"])
            expected = from_decimal(str(confirmation["amount"]), ASSET)
        except (KeyError, AmountInvalid) as exc:
            raise NotSupported(f"payment {payment.id} has no transfer to look for") from exc
        until = payment.expires_at
        found = self.transfers(
            since=_ms(payment.created_at - CLOCK_SKEW),
            until=None if until is None else _ms(until),
            address=address,
        )
        async with aclosing(found):
            async for transfer in found:
                if transfer.value == expected:
                    return PaymentUpdate(
                        status=PaymentStatus.SUCCEEDED,
                        payment_id=payment.id,
                        provider_payment_id=transfer.transaction_id,
                    )
        return PaymentUpdate(status=PaymentStatus.PENDING, payment_id=payment.id)

    async def transfers(
        self, *, since: int, until: int | None = None, address: str | None = None
    ) -> AsyncGenerator[Transfer, None]:
        """Confirmed transfers of the token to `address` (the account's) with block times
        from `since` (ms), oldest first; see `pages`."""
        async for page in self.pages(since=since, until=until, address=address):
            for transfer in page:
                yield transfer

    async def pages(
        self, *, since: int, until: int | None = None, address: str | None = None
    ) -> AsyncGenerator[list[Transfer], None]:
        """TronGrid's pages of confirmed transfers of the token to `address` (the account's)
        with block times from `since` to `until` (ms), oldest first, until the last page;
        other tokens' and outgoing transfers, and other events, are left out."""
        address = address or self.address
        params: dict[str, str | int] = {
            "only_confirmed": "true",
            "only_to": "true",
            "contract_address": self.contract,
            "min_timestamp": since,
            "order_by": "block_timestamp,asc",
            "limit": PAGE_SIZE,
        }
        if until is not None:
            params["max_timestamp"] = until
        key = self.account.credentials.get("api_key")
        headers = {"TRON-PRO-API-KEY": key} if key else {}
        url = f"{self.api_url}/v1/accounts/{address}/transactions/trc20"
        while True:
            page = await self._page(url, params, headers)
            yield [
                transfer
                for transfer in map(read_transfer, page["data"])
                if transfer.contract == self.contract
                and transfer.recipient == address
                and transfer.raw["type"] == "Transfer"
            ]
            fingerprint = (page.get("meta") or {}).get("fingerprint")
            if not fingerprint or not page["data"]:
                return
            params["fingerprint"] = fingerprint

    async def _page(
        self, url: str, params: Mapping[str, str | int], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        response = await send(self.http, "GET", url, params=params, headers=headers)
        if response.status_code in _LIMITED:
            raise ProviderUnavailable(
                f"TronGrid limits this key's requests (HTTP {response.status_code})"
            )
        if response.status_code != 200:
            raise ProviderDeclined(
                f"TronGrid refused the request (HTTP {response.status_code})",
                provider_code=str(response.status_code),
            )
        try:
            page = response.json()
            if not isinstance(page, dict) or page.get("success") is not True:
                raise ValueError("not a successful answer")
            if not isinstance(page.get("data"), list):
                raise ValueError("no data list")
            for entry in page["data"]:
                read_transfer(entry)
        except ValueError as exc:
            raise ProviderUnavailable(f"TronGrid's answer could not be read: {exc}") from exc
        return page

    # The watcher's notifications

    def notice(self, payment_id: str, transfer: Mapping[str, Any]) -> SimulatedNotification:
        """The notification that `transfer` (TronGrid's entry, as received) pays
        `payment_id`, signed with the account's `watcher_secret`."""
        body = json.dumps(
            {"payment": payment_id, "transfer": transfer}, separators=(",", ":"), sort_keys=True
        ).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(self.account.credentials["watcher_secret"], body),
        }
        return SimulatedNotification(method="POST", headers=headers, body=body)

    async def parse_notification(
        self, request: InboundRequest, *, verify: bool = True
    ) -> Notification:
        """A transfer the watcher matched to a payment: signed by the watcher, of the real
        token, to this account's address."""
        if verify:
            expected = sign(self.account.credentials["watcher_secret"], request.body)
            if not wire.signature_matches(request.headers.get(SIGNATURE_HEADER), expected):
                raise SignatureInvalid(f"{self.title} notification signature does not match")
        try:
            document = json.loads(request.body)
            payment_id = document["payment"]
            transfer = read_transfer(document["transfer"])
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationRejected(f"unreadable {self.title} notification: {exc}") from None
        if not isinstance(payment_id, str):
            raise NotificationRejected(f"a {self.title} notification names its payment")
        if transfer.contract != self.contract or transfer.recipient != self.address:
            raise NotificationRejected(
                f"the transfer is not of {self.contract} to the account's address"
            )
        update = PaymentUpdate(
            status=PaymentStatus.SUCCEEDED,
            payment_id=payment_id,
            provider_payment_id=transfer.transaction_id,
        )
        return Notification(event_key=transfer.transaction_id, updates=(update,))

    def simulate(self, payment: Payment, event: str) -> SimulatedNotification:
        """A transfer of the payment's exact amount, as if the watcher had seen it (no chain
        holds it: for test accounts)."""
        if event != "transfer":
            raise NotSupported(f"{self.title} has no event {event!r}; it has: transfer")
        confirmation = payment.confirmation or {}
        amount = from_decimal(str(confirmation.get("amount", "0")), ASSET)
        transfer = {
            "transaction_id": secrets.token_hex(32),
            "token_info": {"address": self.contract, "decimals": 6, "symbol": ASSET},
            "from": "T" + "1" * 33,
            "to": self.address,
            "type": "Transfer",
            "value": str(amount),
            "block_timestamp": _ms(datetime.now(UTC)),
        }
        return self.notice(payment.id, transfer)
