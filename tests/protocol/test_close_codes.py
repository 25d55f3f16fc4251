"""The close codes: one value each, in the ranges RFC 6455 allows."""

from __future__ import annotations

from kassa.protocol import CloseCode


def test_close_codes_are_unique_and_in_range() -> None:
    values = [code.value for code in CloseCode]
    assert len(values) == len(set(values))
    # 1000-2999: the protocol's own (only the ones an endpoint may send); 4000-4999: ours.
    assert all(1000 <= value <= 1011 or 4000 <= value <= 4999 for value in values)


def test_the_documented_values() -> None:
    documented = {"GOING_AWAY": 1001, "REVOKED": 4401, "DISABLED": 4403, "REPLACED": 4409}
    assert {name: CloseCode[name].value for name in documented} == documented
