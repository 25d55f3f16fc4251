"""Signals between hub processes about terminals: "operations are waiting for terminal X",
"operation R has its result", "terminal X changed (revoked, disabled)".

A signal is sent with `notify` inside the transaction that causes it, and heard once that
transaction commits: within the process through `Database.on_commit` (the mechanism that also
wakes the webhook dispatcher), and on PostgreSQL by every hub process, through `pg_notify` in
that transaction and a LISTEN (`kassa.web.terminals.listener`). A signal is only a hint to look
at the database: missing one delays, never loses, an operation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.store import Database
from kassa.store.db import touch

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


#: Signals ride on `Database.touch` topics, marked by this prefix.
TOPIC_PREFIX = "terminal:"


async def notify(conn: AsyncConnection, signal: Signal) -> None:
    """Send `signal` once the transaction on `conn` (from `Database.write`) commits: to this
    process's `on_signals` listeners and, on PostgreSQL, to every other hub process."""
    if touch(conn, TOPIC_PREFIX + signal.encode()) and conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(CHANNEL, signal.encode())))


def on_signals(db: Database, heard: Callable[[Signal], None]) -> Callable[[], None]:
    """Call `heard` with every signal of this process's transactions, after they commit;
    returns the unsubscribe."""

    def committed(topics: frozenset[str]) -> None:
        for topic in topics:
            if topic.startswith(TOPIC_PREFIX):
                signal = Signal.decode(topic.removeprefix(TOPIC_PREFIX))
                if signal is not None:
                    heard(signal)

    return db.on_commit(committed)
