"""A switch that ends a `kassa worker` at the commit of the bot's activation, for the crash
tests: loaded with `KASSA_CONSUMERS=tests.crash.activation_plugin:consumer` (the consumer it
exports does nothing; loading the module is the point), it is armed by the file named by
`ACTIVATION_CRASH_FILE`.

While that file exists, the first transaction about to commit that holds the receipt of the
`bot-activation` consumer and a change of a subscription (the consumer's effect: the
purchase activated, the subscription lengthened, its provisioning queued) ends the process
with `CRASHED` instead of committing, and removes the file first, so the worker started next
commits. It watches the statements through SQLAlchemy's engine events, from outside Kassa's
code: nothing in Kassa knows of it. The events are listened to only in a process given
`ACTIVATION_CRASH_FILE` (the worker), never in the tests' own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Event
from kassa.services.bot.activation import NAME
from kassa.services.events.consumers import Consumer

ARMED = "ACTIVATION_CRASH_FILE"
CRASHED = 71
_SEEN = "activation_plugin.seen"


def _note(
    conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
) -> None:
    seen: set[str] = conn.info.setdefault(_SEEN, set())
    if statement.startswith("INSERT INTO consumer_receipts") and NAME in str(parameters):
        seen.add("receipt")
    elif statement.startswith(("UPDATE bot_subscriptions", "INSERT INTO bot_subscriptions")):
        seen.add("subscription")


def _commit(conn: Connection) -> None:
    seen = conn.info.pop(_SEEN, set())
    armed = Path(os.environ[ARMED])
    if {"receipt", "subscription"} <= seen and armed.exists():
        armed.unlink()
        os._exit(CRASHED)


def _rollback(conn: Connection) -> None:
    conn.info.pop(_SEEN, None)


if ARMED in os.environ:
    event.listen(Engine, "before_cursor_execute", _note)
    event.listen(Engine, "commit", _commit)
    event.listen(Engine, "rollback", _rollback)


async def _nothing(_conn: AsyncConnection, _event: Event) -> None:
    return None


consumer = Consumer("activation-crash-switch", ("payment.succeeded",), _nothing)
