"""Secrets at rest: which key encrypts them, sealing a secret as it is written, the check
at start, and key rotation (`kassa secrets status | rotate`).

The database names its current key: the `key_check` row of `hub_secrets` holds a known text
encrypted under it. Whoever writes a secret takes a `Sealer` in its write transaction, which
reads that row (on PostgreSQL `FOR SHARE`, so a rotation's switch of the row waits for the
transaction to end) and encrypts under the row's key. Once a rotation has switched the row,
nothing is encrypted under the old key any more, and whatever was is committed before the
rotation goes looking for it. On SQLite the one writer gives the same order.

To keep a new kind of secret (a bot token, say): write `(await sealer(ctx, conn))(value)` in
the transaction that stores it, read it back with `ctx.keyring.decrypt(token)`, and add its
column to `PLACES` so rotations re-encrypt it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    Table,
    Text,
    and_,
    cast,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.services.admin import audit
from kassa.services.context import Context
from kassa.store.keyring import (
    CHECK_NAME,
    CHECK_TEXT,
    HEAD_LENGTH,
    PREFIX,
    Keyring,
    KeyringError,
    is_token,
    token_key_id,
)
from kassa.store.tables import (
    bot_settings,
    hub_secrets,
    idempotency_keys,
    provider_accounts,
    webhook_endpoints,
)

#: Rows re-encrypted per transaction during a rotation (SQLite's writer is held meanwhile).
BATCH = 200


@dataclass(frozen=True, slots=True)
class Sealer:
    """Encrypts secrets under the database's current key, `key_id`."""

    keyring: Keyring
    key_id: str

    def __call__(self, plaintext: str) -> str:
        return self.keyring.encrypt(plaintext, self.key_id)


async def sealer(ctx: Context, conn: AsyncConnection) -> Sealer:
    """The sealer for secrets written in the write transaction on `conn`. On a database
    without a current key yet, the keyring's newest key becomes it (made first if need be)."""
    token = await _check_token(conn, lock=True)
    if token is None:
        first = ctx.keyring.newest_id
        await conn.execute(
            ctx.db.insert_ignoring_conflict(hub_secrets, index_elements=["name"]),
            {
                "name": CHECK_NAME,
                "value": ctx.keyring.encrypt(CHECK_TEXT, first),
                "created_at": ctx.clock(),
            },
        )
        token = await _check_token(conn, lock=True)
        assert token is not None
    return Sealer(ctx.keyring, _verified(ctx.keyring, token))


async def check(ctx: Context) -> str:
    """The id of the database's current key, once this Kassa is known to have it: run at
    start, so a missing or wrong key stops Kassa with `SecretKeyMissing` before it serves."""
    async with ctx.db.read() as conn:
        token = await _check_token(conn)
    if token is not None:
        return _verified(ctx.keyring, token)
    async with ctx.db.write() as conn:
        return (await sealer(ctx, conn)).key_id


async def _check_token(conn: AsyncConnection, *, lock: bool = False) -> str | None:
    query = select(hub_secrets.c.value).where(hub_secrets.c.name == CHECK_NAME)
    if lock:
        query = query.with_for_update(read=True)
    value: str | None = (await conn.execute(query)).scalar()
    return value


def _verified(keyring: Keyring, token: str) -> str:
    if keyring.decrypt(token) != CHECK_TEXT:
        raise KeyringError("The database's key check does not match: it was altered")
    return token_key_id(token)


@dataclass(frozen=True, slots=True)
class Place:
    """A column that holds secrets: each value a token (`text`), the token's bytes (`bytes`,
    stored answers that carried a secret), or a JSON object some of whose values are tokens
    (`values`, provider credentials; a write encrypts them all under one key)."""

    table: Table
    column: str
    kind: Literal["text", "bytes", "values"]
    #: Which rows, if not every one.
    rows: ColumnElement[bool] | None = None

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"

    def holding(self, head: str = PREFIX) -> ColumnElement[bool]:
        """Rows whose secrets start with `head` (`enc1:` any key, `enc1:<id>:` one key)."""
        column = self.table.c[self.column]
        if self.kind == "bytes":
            start = func.substr(column, 1, len(head))
            holding = start == type_coerce(head.encode(), LargeBinary)
        elif self.kind == "values":
            holding = cast(column, Text).contains(f'"{head}', autoescape=True)
        else:
            holding = column.startswith(head, autoescape=True)
        return holding if self.rows is None else and_(self.rows, holding)

    def tokens(self, value: Any) -> list[str]:
        if self.kind == "bytes":
            return [bytes(value).decode()]
        if self.kind == "values":
            return [item for item in value.values() if is_token(item)]
        return [value]

    def resealed(self, value: Any, keyring: Keyring, seal: Sealer) -> Any:
        if self.kind == "bytes":
            return seal(keyring.decrypt(bytes(value).decode())).encode()
        if self.kind == "values":
            return {
                name: seal(keyring.decrypt(item)) if is_token(item) else item
                for name, item in value.items()
            }
        return seal(keyring.decrypt(value))


#: Every column Kassa keeps secrets in.
PLACES = (
    Place(provider_accounts, "credentials", "values"),
    Place(webhook_endpoints, "secret", "text"),
    Place(webhook_endpoints, "previous_secret", "text"),
    # The key check is switched by the rotation itself.
    Place(hub_secrets, "value", "text", rows=hub_secrets.c.name != CHECK_NAME),
    # Answers replayed for an Idempotency-Key that hold a secret (a webhook signing secret, a
    # terminal token): see `kassa.services.idempotency`.
    Place(idempotency_keys, "response_body", "bytes"),
    # A shop's bot: its token, and its panel's token or password (`kassa.services.bot`).
    Place(bot_settings, "token", "text"),
    Place(bot_settings, "panel_settings", "values"),
    # The secret Telegram sends back to a webhook-mode bot's `/telegram/{shop}`.
    Place(bot_settings, "webhook_secret", "text"),
)


@dataclass(frozen=True, slots=True)
class Census:
    """What the database holds: its current key and its secrets per place and key."""

    current: str
    counts: dict[str, Counter[str]]

    @property
    def by_key(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.counts.values():
            total.update(counts)
        return total


async def census(ctx: Context) -> Census:
    """The database's current key (this Kassa must have it) and its secrets by key."""
    current = await check(ctx)
    counts: dict[str, Counter[str]] = {}
    async with ctx.db.read() as conn:
        for place in PLACES:
            column = place.table.c[place.column]
            shown = func.substr(column, 1, HEAD_LENGTH) if place.kind == "bytes" else column
            rows = await conn.execute(select(shown).where(place.holding()))
            counts[place.name] = Counter(
                token_key_id(token) for (value,) in rows for token in place.tokens(value)
            )
    return Census(current, counts)


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did: the database's key before and after, how many secrets it
    re-encrypted, the keys it removed from the key file, and those left to drop from
    `KASSA_SECRET_KEY`."""

    previous: str
    current: str
    moved: int
    retired: list[str]
    to_drop: list[str]


class NothingToRotate(KeyringError):
    """Every secret is under the newest key of `KASSA_SECRET_KEY` already."""


async def rotate(ctx: Context, *, actor: audit.Actor) -> Rotation:
    """Re-encrypt every stored secret under a new key, then retire the others.

    With the key file, the new key is made and put first in it, and the old ones are removed
    from it at the end. With `KASSA_SECRET_KEY`, the new key is its first one, and the old
    ones are for the operator to drop from it. A rotation cut short is finished by the next
    one (with no new key): secrets are re-encrypted a batch per transaction, and the database
    switches to the new key before the first batch (audited as `secrets.rotate`).
    """
    keyring = ctx.keyring
    found = await census(ctx)
    target = keyring.newest_id
    if target == found.current and set(found.by_key) <= {target}:
        if not keyring.from_file:
            others = ", ".join(kid for kid in keyring.ids if kid != target)
            raise NothingToRotate(
                f"Every stored secret is under key {target}, the first in KASSA_SECRET_KEY, "
                "already. "
                + (f"Drop the other keys ({others}) from it. " if others else "")
                + "To rotate, put a new key first in KASSA_SECRET_KEY (`kassa secrets generate` "
                "makes one), keep the old one after it, restart Kassa's processes with it, and "
                "run this again."
            )
        target = keyring.add_key()
    async with ctx.db.write() as conn:
        await conn.execute(
            update(hub_secrets)
            .where(hub_secrets.c.name == CHECK_NAME)
            .values(value=keyring.encrypt(CHECK_TEXT, target))
        )
        await audit.record(
            conn,
            actor=actor,
            action="secrets.rotate",
            now=ctx.clock(),
            details={"from_key": found.current, "to_key": target},
        )
    moved = 0
    for place in PLACES:
        moved += await _move(ctx, place, target)
    retired = keyring.keep_only(target) if keyring.from_file else []
    return Rotation(
        previous=found.current,
        current=target,
        moved=moved,
        retired=retired,
        to_drop=[kid for kid in keyring.ids if kid != target],
    )


async def _move(ctx: Context, place: Place, target: str) -> int:
    """Re-encrypt under `target` the secrets of `place` that are under another key."""
    table = place.table
    keys = list(table.primary_key.columns)
    column = table.c[place.column]
    pending = select(*keys, column).where(place.holding(), ~place.holding(f"{PREFIX}{target}:"))
    moved = 0
    while True:
        async with ctx.db.write() as conn:
            seal = await sealer(ctx, conn)
            if seal.key_id != target:
                raise KeyringError(
                    f"Another rotation moved the secrets to key {seal.key_id} meanwhile: run "
                    "`kassa secrets rotate` again once it is done"
                )
            rows = (await conn.execute(pending.limit(BATCH).with_for_update())).mappings().all()
            for row in rows:
                await conn.execute(
                    update(table)
                    .where(*_same(keys, row))
                    .values({place.column: place.resealed(row[place.column], ctx.keyring, seal)})
                )
        if not rows:
            return moved
        moved += len(rows)


def _same(keys: list[Any], row: Any) -> list[ColumnElement[bool]]:
    return [key == row[key.name] for key in keys]
