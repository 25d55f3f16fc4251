"""Object ids: a type prefix and a time-sortable random part (`pay_01jd6x…`).

The part after the prefix is 10 characters of millisecond timestamp and 16 of randomness in
lower-case Crockford base32, so ids sort by creation time as plain strings. Cursor pagination
("newest first") leans on that. Within one process ids are also strictly increasing: an id made
in the same millisecond as the previous one takes the previous random part plus one (as
monotonic ULIDs do), so objects created in one burst still list in creation order.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time

_RANDOM_BITS = 80
_TIME_BITS = 50  # 10 characters: milliseconds for the next 35,000 years
#: RFC 4648 base32 digits to Crockford's, in ASCII order (so ids sort as strings).
_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz"
)


def _encode(ms: int, random: int) -> str:
    """`ms` and `random` as 10 + 16 base32 characters, most significant first. Every notification
    makes two ids, so this uses the C base32 encoder rather than a loop of 26 divisions: 20
    bytes give 32 characters, and the first 6 are the 30 zero bits above the 130 used."""
    value = (ms % 2**_TIME_BITS) << _RANDOM_BITS | random
    return base64.b32encode(value.to_bytes(20, "big")).translate(_TO_CROCKFORD)[6:].decode()


_lock = threading.Lock()
_last = (0, 0)


def _monotonic_parts() -> tuple[int, int]:
    global _last  # noqa: PLW0603 - the one piece of state ids need
    with _lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_random = _last
        if ms <= last_ms and last_random + 1 < 2**_RANDOM_BITS:
            _last = (last_ms, last_random + 1)
        else:
            _last = (ms, secrets.randbits(_RANDOM_BITS))
        return _last


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A new id such as `pay_01jd6xq4m8c9e5rgt2w3n7v0ka`; `now_ms` fixes the time part in tests."""
    if now_ms is None:
        ms, random = _monotonic_parts()
    else:
        ms, random = now_ms, secrets.randbits(_RANDOM_BITS)
    return f"{prefix}_{_encode(ms, random)}"


def has_prefix(value: str, prefix: str) -> bool:
    """Whether `value` looks like an id of the given type (cheap syntactic check)."""
    return value.startswith(prefix + "_") and 0 < len(value) - len(prefix) - 1 <= 64
