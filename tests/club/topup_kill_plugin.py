"""Loaded into a real `kassa worker` with
`KASSA_CONSUMERS=tests.club.topup_kill_plugin:consumer`: the club's own `club-topups` consumer,
and a process that dies with SIGKILL at the commit of the first transaction that wrote a
club ledger entry, after the entry and the top-up's change were written, before anything is
committed. It dies once: the file named by `CLUB_TOPUP_KILLED` records that it did, and a
worker started while it exists commits as usual. Without that variable (a test process that
imports this module by chance) it only names the consumer.

The kill point is the database connection's own `commit` event, which SQLAlchemy fires
before it asks the database to commit: nothing in Kassa's code knows about it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from kassa.services.club import topups

KILLED = "CLUB_TOPUP_KILLED"
_WROTE_ENTRY = "club_topup_kill_plugin.wrote_entry"


def _noted(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
    if statement.lstrip().upper().startswith("INSERT INTO CLUB_LEDGER"):
        conn.info[_WROTE_ENTRY] = True


def _at_commit(conn: Connection) -> None:
    if not conn.info.pop(_WROTE_ENTRY, False):
        return
    killed = Path(os.environ[KILLED])
    if killed.exists():
        return
    killed.write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)


if KILLED in os.environ:
    event.listen(Engine, "before_cursor_execute", _noted)
    event.listen(Engine, "commit", _at_commit)
    event.listen(Engine, "rollback", lambda conn: conn.info.pop(_WROTE_ENTRY, None))

#: The real consumer (registering it again changes nothing).
consumer = topups.CONSUMER
