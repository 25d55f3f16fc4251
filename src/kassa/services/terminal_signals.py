"""Signals between hub processes about terminals: "operations are waiting for terminal X",
"operation R has its result", "terminal X changed (revoked, disabled)".

A signal is published after the transaction that caused it commits. Within a process it goes
straight to the subscribers; on PostgreSQL it is also sent with `pg_notify` inside that
transaction (so it is delivered exactly when it commits), and every hub process LISTENs
(`kassa.web.terminals.listener`) and hands what it hears to its own subscribers. A signal is
only a hint to look at the database: missing one delays, never loses, an operation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)

#: The PostgreSQL channel every hub process listens on.
CHANNEL = "kassa_terminals"


class SignalKind(StrEnum):
    WORK = "work"
    """Operations are queued for the terminal."""
    RESULT = "result"
    """An operation's outcome was recorded."""
    CHANGED = "changed"
    """The terminal was revoked, disabled or enabled."""


@dataclass(frozen=True, slots=True)
class Signal:
    kind: SignalKind
    shop_id: str
    terminal_id: str
    request_id: str | None = None

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Signal | None:
        try:
            fields = json.loads(text)
            return cls(
                kind=SignalKind(fields["kind"]),
                shop_id=str(fields["shop_id"]),
                terminal_id=str(fields["terminal_id"]),
                request_id=fields.get("request_id"),
            )
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring an unreadable terminal signal")
            return None


Subscriber = Callable[[Signal], None]


class Signals:
    """This process's subscribers."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every signal from now on; returns the unsubscribe."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, *signals: Signal) -> None:
        for signal in signals:
            for subscriber in list(self._subscribers):
                subscriber(signal)


async def notify(conn: AsyncConnection, signal: Signal) -> None:
    """Send `signal` to other hub processes when the transaction on `conn` commits
    (PostgreSQL; with SQLite there is one hub process, and `Signals.publish` suffices)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(CHANNEL, signal.encode())))
