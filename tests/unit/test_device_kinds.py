"""The device kinds the domain stores and the ones a token's `kind` claim names are one list
(the protocol module imports nothing of Kassa, so it spells them itself)."""

from __future__ import annotations

from kassa import protocol
from kassa.domain.devices import DeviceKind


def test_the_protocol_names_every_device_kind_the_domain_has() -> None:
    assert {kind.value for kind in DeviceKind} == {kind.value for kind in protocol.DeviceKind}
