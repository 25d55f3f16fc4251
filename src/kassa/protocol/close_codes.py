"""The codes a connection is closed with (RFC 6455 § 7.4; 4000-4999 are left to
applications), the same for every kind of device (docs/terminal-protocol.md, "Connecting")."""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class CloseCode(IntEnum):
    GOING_AWAY = 1001
    """The closing end is shutting down: reconnect after backoff."""
    PROTOCOL_ERROR = 1002
    """The first message was not `hello`."""
    POLICY_VIOLATION = 1008
    """How a field agent's connection is refused, as the ws-gateway server did: sent before
    the upgrade, so uvicorn answers the handshake with HTTP 403."""
    REVOKED = 4401
    """The device's token was revoked while connected: it will never work again, stop."""
    DISABLED = 4403
    """An operator disabled the device while connected: retry slowly, it may come back."""
    REPLACED = 4409
    """A newer connection of the same device replaced this one: reconnect after backoff."""
