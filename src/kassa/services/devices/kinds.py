"""What the device core asks of a kind of device: the rules it adds to relaying operations.

The core (`registry`, `tokens`, `rights`, `presence`, `queue`, `operations`, `signals`,
`hub`) knows devices only as rows of a kind; each kind's module (`terminals` for kiosks)
declares one `DeviceRules` and hands it to the hub that keeps its agents' connections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain.devices import DeviceKind, Operation, OperationError


class ResultRule(Protocol):
    async def __call__(
        self,
        conn: AsyncConnection,
        operation: Operation,
        *,
        ok: bool,
        body: Mapping[str, Any] | None,
        error: OperationError | None,
        now: datetime,
    ) -> None:
        """Act on an operation's first result, in the transaction that records it."""


@dataclass(frozen=True, slots=True)
class DeviceRules:
    """A kind of device, as the core sees it."""

    kind: DeviceKind
    #: What an operation's result does beyond the operation itself (a kiosk's answer to a
    #: payment's operation moves the payment); run once, not for a repeated result.
    settle: ResultRule | None = None
