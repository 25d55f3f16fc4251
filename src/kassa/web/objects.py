"""The API's shapes of what the services return: lists and pages (`{"object": "list", "data",
"has_more"}`), terminals and their operations.

The objects events carry too (payments, refunds, events, webhook endpoints and deliveries)
keep their one shape in the services, for the events and the API alike: see
`kassa.services.objects`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from kassa.domain.devices import Operation
from kassa.domain.terminals import Terminal
from kassa.services.devices.presence import ONLINE_WITHIN
from kassa.services.objects import timestamp
from kassa.services.pagination import Page

T = TypeVar("T")


def list_object(data: Iterable[dict[str, Any]], *, has_more: bool = False) -> dict[str, Any]:
    """A list as the API shows it; without `has_more`, the whole of it."""
    return {"object": "list", "data": list(data), "has_more": has_more}


def page_object(page: Page[T], shape: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A page of the services' objects as the API lists them, each in its `shape`."""
    return list_object(map(shape, page.items), has_more=page.has_more)


def terminal_object(terminal: Terminal, now: datetime) -> dict[str, Any]:
    """A terminal as the API shows it."""
    return {
        "id": terminal.id,
        "object": "terminal",
        "name": terminal.name,
        "location": terminal.location,
        "enabled": terminal.enabled,
        "online": terminal.online(now, within=ONLINE_WITHIN),
        "agent": {"kind": terminal.agent_kind, "version": terminal.agent_version},
        "connected_at": timestamp(terminal.connected_at),
        "last_seen_at": timestamp(terminal.last_seen_at),
        "health": dict(terminal.health),
        "stats": dict(terminal.stats),
        "created_at": timestamp(terminal.created_at),
    }


def operation_object(operation: Operation) -> dict[str, Any]:
    """A terminal operation as the API shows it."""
    error = None
    if operation.error is not None:
        error = {
            "code": operation.error.code,
            "message": operation.error.message,
            "unknown": operation.error.unknown,
        }
    return {
        "id": operation.request_id,
        "object": "terminal_operation",
        "terminal": operation.device_id,
        "kind": operation.kind,
        "state": operation.state.value,
        "payment": operation.payment_id,
        "result": operation.result,
        "error": error,
        "deadline": timestamp(operation.deadline),
        "created_at": timestamp(operation.created_at),
    }
