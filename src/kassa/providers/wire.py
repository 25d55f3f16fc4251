"""Reading and writing what providers send: the small pieces several provider modules share."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from kassa.domain import KassaError, Money, ParameterInvalid, ProviderUnavailable
from kassa.domain.money import format_major

T = TypeVar("T")

#: What reading a malformed provider document raises.
MALFORMED = (ValueError, KeyError, TypeError, AttributeError, KassaError)


def text(document: Any, key: str, *, required: bool = True) -> str | None:
    """`document[key]`, which must be a string; `None` if absent and not `required`."""
    value = document[key] if required else document.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    if "\x00" in value:  # no provider sends one, and PostgreSQL's text cannot hold it
        raise ValueError(f"{key} holds a NUL character")
    return value


def signature_matches(given: str | None, expected: str) -> bool:
    """Whether a signature header's value is `expected`, compared in constant time. Header
    values arrive as text decoded from latin-1, and may hold any byte: they are compared as
    bytes, since comparing text that is not ASCII raises instead of answering."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


def flag(credentials: Mapping[str, str], name: str, *, default: bool) -> bool:
    """A yes/no setting of an account (`true`/`false`, `1`/`0`, `yes`/`no`); `default` if it
    is empty, `ParameterInvalid` if it is anything else."""
    value = (credentials.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value:
        raise ParameterInvalid(f"{name} must be true or false, not {value!r}", param=name)
    return default


def own_signature(secret: str, body: bytes) -> str:
    """The signature of a notification Kassa produces itself and ingests through its own
    notification path (the USDT-TRC20 watcher's, the Telegram bot's `successful_payment`):
    hex HMAC-SHA256 of the body, keyed by a secret Kassa generated for the account."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def read_answer(reader: Callable[[Any], T], document: Any, *, provider: str) -> T:
    """Read an API answer with `reader`; an unreadable one leaves the outcome unknown, so it
    is `ProviderUnavailable`, never a refusal."""
    try:
        return reader(document)
    except MALFORMED as exc:
        raise ProviderUnavailable(f"{provider} answered something unreadable: {exc!r}") from exc


def value_amount(amount: int, currency: str) -> dict[str, str]:
    """Minor units as `{"value": "1500.00", "currency": "RUB"}` (major units, a decimal
    string with the currency's decimals), the form YooKassa and the sandbox use."""
    return {"value": format_major(amount, currency), "currency": currency}


def parse_value_amount(document: Any) -> Money:
    """`{"value": "1500.00", "currency": "RUB"}` as `Money`, exactly: the value must be a
    decimal string (a JSON number would have been read as a float)."""
    value, currency = document["value"], document["currency"]
    if not isinstance(value, str) or not isinstance(currency, str):
        raise TypeError("amount is {value: decimal string, currency: string}")
    return Money.from_major(value, currency)


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
