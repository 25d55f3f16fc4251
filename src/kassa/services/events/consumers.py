"""In-process event consumers: features that act on events inside Kassa (fulfilment, the bot,
the club). Each sees each event at least once, and its effect happens exactly once.

A consumer subscribes to event types (`payment.succeeded`), families (`payment.*`) or `*`.
The background job reads the outbox through the consumer's own cursor (`outbox_cursor`, named
`consumer:<name>`) and hands every event it takes to its handler, on the connection of a
write transaction that first records the receipt `(consumer, event id)`, which is unique. The
handler's writes and the receipt commit together or not at all, so an event read again (its
worker died before the commit, the cursor re-reads above a gap, two workers read it at once)
finds its receipt and is skipped. On PostgreSQL a second worker reaching an event whose
receipt is not committed yet waits for that transaction, then skips the event or, if it was
rolled back, handles it; on SQLite write transactions take turns.

A handler that raises is rolled back, receipt and all. The event is recorded in
`consumer_failures` and tried again after `RETRY_DELAYS` (10 s, 1 min, 5 min, 30 min, 2 h,
6 h); after its seventh failure it is given up on, with an error in the log and the row kept
for a person to look at. Meanwhile the consumer goes on with later events, so one bad event
holds up nothing else, and a consumer must not rely on the order of events: it should look
at the current state (the payment as it is now) when order matters.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Event
from kassa.domain.events import filter_matches, is_event_filter
from kassa.services.context import Context
from kassa.services.events import cursor as outbox_cursor
from kassa.store import records
from kassa.store.tables import consumer_failures, consumer_receipts, events

log = logging.getLogger(__name__)

#: What a consumer does with an event: its writes go through the connection it is given.
Handler = Callable[[AsyncConnection, Event], Awaitable[None]]
#: A consumer's own check for `kassa audit`: reading through the connection it is given, it
#: yields a description of each receipt without its effect, or effect without its receipt.
Auditor = Callable[[AsyncConnection], AsyncIterator[str]]

#: The waits before each new try of an event a handler failed on; the failure after the last
#: wait gives up.
RETRY_DELAYS = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
#: How long a worker keeps a failed event it took for another try before another may take it.
LEASE = timedelta(minutes=2)
#: Events read at once; a consumer's round takes no new page after `ROUND_SECONDS`.
PAGE = 100
ROUND_SECONDS = 2.0
RETRIES_PER_ROUND = 20
#: How much of a failure's message is kept.
ERROR_KEPT = 2000

# Short enough for the cursor's name, `consumer:<name>`, to fit its column.
_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,47}")


@dataclass(frozen=True, slots=True)
class Consumer:
    """A feature acting on events: `handle(conn, event)` runs for each event of one of `types`
    (`*`, a type, or a family such as `payment.*`), inside the transaction that records it.

    The handler writes only through `conn` and does not commit it; it should not call out
    (a provider, the Telegram API): nothing undoes a call when the transaction rolls back.
    Write a row there and act on it from a job of your own, keyed by the event's id.

    A consumer seen for the first time starts at the end of the outbox, like a new webhook
    endpoint; `from_start` makes it go through every event already written first.

    `audit`, if given, is run by `kassa audit` to check that each receipt of this consumer
    (`consumer_receipts`) has its effect, and each effect its receipt; only the consumer
    knows where its effects are.
    """

    name: str
    types: tuple[str, ...]
    handle: Handler
    from_start: bool = False
    audit: Auditor | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"consumer name {self.name!r}: up to 48 of a-z, 0-9, '_', '.', '-', "
                "starting with a letter"
            )
        if isinstance(self.types, str):
            raise ValueError(f"consumer {self.name!r}: types is a sequence of event filters")
        object.__setattr__(self, "types", tuple(self.types))
        if not self.types:
            raise ValueError(f"consumer {self.name!r} takes no event types; use '*' for all")
        for pattern in self.types:
            if not is_event_filter(pattern):
                raise ValueError(
                    f"consumer {self.name!r}: {pattern!r} is not '*', an event type, or a "
                    "family such as 'payment.*'"
                )

    @property
    def cursor(self) -> str:
        """The name of this consumer's outbox cursor."""
        return f"consumer:{self.name}"

    def wants(self, event_type: str) -> bool:
        """Whether this consumer takes events of `event_type`."""
        return any(filter_matches(pattern, event_type) for pattern in self.types)


class Registry:
    """Consumers by name; the background job runs those of `REGISTRY`."""

    def __init__(self) -> None:
        self._consumers: dict[str, Consumer] = {}

    def __iter__(self) -> Iterator[Consumer]:
        return iter(list(self._consumers.values()))

    def register(self, consumer: Consumer) -> Consumer:
        """Add `consumer`. Registering it again changes nothing (a module may be imported by
        code and named in `KASSA_CONSUMERS`); another consumer of the same name is an error."""
        known = self._consumers.setdefault(consumer.name, consumer)
        if known is not consumer:
            raise ValueError(f"another consumer is already registered as {consumer.name!r}")
        return consumer

    def consumer(
        self, name: str, *types: str, from_start: bool = False
    ) -> Callable[[Handler], Consumer]:
        """A decorator making the function the handler of a new registered consumer, which
        takes the function's place."""

        def register(handle: Handler) -> Consumer:
            return self.register(Consumer(name, types, handle, from_start=from_start))

        return register

    def load(self, paths: str) -> list[Consumer]:
        """Import and register the consumers `paths` names: comma-separated `module:attribute`
        import paths (`KASSA_CONSUMERS`) of `Consumer` objects."""
        loaded = []
        for path in (part.strip() for part in paths.split(",")):
            if not path:
                continue
            module, sep, attribute = path.partition(":")
            if not (module and sep and attribute):
                raise ValueError(f"{path!r} is not a module:attribute import path")
            try:
                found = getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError) as exc:
                raise ValueError(f"cannot load {path!r}: {exc}") from exc
            if not isinstance(found, Consumer):
                raise ValueError(f"{path!r} is a {type(found).__name__}, not a Consumer")
            loaded.append(self.register(found))
        return loaded


#: The consumers Kassa runs.
REGISTRY = Registry()
register = REGISTRY.register
consumer = REGISTRY.consumer
load = REGISTRY.load


async def dispatch(ctx: Context, registry: Registry = REGISTRY) -> int:
    """The background job: each consumer handles the events written since its last round,
    then those it failed on that are due again. Returns how many events were handled."""
    handled = 0
    for each in registry:
        try:
            handled += await _catch_up(ctx, each) + await _retry_due(ctx, each)
        except Exception:
            # Its cursor stays where it was, for the next round; the other consumers go on.
            log.exception("event consumer %r: its round failed", each.name)
    return handled


async def _catch_up(ctx: Context, consumer: Consumer) -> int:
    now = ctx.clock()
    deadline = time.monotonic() + ROUND_SECONDS
    async with ctx.db.read() as conn:
        started = await outbox_cursor.created(conn, consumer.cursor)
    if not started:
        async with ctx.db.write() as conn:
            await outbox_cursor.create(conn, consumer.cursor, at_end=not consumer.from_start)
    async with ctx.db.read() as conn:
        window = await outbox_cursor.open_window(conn, consumer.cursor)
    handled = 0
    after = window.position.seq
    while after < window.upto and time.monotonic() < deadline:
        async with ctx.db.read() as conn:
            page = list((await conn.execute(_unhandled(consumer, after, window.upto))).mappings())
        for row in page:
            if consumer.wants(row["type"]):
                handled += await _handle(ctx, consumer, records.event(row))
        # Events it does not take count as handled: the cursor moves over them too.
        after = page[-1]["seq"] if len(page) == PAGE else window.upto
    position = outbox_cursor.next_position(window, handled_upto=after, now=now)
    if position != window.position:
        async with ctx.db.write() as conn:
            await outbox_cursor.move(conn, window, position)
    return handled


def _unhandled(consumer: Consumer, after: int, upto: int) -> Select[Any]:
    """Events in `(after, upto]` with neither a receipt nor a failure of `consumer`: one read
    again above a gap in the sequence is skipped here, not handed over again."""
    receipt = consumer_receipts.c
    failure = consumer_failures.c
    handled = (
        select(receipt.event_id)
        .where(receipt.consumer == consumer.name, receipt.event_id == events.c.id)
        .exists()
    )
    failed = (
        select(failure.event_id)
        .where(failure.consumer == consumer.name, failure.event_id == events.c.id)
        .exists()
    )
    return (
        select(events)
        .where(events.c.seq > after, events.c.seq <= upto, ~handled, ~failed)
        .order_by(events.c.seq)
        .limit(PAGE)
    )


def _failure_of(consumer: Consumer, event_id: str) -> tuple[ColumnElement[bool], ...]:
    failure = consumer_failures.c
    return failure.consumer == consumer.name, failure.event_id == event_id


async def _handle(
    ctx: Context, consumer: Consumer, event: Event, *, failed_before: int = 0
) -> bool:
    """Run the handler on `event` in one transaction with its receipt. Returns whether this
    call handled it: not if it was handled already, or if the handler failed (recorded)."""
    statement = ctx.db.insert_ignoring_conflict(
        consumer_receipts, index_elements=["consumer", "event_id"]
    ).returning(consumer_receipts.c.event_id)
    try:
        async with ctx.db.write() as conn:
            if failed_before:
                # Gone once handled; back with the rollback if the handler fails again.
                await conn.execute(
                    delete(consumer_failures).where(*_failure_of(consumer, event.id))
                )
            receipt = {"consumer": consumer.name, "event_id": event.id, "handled_at": ctx.clock()}
            if (await conn.execute(statement, receipt)).first() is None:
                return False  # handled already, maybe by another worker a moment ago
            await consumer.handle(conn, event)
    except Exception as exc:
        await _record_failure(ctx, consumer, event.id, exc, failed_before=failed_before)
        return False
    return True


async def _record_failure(
    ctx: Context, consumer: Consumer, event_id: str, exc: Exception, *, failed_before: int
) -> None:
    now = ctx.clock()
    attempts = failed_before + 1
    retry_at = now + RETRY_DELAYS[attempts - 1] if attempts < MAX_ATTEMPTS else None
    error = f"{type(exc).__name__}: {exc}"[:ERROR_KEPT]
    async with ctx.db.write() as conn:
        if failed_before:
            await conn.execute(
                update(consumer_failures)
                .where(*_failure_of(consumer, event_id))
                .values(attempts=attempts, error=error, last_failed_at=now, retry_at=retry_at)
            )
        else:
            # Unless another worker that read the event too has just recorded its failure.
            first = ctx.db.insert_ignoring_conflict(
                consumer_failures, index_elements=["consumer", "event_id"]
            )
            await conn.execute(
                first,
                {
                    "consumer": consumer.name,
                    "event_id": event_id,
                    "attempts": attempts,
                    "error": error,
                    "first_failed_at": now,
                    "last_failed_at": now,
                    "retry_at": retry_at,
                },
            )
    if retry_at is None:
        log.error(
            "event consumer %r gave up on event %s after %d attempts",
            consumer.name,
            event_id,
            attempts,
            exc_info=exc,
        )
    else:
        log.warning(
            "event consumer %r failed on event %s (attempt %d of %d); trying again at %s",
            consumer.name,
            event_id,
            attempts,
            MAX_ATTEMPTS,
            retry_at.isoformat(timespec="seconds"),
            exc_info=exc,
        )


async def _retry_due(ctx: Context, consumer: Consumer, *, limit: int = RETRIES_PER_ROUND) -> int:
    """Try again the failed events that are due. Each is claimed first by moving its
    `retry_at` a lease ahead (with `FOR UPDATE SKIP LOCKED` on PostgreSQL), so two workers do
    not both count an attempt, and a worker that dies leaves it to be taken again."""
    now = ctx.clock()
    failure = consumer_failures.c
    due = (
        select(failure.event_id)
        .where(failure.consumer == consumer.name, failure.retry_at <= now)
        .order_by(failure.retry_at)
    )
    async with ctx.db.read() as conn:
        # Looking first keeps an idle round from taking SQLite's write lock.
        if (await conn.execute(due.limit(1))).first() is None:
            return 0
    async with ctx.db.write() as conn:
        claimed = (
            await conn.execute(
                update(consumer_failures)
                .where(
                    failure.consumer == consumer.name,
                    failure.event_id.in_(due.limit(limit).with_for_update(skip_locked=True)),
                )
                .values(retry_at=now + LEASE)
                .returning(failure.event_id, failure.attempts)
            )
        ).all()
        found = await _events(conn, [row.event_id for row in claimed])
    handled = 0
    for row in claimed:
        handled += await _handle(ctx, consumer, found[row.event_id], failed_before=row.attempts)
    return handled


async def _events(conn: AsyncConnection, event_ids: Sequence[str]) -> dict[str, Event]:
    if not event_ids:
        return {}
    rows = await conn.execute(select(events).where(events.c.id.in_(event_ids)))
    return {row["id"]: records.event(row) for row in rows.mappings()}
