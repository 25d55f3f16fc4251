"""Connected devices of a shop (kiosk terminals today, club PCs next) and the operations Kassa
relays to them.

A device runs an edge agent that keeps a WebSocket to Kassa and turns operations into calls
to local services (a card gateway, a fiscal register, a printer, a PC's session lock). What
is common to every kind lives here; each kind's own rules sit beside it
(`kassa.domain.terminals` for kiosks). An operation's life:

    queued ──sent──▶ sent ──agent's ack──▶ accepted ──result──▶ done | unknown
       │               │                       └─────────────────▶ (a result may skip the ack)
       └──deadline─────┴──▶ expired

`unknown` is final: the local service may have acted (a card may have been charged) and
nobody can tell from here, so the operation is never sent again. Only an operator, from the
local service's own records, can resolve it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from kassa.domain.errors import ParameterInvalid

#: Device ids as the field's kiosks and the card gateway accept them ("KIOSK_001"); unique
#: within a shop, whatever the device's kind.
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Operation kinds: a route name of the agent (`routing_config.yaml` for a kiosk).
OPERATION_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class DeviceKind(StrEnum):
    """What a device is; each kind has its own rules module in `kassa.services.devices`."""

    TERMINAL = "terminal"
    """A kiosk or card terminal (`kassa.services.devices.terminals`)."""
    CLUB_PC = "club_pc"
    """A computer club's PC (`kassa.services.club.pcs`): its id is the PC's name."""


class AgentKind(StrEnum):
    """Which protocol a connected agent speaks."""

    KASSA = "kassa"
    """`kassa agent` on `/terminals/ws`: acks, results, status queries, a journal."""
    WS_CLIENT = "ws_client"
    """The field's ws_client 1.0.x on `/ws`: a reply per request, no acks, no journal."""
    PROXY_V1 = "proxy_v1"
    """The first gateway proxy on `/ws/{KIOSK_ID}`: payment requests only, no journal."""

    @property
    def journaled(self) -> bool:
        """Whether the agent remembers request ids, so an operation may be sent to it again."""
        return self is AgentKind.KASSA


class OperationState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    ACCEPTED = "accepted"
    DONE = "done"
    UNKNOWN = "unknown"
    EXPIRED = "expired"


#: States in which the operation's outcome is settled.
FINAL_STATES = frozenset({OperationState.DONE, OperationState.UNKNOWN, OperationState.EXPIRED})


@dataclass(frozen=True, slots=True)
class Device:
    """A device of a shop. `id` is the device's own name, unique within the shop."""

    id: str
    shop_id: str
    name: str
    enabled: bool
    token_version: int
    created_at: datetime
    kind: DeviceKind = DeviceKind.TERMINAL
    location: str | None = None
    agent_kind: AgentKind | None = None
    agent_version: str | None = None
    connected_at: datetime | None = None
    last_seen_at: datetime | None = None
    health: Mapping[str, Any] = field(default_factory=dict)
    stats: Mapping[str, Any] = field(default_factory=dict)

    def online(self, now: datetime, *, within: timedelta) -> bool:
        """Connected, and heard from (or kept alive by its hub process) within `within`."""
        return (
            self.connected_at is not None
            and self.last_seen_at is not None
            and now - self.last_seen_at <= within
        )


@dataclass(frozen=True, slots=True)
class OperationError:
    """Why an operation failed. `unknown`: the local service may have acted anyway."""

    code: str
    message: str
    unknown: bool = False
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One request to a device's local service, and what became of it."""

    request_id: str
    shop_id: str
    device_id: str
    kind: str
    body: Mapping[str, Any]
    state: OperationState
    deadline: datetime
    created_at: datetime
    method: str = "POST"
    payment_id: str | None = None
    sent_via: AgentKind | None = None
    result: Mapping[str, Any] | None = None
    error: OperationError | None = None


def check_device_id(value: str, kind: DeviceKind = DeviceKind.TERMINAL) -> str:
    if not DEVICE_ID.fullmatch(value):
        noun = kind.value.replace("_", " ")
        raise ParameterInvalid(
            f"A {noun} id is 1 to 64 letters, digits, '_' or '-' (e.g. KIOSK_001)", param="id"
        )
    return value


def check_kind(value: str) -> str:
    if not OPERATION_KIND.fullmatch(value):
        raise ParameterInvalid(
            "An operation kind is a lower-case route name such as payment, fiscal, kds, print",
            param="kind",
        )
    return value
