"""An event consumer for the tests, loaded into `kassa worker` processes with
`KASSA_CONSUMERS=tests.consumer_plugin:consumer`.

Its effect is a row in a table of its own, `consumer_plugin_effects` (the tests create it),
which does not stop an event from having two. Each call is also noted, before anything
else, in the file named by `CONSUMER_PLUGIN_CALLS`, as "<event id> <pid>". What else it does
comes from the event's object: `"seconds": s` makes it sleep after writing its effect, and
`"crash": true` makes its first call for the event end the process with `CRASHED` after
writing its effect, before the commit.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Event
from kassa.services.events.consumers import Consumer

CALLS = "CONSUMER_PLUGIN_CALLS"
CRASHED = 70

metadata = MetaData()
effects = Table(
    "consumer_plugin_effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False),
    Column("pid", Integer, nullable=False),
)


async def handle(conn: AsyncConnection, event: Event) -> None:
    earlier = _note_call(event.id)
    await conn.execute(insert(effects).values(event_id=event.id, pid=os.getpid()))
    subject = event.data["object"]
    await asyncio.sleep(subject.get("seconds", 0))
    if subject.get("crash") and not earlier:
        os._exit(CRASHED)


def _note_call(event_id: str) -> int:
    """Note this call; returns how many calls for the event came before it."""
    calls = Path(os.environ[CALLS])
    earlier = calls.read_text().split().count(event_id) if calls.exists() else 0
    with calls.open("a") as log:
        log.write(f"{event_id} {os.getpid()}\n")
    return earlier


consumer = Consumer("plugin", ("payment.*",), handle, from_start=True)
