"""Idempotency keys: a request retried under the same key has its effect once, whichever
front-end it comes through (the API's `Idempotency-Key`, and next the bot and the club).

`run` is the whole of it for a front-end. The first request with a key claims it and reserves
the id of the object it will create. When it finishes, its answer (as the front-end shapes it:
the API's is an HTTP status and a JSON body) is stored; a later request with the same key and
the same fingerprint gets that answer replayed, one with a different fingerprint gets
`idempotency_key_reused`. Requests arriving while the first still runs wait for it and then
replay its answer, so concurrent duplicates have exactly one effect.

The answer commits together with what the request changed: a service writes through
`transaction(ctx)`, and under a key its (last) write transaction is held open when the service
returns, until the front-end has shaped the answer and `run` has stored it in the same
transaction. So a payment, its event and the answer that names it are committed together or
not at all, and a payment under a reserved id exists only if its key's answer is stored.

An answer that holds a secret (a webhook signing secret, a terminal token: shown once) is
stored encrypted, and decrypted to be replayed.

If the outcome is unknown (the provider timed out, the process died), the claim is left
retryable with its reserved id: the retry re-runs under the same id, which the provider also
sees as its idempotency key, so it can never charge twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import Insert, RowMapping, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    KassaError,
    ParameterInvalid,
    ProviderUnavailable,
    new_id,
)
from kassa.services import encryption
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.store.db import insert_ignoring_conflict
from kassa.store.keyring import PREFIX
from kassa.store.tables import idempotency_keys

#: A claim older than this whose request never finished is taken over (its process died).
STALE_CLAIM = timedelta(minutes=2)
#: How long a duplicate request waits for the first one before answering 409.
WAIT_SECONDS = 15.0
MAX_KEY_LENGTH = 255


class State(StrEnum):
    STARTED = "started"
    DONE = "done"
    RETRYABLE = "retryable"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a request answered, as its front-end shapes it (the API: an HTTP status and a JSON
    body); stored under its key and given back as it is to a retry."""

    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to give, and whether it is a stored one replayed (the action did not run)."""

    answer: Answer
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to run a request under `resource_id`, or the answer to replay instead.
    `locked_at` is the claim's mark: the claim is still this request's while the key's row
    has it (a request that outlived `STALE_CLAIM` may have lost it to a retry)."""

    resource_id: str
    replay: Answer | None = None
    locked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyRef:
    """An Idempotency-Key in its scope: keys belong to a shop and a mode."""

    shop_id: str
    test: bool
    key: str

    def __post_init__(self) -> None:
        if not 0 < len(self.key) <= MAX_KEY_LENGTH or not self.key.isprintable():
            raise ParameterInvalid(
                f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
                param="Idempotency-Key",
            )

    def params(self) -> dict[str, object]:
        """The key's row, as the parameters of the statements built once below."""
        return {"k_shop_id": self.shop_id, "k_test": self.test, "k_key": self.key}


async def run(
    ctx: Context,
    caller: Caller,
    key: str | None,
    *,
    fingerprint: str,
    prefix: str,
    action: Callable[[str], Awaitable[Answer]],
    refused: Callable[[KassaError], Answer],
    secret: bool = False,
) -> Outcome:
    """Run `action(resource_id)` at most once per `key` of the caller's shop and mode, or give
    back the stored answer of an earlier run with the same `fingerprint` (see `fingerprint`;
    it is not used without a key).
    `resource_id` is a new id with `prefix` (`pay`), the same for every retry, so a provider
    that sees it as its own idempotency key cannot act twice. Without a key, it just runs.

    What the action writes through `transaction` commits together with its answer (see the
    module's docstring). A domain error is an answer too (shaped by `refused`) and is stored,
    the action's writes rolled back; an unknown outcome (provider unreachable, an unexpected
    failure) is not, and the key stays retryable with its reserved id. An answer that holds
    a `secret` (shown once, such as a signing secret) is stored encrypted."""
    if key is None:
        return Outcome(await action(new_id(prefix)))
    ref = KeyRef(shop_id=caller.own_shop.id, test=caller.own_mode, key=key)
    claimed = await claim(ctx, ref, request_hash=fingerprint, prefix=prefix)
    if claimed.replay is not None:
        return Outcome(claimed.replay, replayed=True)
    held = _Held(ctx, ref, claimed, secret)
    token = _RUNNING.set(held)
    try:
        answer = await action(claimed.resource_id)
    except ProviderUnavailable as exc:
        await held.abandon(exc)
        await release(ctx, ref, claimed)
        raise
    except KassaError as exc:
        await held.abandon(exc)
        answer = refused(exc)
        await complete(ctx, ref, answer, secret=secret, claimed=claimed)
        return Outcome(answer)
    except BaseException as exc:
        await held.abandon(exc)
        await release(ctx, ref, claimed)
        raise
    finally:
        _RUNNING.reset(token)
    try:
        await held.finish(answer)
    except BaseException:
        await release(ctx, ref, claimed)  # nothing committed (or the claim is no longer ours)
        raise
    return Outcome(answer)


@asynccontextmanager
async def transaction(ctx: Context) -> AsyncIterator[AsyncConnection]:
    """A write transaction of a service's operation: `ctx.db.write()`, but under a key (inside
    `run`) its commit waits for the answer. The block's end leaves it open; `run` stores the
    answer in it and commits both, or rolls it back if the answer is never made. An operation
    that opens a second one commits the first then: the answer goes with the last.

    Nothing may wait on I/O between the block's end and the service's return (on SQLite the
    one writer is held until then)."""
    held = _RUNNING.get()
    if held is None or held.task is not asyncio.current_task():
        # Not under a key, or in a task the action started (it inherits the variable).
        async with ctx.db.write() as conn:
            yield conn
        return
    await held.commit()
    stack = AsyncExitStack()
    conn = await stack.enter_async_context(ctx.db.write())
    try:
        yield conn
    except BaseException as exc:
        await stack.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    held.hold(stack, conn)


#: The run under a key that the current task is in, for `transaction` to find.
_RUNNING: ContextVar[_Held | None] = ContextVar("kassa_idempotency_run", default=None)


class _Held:
    """A run under a key, and the write transaction of its action held open for its answer."""

    def __init__(self, ctx: Context, ref: KeyRef, claimed: Claim, secret: bool) -> None:
        self.ctx, self.ref, self.claimed, self.secret = ctx, ref, claimed, secret
        self.task = asyncio.current_task()
        self._stack: AsyncExitStack | None = None
        self._conn: AsyncConnection | None = None

    def hold(self, stack: AsyncExitStack, conn: AsyncConnection) -> None:
        self._stack, self._conn = stack, conn

    async def commit(self) -> None:
        """Commit the held transaction without the answer (the action writes again)."""
        stack, self._stack, self._conn = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def abandon(self, exc: BaseException) -> None:
        """Roll the held transaction back: the action failed after it."""
        stack, self._stack, self._conn = self._stack, None, None
        if stack is not None:
            await stack.__aexit__(type(exc), exc, exc.__traceback__)

    async def finish(self, answer: Answer) -> None:
        """Store the answer in the held transaction and commit both; in one of its own if the
        action wrote nothing through `transaction`."""
        stack, conn = self._stack, self._conn
        self._stack, self._conn = None, None
        if stack is None or conn is None:
            await complete(self.ctx, self.ref, answer, secret=self.secret, claimed=self.claimed)
            return
        async with stack:
            await _store(self.ctx, conn, self.ref, answer, secret=self.secret, claimed=self.claimed)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path, and the body's JSON content
    (key order and whitespace aside)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


async def claim(
    ctx: Context, ref: KeyRef, *, request_hash: str, prefix: str, wait: float = WAIT_SECONDS
) -> Claim:
    """Claim `ref` for a request, waiting for a concurrent request with the same key."""
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        result = await _try_claim(ctx, ref, request_hash=request_hash, prefix=prefix)
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise IdempotencyKeyInUse(
                "A request with this Idempotency-Key is still being processed; retry later",
                param="Idempotency-Key",
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)


# The statements, built once (values are given at execution, so SQLAlchemy reuses their
# compiled forms). `_OWN` is the key's row while it is still the claim a request holds.

_THE_KEY = and_(
    idempotency_keys.c.shop_id == bindparam("k_shop_id"),
    idempotency_keys.c.test == bindparam("k_test"),
    idempotency_keys.c.key == bindparam("k_key"),
)
_OWN = and_(
    _THE_KEY,
    idempotency_keys.c.state == State.STARTED.value,
    idempotency_keys.c.locked_at == bindparam("k_locked_at"),
)
_READ = select(idempotency_keys).where(_THE_KEY)
_TAKE = (
    update(idempotency_keys)
    .where(_THE_KEY, idempotency_keys.c.locked_at == bindparam("k_locked_at"))
    .returning(idempotency_keys.c.key)
)
_STORE = update(idempotency_keys).where(_OWN).values(state=State.DONE.value)
_RELEASE = update(idempotency_keys).where(_OWN).values(state=State.RETRYABLE.value)


@cache
def _claim_new(dialect: str) -> Insert:
    return insert_ignoring_conflict(
        dialect, idempotency_keys, index_elements=["shop_id", "test", "key"]
    ).returning(idempotency_keys.c.key)


async def _try_claim(ctx: Context, ref: KeyRef, *, request_hash: str, prefix: str) -> Claim | None:
    now = ctx.clock()
    fresh_id = new_id(prefix)
    async with ctx.db.write() as conn:
        inserted = await conn.execute(
            _claim_new(ctx.db.dialect),
            {
                "shop_id": ref.shop_id,
                "test": ref.test,
                "key": ref.key,
                "request_hash": request_hash,
                "state": State.STARTED.value,
                "resource_id": fresh_id,
                "created_at": now,
                "locked_at": now,
            },
        )
        if inserted.first() is not None:
            return Claim(fresh_id, locked_at=now)
        row = (await conn.execute(_READ, ref.params())).mappings().one()
        if row["created_at"] < now - timedelta(hours=ctx.settings.idempotency_ttl_hours):
            # Past its lifetime the key starts over, as a new request.
            await _take(conn, ref, row, request_hash=request_hash, resource_id=fresh_id, now=now)
            return Claim(fresh_id, locked_at=now)
        if row["request_hash"] != request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used with a different request",
                param="Idempotency-Key",
            )
        if row["state"] == State.DONE:
            body: bytes = row["response_body"]
            if body.startswith(PREFIX.encode()):
                body = ctx.keyring.decrypt(body.decode()).encode()
            return Claim(row["resource_id"], Answer(row["response_status"], body))
        if row["state"] == State.RETRYABLE or row["locked_at"] < now - STALE_CLAIM:
            taken = await _take(
                conn, ref, row, request_hash=request_hash, resource_id=row["resource_id"], now=now
            )
            return Claim(row["resource_id"], locked_at=now) if taken else None
        return None


async def _take(
    conn: AsyncConnection,
    ref: KeyRef,
    row: RowMapping,
    *,
    request_hash: str,
    resource_id: str,
    now: datetime,
) -> bool:
    """Take over an existing claim, unless someone else changed it since `row` was read."""
    result = await conn.execute(
        _TAKE,
        {
            **ref.params(),
            "k_locked_at": row["locked_at"],
            "request_hash": request_hash,
            "state": State.STARTED.value,
            "resource_id": resource_id,
            "created_at": row["created_at"] if resource_id == row["resource_id"] else now,
            "locked_at": now,
            "response_status": None,
            "response_body": None,
        },
    )
    return result.first() is not None


async def complete(
    ctx: Context, ref: KeyRef, answer: Answer, *, claimed: Claim, secret: bool = False
) -> None:
    """Store the answer of the request holding the claim, for replays, in a transaction of its
    own; encrypted if it holds a `secret`."""
    async with ctx.db.write() as conn:
        await _store(ctx, conn, ref, answer, secret=secret, claimed=claimed)


async def _store(
    ctx: Context,
    conn: AsyncConnection,
    ref: KeyRef,
    answer: Answer,
    *,
    secret: bool,
    claimed: Claim,
) -> None:
    """Store the answer on `conn`, if the claim is still this request's. A request that
    outlived `STALE_CLAIM` and lost its claim to a retry raises `IdempotencyKeyInUse`
    (rolling back what it wrote): the retry, under the same id, makes the answer."""
    body = answer.body
    if secret:
        body = (await encryption.sealer(ctx, conn))(body.decode()).encode()
    stored = await conn.execute(
        _STORE,
        {
            **ref.params(),
            "k_locked_at": claimed.locked_at,
            "response_status": answer.status,
            "response_body": body,
        },
    )
    if stored.rowcount == 0:
        raise IdempotencyKeyInUse(
            "A retry with this Idempotency-Key took over this request; retry to get its answer",
            param="Idempotency-Key",
        )


async def release(ctx: Context, ref: KeyRef, claimed: Claim) -> None:
    """Leave the claim for a retry: the outcome is unknown, the reserved id is kept. A claim
    already lost to a retry is left as that retry has it."""
    async with ctx.db.write() as conn:
        await conn.execute(_RELEASE, {**ref.params(), "k_locked_at": claimed.locked_at})


#: Keys forgotten per transaction by `prune`: SQLite's writer runs on the event loop's thread,
#: so a transaction's length is how long the loop waits.
PRUNE_BATCH = 500


async def prune(ctx: Context) -> int:
    """Forget keys past their lifetime, a batch per transaction; returns how many."""
    cutoff = ctx.clock() - timedelta(hours=ctx.settings.idempotency_ttl_hours)
    return await ctx.db.delete_in_batches(
        idempotency_keys, idempotency_keys.c.created_at < cutoff, batch=PRUNE_BATCH
    )
