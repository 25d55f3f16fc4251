"""The durable journal of operations: what makes "an operation never reaches a local service
twice" hold across reconnects, restarts and crashes.

One SQLite row per `request_id` (the primary key turns a repeated operation into a lookup),
moving RECEIVED → CALLING → DONE (result stored) → ACKED (the hub stored the result). Each
step is committed (WAL, `synchronous=FULL`) before the agent acts on it: the row exists before
`ack` is sent, is CALLING before the local call starts, holds the result before `result` is
sent. A row found CALLING at start-up belongs to a call cut short by a crash or kill: its outcome
is unknown, so it is never called again; it becomes DONE with what the agent can find out about
it (the kiosk's status lookup), or with `outcome_unknown` (`kassa.agentkit.agent`).

The methods are blocking and thread-safe; the agent runs them with `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from kassa.protocol import ResultCode, failed_result

#: ACKED rows are kept this long (for `status_query` and for operators), then pruned.
KEEP_ACKED = 7 * 86_400

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    request_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    method TEXT NOT NULL,
    body TEXT NOT NULL,
    deadline TEXT,
    state TEXT NOT NULL,
    result TEXT,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS operations_state ON operations (state, updated_at);
"""


class State(StrEnum):
    RECEIVED = "RECEIVED"
    CALLING = "CALLING"
    DONE = "DONE"
    ACKED = "ACKED"


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation as the hub sent it (`deadline` as sent: ISO-8601 UTC, or None)."""

    request_id: str
    kind: str
    body: Any
    method: str = "POST"
    deadline: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    operation: Operation
    state: State
    result: dict[str, Any] | None

    @property
    def request_id(self) -> str:
        return self.operation.request_id


def outcome_unknown() -> dict[str, Any]:
    """The result of a call a stop cut short."""
    return failed_result(
        ResultCode.OUTCOME_UNKNOWN,
        "the agent stopped during the local call; check the service's own records",
        unknown=True,
    )


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        # Autocommit (isolation_level=None): each statement or explicit BEGIN…COMMIT is durable
        # on return, which is what the ordering rules above rely on.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def insert(self, operation: Operation) -> bool:
        """Journal a new operation as RECEIVED; False if its `request_id` is already known
        (atomically: of two concurrent inserts of one id exactly one returns True)."""
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO operations (request_id, kind, method, body, deadline,"
                " state, received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    operation.request_id,
                    operation.kind,
                    operation.method,
                    json.dumps(operation.body),
                    operation.deadline,
                    State.RECEIVED,
                    now,
                    now,
                ),
            )
            return cursor.rowcount == 1

    def get(self, request_id: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT request_id, kind, method, body, deadline, state, result"
                " FROM operations WHERE request_id = ?",
                (request_id,),
            ).fetchone()
        return None if row is None else _entry(row)

    def start_call(self, request_id: str) -> bool:
        """RECEIVED → CALLING, committed; False if the row is not RECEIVED (someone else
        started it), in which case the caller must not call the service."""
        return self._move(request_id, State.RECEIVED, State.CALLING)

    def finish(self, request_id: str, result: dict[str, Any]) -> None:
        """Store the result (RECEIVED or CALLING → DONE)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE operations SET state = ?, result = ?, updated_at = ?"
                " WHERE request_id = ? AND state IN (?, ?)",
                (
                    State.DONE,
                    json.dumps(result),
                    time.time(),
                    request_id,
                    State.RECEIVED,
                    State.CALLING,
                ),
            )

    def acknowledge(self, request_id: str) -> bool:
        """DONE → ACKED: the hub has the result. False if there was no result to acknowledge."""
        return self._move(request_id, State.DONE, State.ACKED)

    def unacked(self) -> list[Entry]:
        """Results the hub has not acknowledged yet, oldest first."""
        return self._select(State.DONE)

    def received(self) -> list[Entry]:
        """Operations journaled but never started, oldest first."""
        return self._select(State.RECEIVED)

    def interrupted(self) -> list[Entry]:
        """Calls cut short (CALLING rows, at start-up), oldest first; `finish` settles each."""
        return self._select(State.CALLING)

    def prune(self, keep: float = KEEP_ACKED) -> int:
        """Forget ACKED rows older than `keep` seconds; returns how many."""
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM operations WHERE state = ? AND updated_at < ?",
                (State.ACKED, time.time() - keep),
            )
            return cursor.rowcount

    def count(self, state: State) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM operations WHERE state = ?", (state,)
            ).fetchone()
        return int(row[0])

    def _move(self, request_id: str, source: State, target: State) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE operations SET state = ?, updated_at = ?"
                " WHERE request_id = ? AND state = ?",
                (target, time.time(), request_id, source),
            )
            return cursor.rowcount == 1

    def _select(self, state: State) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, kind, method, body, deadline, state, result"
                " FROM operations WHERE state = ? ORDER BY updated_at, rowid",
                (state,),
            ).fetchall()
        return [_entry(row) for row in rows]


def _entry(row: tuple[Any, ...]) -> Entry:
    request_id, kind, method, body, deadline, state, result = row
    return Entry(
        operation=Operation(
            request_id=request_id,
            kind=kind,
            body=json.loads(body),
            method=method,
            deadline=deadline,
        ),
        state=State(state),
        result=None if result is None else json.loads(result),
    )
