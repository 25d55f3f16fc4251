"""Terminals (kiosks, card terminals) and the operations Kassa relays to them.

A terminal runs an edge agent that keeps a WebSocket to Kassa and turns operations into calls
to local services (the card gateway, the fiscal register, a printer). An operation's life:

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
from kassa.domain.status import PaymentStatus
from kassa.domain.updates import PaymentUpdate

#: Terminal ids as the field's kiosks and the card gateway accept them ("KIOSK_001").
TERMINAL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Operation kinds: a route name in the agent's `routing_config.yaml`.
OPERATION_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")
#: How long before a terminal payment expires the agent stops starting it: a card payment
#: takes up to ~35 s, so its outcome is known before Kassa expires the payment.
PAYMENT_MARGIN = timedelta(seconds=60)


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
#: States from which a result is taken.
AWAITING_RESULT = frozenset({OperationState.SENT, OperationState.ACCEPTED})


@dataclass(frozen=True, slots=True)
class Terminal:
    """A kiosk or terminal of a shop. `id` is the kiosk's own name, unique within the shop."""

    id: str
    shop_id: str
    name: str
    enabled: bool
    token_version: int
    created_at: datetime
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
    """One request to a terminal's local service, and what became of it."""

    request_id: str
    shop_id: str
    terminal_id: str
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


def check_terminal_id(value: str) -> str:
    if not TERMINAL_ID.fullmatch(value):
        raise ParameterInvalid(
            "A terminal id is 1 to 64 letters, digits, '_' or '-' (e.g. KIOSK_001)", param="id"
        )
    return value


def check_kind(value: str) -> str:
    if not OPERATION_KIND.fullmatch(value):
        raise ParameterInvalid(
            "An operation kind is a lower-case route name such as payment, fiscal, kds, print",
            param="kind",
        )
    return value


def payment_body(*, kiosk_id: str, order_id: str, amount: int) -> dict[str, Any]:
    """The card gateway's request: `sum` in minor units (kopecks)."""
    return {"kiosk_id": kiosk_id, "order_id": order_id, "sum": amount}


def payment_deadline(created_at: datetime, expires_at: datetime) -> datetime:
    """When the agent must no longer start the payment: `PAYMENT_MARGIN` before it expires
    (or halfway there, for a payment that lives shorter than twice the margin)."""
    margin = min(PAYMENT_MARGIN, (expires_at - created_at) / 2)
    return expires_at - margin


def payment_update(
    *, ok: bool, body: Mapping[str, Any] | None, error: OperationError | None
) -> PaymentUpdate | None:
    """What a terminal's answer to a `payment` operation says about the payment; `None` when
    the outcome is unknown (the payment stays pending).

    The card gateway answers HTTP 200 with `status` SUCCESS or DECLINED (3rd-party contract,
    see ../shared/reference/kiosk-protocols.md). A failure where the gateway was never reached,
    or refused the request, means nobody was charged. Any other answer is not understood, so
    it is treated as unknown rather than guessed.
    """
    if not ok:
        if error is None or error.unknown:
            return None
        return PaymentUpdate(
            status=PaymentStatus.FAILED, failure_code=error.code, failure_message=error.message
        )
    answer = body or {}
    status = str(answer.get("status", "")).upper()
    reference = answer.get("payment_id") or answer.get("rrn")
    provider_payment_id = str(reference) if reference else None
    if status == "SUCCESS":
        return PaymentUpdate(
            status=PaymentStatus.SUCCEEDED, provider_payment_id=provider_payment_id
        )
    if status == "DECLINED":
        return PaymentUpdate(
            status=PaymentStatus.FAILED,
            provider_payment_id=provider_payment_id,
            failure_code=str(answer.get("response_code") or "declined"),
            failure_message=str(answer.get("response_message") or "") or None,
        )
    return None
