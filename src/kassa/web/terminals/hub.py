"""The web side of the terminal hub (`kassa.services.devices.hub.DeviceHub`, with the
terminal kind's rules): how an agent's WebSocket is authenticated, refused, and seen by the
hub as a `Link`."""

from __future__ import annotations

from fastapi import WebSocket, WebSocketDisconnect

from kassa.domain import AuthenticationFailed, KassaError, TerminalUnavailable
from kassa.domain.devices import DeviceKind
from kassa.domain.terminals import Terminal
from kassa.services.context import Context
from kassa.services.devices import hub, registry

#: What sending on a connection that is closing raises: Starlette's disconnect, its
#: "cannot send once a close message has been sent" (a RuntimeError), or the socket's error.
CONNECTION_ENDED = (WebSocketDisconnect, RuntimeError, ConnectionError)


class Link(hub.Link):
    """A terminal agent's WebSocket, as the hub sees it."""

    ended = CONNECTION_ENDED

    @property
    def terminal(self) -> Terminal:
        return self.device


def token_of(websocket: WebSocket) -> str | None:
    """The token a connecting agent presents: `Authorization: Bearer …`, else `?token=`."""
    header = websocket.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return websocket.query_params.get("token")


async def authenticate(
    ctx: Context, token: str | None, kind: DeviceKind = DeviceKind.TERMINAL
) -> Terminal:
    """The device of `kind` behind a connection's token, or the `KassaError` that refuses
    it."""
    if not token:
        raise AuthenticationFailed(
            f"Send the {kind.value.replace('_', ' ')} token as 'Authorization: Bearer …' or "
            "?token=…",
            code="token_missing",
        )
    return await registry.authenticate(ctx, token, kind=kind)


def refusal(error: KassaError) -> tuple[int, str]:
    """The HTTP status refusing a handshake for `error`: 403 for a disabled terminal (it may
    come back), 401 for a token that will never work."""
    return (403 if isinstance(error, TerminalUnavailable) else 401), error.code
