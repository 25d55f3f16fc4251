"""Ids sort by creation time as plain strings."""

from __future__ import annotations

from kassa.domain import new_id
from kassa.domain.ids import _encode, has_prefix


def test_shape() -> None:
    value = new_id("pay")
    assert value.startswith("pay_")
    assert len(value) == len("pay_") + 26
    assert has_prefix(value, "pay")
    assert not has_prefix(value, "re")


def test_ids_sort_by_time() -> None:
    older = [new_id("pay", now_ms=ms) for ms in (1, 2, 1_000, 1_700_000_000_000)]
    assert sorted(older) == older
    assert new_id("pay", now_ms=5) < new_id("pay", now_ms=6)


def test_ids_are_unique() -> None:
    assert len({new_id("pay", now_ms=1) for _ in range(1000)}) == 1000


def test_the_characters_are_crockford_base32_digits_of_time_then_randomness() -> None:
    digits = "0123456789abcdefghjkmnpqrstvwxyz"

    def base32(value: int, length: int) -> str:
        return "".join(digits[(value >> 5 * i) & 31] for i in reversed(range(length)))

    for ms, random in ((0, 0), (1, 1), (1_700_000_000_000, 2**80 - 1), (2**50 - 1, 12345)):
        assert _encode(ms, random) == base32(ms, 10) + base32(random, 16)
