"""The message types and the vocabulary inside their data (docs/terminal-protocol.md,
"Messages"), shared by the hub and every agent.

The data's field names (`request_id`, `kind`, `body`, …) are written out where messages are
built and read: the protocol document lists them, and a dictionary key reads best as itself.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Any


@unique
class MessageType(StrEnum):
    """A frame's `type`. Unknown types are ignored by both ends."""

    HELLO = "hello"
    """Agent → hub, first on every connection: who it is and which results the hub lacks."""
    WELCOME = "welcome"
    """Hub → agent, in answer to `hello`."""
    HEARTBEAT = "heartbeat"
    """Agent → hub, periodically: counters and the health of what the agent serves."""
    OPERATION = "operation"
    """Hub → agent: work to run once, identified by its `request_id`."""
    ACK = "ack"
    """Either way: the agent journaled an operation, or the hub stored a result."""
    RESULT = "result"
    """Agent → hub: an operation's outcome, sent again until the hub acknowledges it."""
    STATUS_QUERY = "status_query"
    """Hub → agent: what became of an operation?"""
    STATUS = "status"
    """Agent → hub: the answer to `status_query` while there is no result (`OperationStatus`)."""
    ERROR = "error"
    """Hub → agent: a frame could not be read (`ErrorCode`)."""


@unique
class OperationStatus(StrEnum):
    """The `state` of a `status` message."""

    NOT_FOUND = "not_found"
    """The agent never received the operation, so never ran it."""
    RECEIVED = "received"
    """Journaled, not started."""
    IN_PROGRESS = "in_progress"
    """The local call is running."""


@unique
class ErrorCode(StrEnum):
    """The `code` of an `error` message."""

    MALFORMED = "malformed"
    """The frame was not a `{type, data}` JSON object."""


@unique
class ResultCode(StrEnum):
    """The `error.code` of a failed result."""

    ROUTE_NOT_FOUND = "route_not_found"
    """The agent has nowhere to run this kind of operation. Not run."""
    CONNECTION_REFUSED = "connection_refused"
    """The local service could not be reached; nothing was sent to it."""
    HTTP_ERROR = "http_error"
    """The local service answered with an HTTP error (`status` holds it)."""
    TIMEOUT = "timeout"
    """The local service did not answer in time. Unknown outcome."""
    INVALID_JSON = "invalid_json"
    """The local service answered 2xx with something that is not JSON. Unknown outcome."""
    EXPIRED = "expired"
    """The operation reached the agent after its deadline. Not run."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """The call was cut short (a crash, a broken connection): it may have acted."""
    NOT_PROCESSED = "not_processed"
    """The status lookup says the local service never processed the call. Not run."""
    AGENT_LOST_RECORD = "agent_lost_record"
    """Set by the hub: the agent has no record of an operation it acknowledged."""
    FAILED = "failed"
    """Set by the hub for a failed result that names no code."""


def ok_result(body: Any) -> dict[str, Any]:
    """A successful result's data (without its `request_id`)."""
    return {"ok": True, "body": body}


def failed_result(
    code: str, message: str, *, unknown: bool, status: int | None = None
) -> dict[str, Any]:
    """A failed result's data (without its `request_id`). `unknown`: whether the local service
    may have acted, in which case nobody may run the operation again."""
    error: dict[str, Any] = {"code": code, "message": message, "unknown": unknown}
    if status is not None:
        error["status"] = status
    return {"ok": False, "error": error}
