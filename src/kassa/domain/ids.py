"""Object ids: a type prefix and a time-sortable random part (`pay_01jd6x…`).

The part after the prefix is 10 characters of millisecond timestamp and 16 of randomness in
lower-case Crockford base32, so ids sort by creation time as plain strings. Cursor pagination
("newest first") leans on that.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, in ASCII order


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A new id such as `pay_01jd6xq4m8c9e5rgt2w3n7v0ka`; `now_ms` fixes the time part in tests."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return f"{prefix}_{_encode(ms, 10)}{_encode(secrets.randbits(80), 16)}"


def has_prefix(value: str, prefix: str) -> bool:
    """Whether `value` looks like an id of the given type (cheap syntactic check)."""
    return value.startswith(prefix + "_") and 0 < len(value) - len(prefix) - 1 <= 64
