"""The local journal of what happened on this PC (`kassa.protocol.club_pc.PcEvent`: minutes
played, launches, locks, unlocks), kept in SQLite in the data dir and replayed to the hub
(`EVENTS`) in batches whenever the link is up. Each event has a UUID and a `seq` growing by
one on this PC, so the hub ignores what it already has; an event is marked sent once the hub
has answered for it, and forgotten `KEEP` seconds later.

The methods are blocking and thread-safe; the core runs them with `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from kassa.protocol.club_pc import MAX_EVENTS, EventKind, PcEvent

FILE = "events.db"
#: Sent events are kept this long, in seconds.
KEEP = 7 * 86_400

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    session TEXT,
    app TEXT,
    reason TEXT,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS events_unsent ON events (sent_at, seq);
"""

_COLUMNS = "id, seq, kind, at, session, app, reason"


class EventJournal:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(
        self,
        kind: EventKind,
        at: str,
        *,
        session: str | None = None,
        app: str | None = None,
        reason: str | None = None,
    ) -> PcEvent:
        """Journal an event (`at`: hub time, ISO 8601) with the next `seq`."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT coalesce(max(seq), 0) + 1 FROM events").fetchone()
                event = PcEvent(str(uuid.uuid4()), int(row[0]), kind, at, session, app, reason)
                self._db.execute(
                    f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    (event.id, event.seq, event.kind, at, session, app, reason),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return event

    def unsent(self, limit: int = MAX_EVENTS) -> list[PcEvent]:
        """The oldest events not yet sent, in `seq` order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM events WHERE sent_at IS NULL ORDER BY seq LIMIT ?",  # noqa: S608
                (limit,),
            ).fetchall()
        return [PcEvent(*row) for row in rows]

    def mark_sent(self, events: list[PcEvent]) -> None:
        with self._lock:
            self._db.executemany(
                "UPDATE events SET sent_at = ? WHERE id = ?",
                [(self.clock(), event.id) for event in events],
            )

    def prune(self) -> int:
        """Forget the events sent more than `KEEP` seconds ago; how many."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM events WHERE sent_at < ?", (self.clock() - KEEP,)
            )
        return cursor.rowcount

    async def replay(self, send: Callable[[list[PcEvent]], Awaitable[object]]) -> int:
        """Send every unsent event, `MAX_EVENTS` at a time, marking each batch sent once
        `send` returns (it raises if the hub did not answer); how many were sent."""

        sent = 0
        while batch := await asyncio.to_thread(self.unsent):
            await send(batch)
            await asyncio.to_thread(self.mark_sent, batch)
            sent += len(batch)
        return sent
