"""The cache of keys, shops and provider accounts: repeated reads cost no query, a change in
the same process is seen at once, and a change by another process (the CLI, another server)
within a second, on both databases."""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import create_async_engine

import kassa
from kassa.config import Settings
from kassa.domain import AuthenticationFailed, NotFound, ProviderNotConfigured
from kassa.services import configuration
from kassa.services.configuration import Cached, ConfigurationCache
from kassa.services.context import Context
from kassa.services.shops import keys, shops
from kassa.store.tables import change_counters
from tests.helpers import ShopSetup
from tests.live import LiveServer

#: How long another process's change may take to be seen: the claim is a second
#: (`configuration.CHECK_EVERY` is a quarter of it); the rest is slack for a busy machine.
WITHIN = 2.0


def eventually(condition: Callable[[], bool], *, within: float = WITHIN) -> bool:
    """Whether `condition()` holds at some point in the next `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@asynccontextmanager
async def context(database_url: str) -> AsyncIterator[Context]:
    ctx = Context.open(Settings(database_url=database_url))
    try:
        yield ctx
    finally:
        await ctx.close()


@contextmanager
def counting(ctx: Context) -> Iterator[list[str]]:
    """The statements `ctx`'s engines run meanwhile (SQLite's `BEGIN`s aside)."""
    engines = {ctx.db._reader.sync_engine, ctx.db._writer.sync_engine}
    statements: list[str] = []

    def run(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.engine in engines and not statement.startswith("BEGIN"):
            statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", run)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", run)


def key_id(server: LiveServer, secret: str) -> str:
    caller = server.call(keys.authenticate(server.ctx, secret))
    assert caller.key_id is not None
    return caller.key_id


def test_repeated_reads_are_served_without_a_query(database_url: str, shop: ShopSetup) -> None:
    async def scenario() -> None:
        async with context(database_url) as ctx:
            now = [0.0]
            ctx.configuration.clock = lambda: now[0]

            async def read_everything() -> None:
                caller = await keys.authenticate(ctx, shop.key)
                assert caller.own_shop.id == shop.shop.id
                chosen = await shops.choose_account(
                    ctx, shop=caller.own_shop, test=True, provider=None
                )
                assert chosen.id == shop.sandbox.id
                assert (await shops.get_account(ctx, account_id=chosen.id)).id == chosen.id
                hooked = await shops.hook_accounts(ctx, shop_name=shop.name, provider="sandbox")
                assert [account.id for account in hooked] == [chosen.id]

            with counting(ctx) as first:
                await read_everything()
            assert len(first) == 5  # the counter, then the four reads
            with counting(ctx) as again:
                await read_everything()
            assert again == []
            now[0] += configuration.CHECK_EVERY  # time to look at the counter again
            with counting(ctx) as later:
                await read_everything()
            (checked,) = later  # the counter, which has not moved
            assert "change_counters" in checked

    asyncio.run(scenario())


def test_a_change_in_the_same_process_is_seen_at_once(database_url: str, shop: ShopSetup) -> None:
    async def scenario() -> None:
        async with context(database_url) as ctx:
            ctx.configuration.check_every = 3600.0  # only the process's own changes count
            caller = await keys.authenticate(ctx, shop.key)
            assert caller.key_id is not None
            await shops.choose_account(ctx, shop=shop.shop, test=True, provider="sandbox")
            assert await shops.hook_accounts(ctx, shop_name=shop.name, provider="sandbox")

            await shops.configure_provider(
                ctx, shop=shop.shop, provider="sandbox", settings={"enabled": "false"}
            )
            with pytest.raises(ProviderNotConfigured):
                await shops.choose_account(ctx, shop=shop.shop, test=True, provider="sandbox")
            assert await shops.hook_accounts(ctx, shop_name=shop.name, provider="sandbox") == []
            assert not (await shops.get_account(ctx, account_id=shop.sandbox.id)).enabled

            await shops.set_timezone(ctx, shop=shop.shop, timezone="Asia/Almaty")
            assert (await keys.authenticate(ctx, shop.key)).own_shop.timezone == "Asia/Almaty"

            await keys.revoke_key(ctx, key_id=caller.key_id)
            with pytest.raises(AuthenticationFailed):
                await keys.authenticate(ctx, shop.key)

    asyncio.run(scenario())


def test_requests_that_come_while_the_counter_is_read_wait_for_it(
    database_url: str, shop: ShopSetup
) -> None:
    """Two requests at once after a pause: one reads the counter, the other waits for that
    reading instead of answering from what the cache held before."""

    async def scenario() -> None:
        async with context(database_url) as ctx, context(database_url) as other:
            now = [0.0]
            ctx.configuration.clock = lambda: now[0]
            caller = await keys.authenticate(ctx, shop.key)
            assert caller.key_id is not None
            await keys.revoke_key(other, key_id=caller.key_id)  # another process's change
            now[0] += configuration.CHECK_EVERY
            with counting(ctx) as statements:
                answers = await asyncio.gather(
                    keys.authenticate(ctx, shop.key),
                    keys.authenticate(ctx, shop.key),
                    return_exceptions=True,
                )
            assert [type(answer) for answer in answers] == [AuthenticationFailed] * 2
            assert sum("change_counters" in statement for statement in statements) == 1

    asyncio.run(scenario())


def test_a_key_revoked_by_the_cli_is_refused_by_a_running_server_within_a_second(
    server: LiveServer, shop: ShopSetup, database_url: str
) -> None:
    headers = {"Authorization": f"Bearer {shop.key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
        assert api.get("/v1/payments").status_code == 200  # the key is now in the cache
        revoked = subprocess.run(
            [sys.executable, "-m", "kassa", "keys", "revoke", key_id(server, shop.key)],
            env={**os.environ, "KASSA_DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert revoked.returncode == 0, revoked.stderr
        assert eventually(lambda: api.get("/v1/payments").status_code == 401)


def test_an_account_disabled_by_another_process_is_seen_within_a_second(
    server: LiveServer, shop: ShopSetup, database_url: str
) -> None:
    """Another process: a `Context` of its own, on its own engines and its own event loop."""
    headers = {"Authorization": f"Bearer {shop.key}"}
    body = {"amount": 150000, "currency": "RUB"}

    def created() -> int:
        return api.post("/v1/payments", json=body, headers=headers).status_code

    def hooked() -> list[str]:
        found = shops.hook_accounts(server.ctx, shop_name=shop.name, provider="sandbox")
        return [account.id for account in server.call(found)]

    async def disable() -> None:
        async with context(database_url) as other:
            await shops.configure_provider(
                other, shop=shop.shop, provider="sandbox", settings={"enabled": "false"}
            )

    with httpx.Client(base_url=server.url, timeout=30) as api:
        assert created() == 201
        assert hooked() == [shop.sandbox.id]
        asyncio.run(disable())
        assert eventually(lambda: created() == 422)
        assert api.post("/v1/payments", json=body, headers=headers).json()["error"]["code"] == (
            "provider_not_configured"
        )
        assert hooked() == []


def test_the_triggers_count_every_change_whoever_writes_it(database_url: str) -> None:
    """Plain SQL, as a person at `psql` would write it: the counter moves all the same."""
    statements = [
        "INSERT INTO shops (id, name, created_at, timezone) "
        "VALUES ('shop_trig', 'trig', '2026-12-06 00:00:00', 'UTC')",
        "INSERT INTO api_keys (id, shop_id, test, prefix, secret_hash, created_at) "
        "VALUES ('key_trig', 'shop_trig', true, 'sk_test_x', 'trig', '2026-12-06 00:00:00')",
        "INSERT INTO provider_accounts (id, shop_id, provider, test, enabled, credentials, "
        "created_at, updated_at) VALUES ('pa_trig', 'shop_trig', 'sandbox', true, true, '{}', "
        "'2026-12-06 00:00:00', '2026-12-06 00:00:00')",
        "UPDATE provider_accounts SET enabled = false WHERE id = 'pa_trig'",
        "UPDATE api_keys SET revoked_at = created_at WHERE id = 'key_trig'",
        "UPDATE shops SET timezone = 'Asia/Almaty' WHERE id = 'shop_trig'",
        "DELETE FROM provider_accounts WHERE id = 'pa_trig'",
        "DELETE FROM api_keys WHERE id = 'key_trig'",
        "DELETE FROM shops WHERE id = 'shop_trig'",
    ]
    version = select(change_counters.c.value).where(change_counters.c.name == configuration.COUNTER)

    async def moves() -> list[int]:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                before = (await conn.execute(version)).scalar_one()
            steps = []
            for statement in statements:
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
                async with engine.connect() as conn:
                    after = (await conn.execute(version)).scalar_one()
                steps.append(after - before)
                before = after
            return steps
        finally:
            await engine.dispose()

    assert asyncio.run(moves()) == [1] * len(statements)


def test_unknown_keys_are_not_kept(database_url: str) -> None:
    async def scenario() -> None:
        async with context(database_url) as ctx:
            for n in range(50):
                with pytest.raises(AuthenticationFailed):
                    await keys.authenticate(ctx, f"sk_test_unknown{n}")
            with pytest.raises(NotFound):
                await shops.get_account(ctx, account_id="pa_missing")
            assert (len(ctx.configuration.api_keys), len(ctx.configuration.accounts)) == (0, 0)

    asyncio.run(scenario())


def test_each_kind_is_bounded_and_a_value_read_across_a_change_is_not_kept() -> None:
    cache = ConfigurationCache(clock=lambda: 0.0)
    cache._checked_until = float("inf")  # no database here: never look at the counter
    kind: Cached[int, int] = cache.kind(max_items=3)
    db: Any = None

    async def scenario() -> None:
        def value(n: int) -> Callable[[], Awaitable[int]]:
            async def read() -> int:
                return n

            return read

        for n in range(3):
            assert await kind.get(db, n, value(n)) == n
        assert len(kind) == 3
        await kind.get(db, 3, value(3))  # full: emptied, then the new one kept
        assert len(kind) == 1

        async def read_while_it_changes() -> int:
            cache.heard(frozenset({configuration.TOPIC}))  # a change commits meanwhile
            return 4

        assert await kind.get(db, 4, read_while_it_changes) == 4
        assert len(kind) == 0  # what was read may be from before the change: not kept

    asyncio.run(scenario())


def test_every_service_that_writes_the_cached_tables_tells_the_cache() -> None:
    """A function that inserts, updates or deletes shops, keys or accounts also calls
    `configuration.changed` (other processes learn from the triggers whatever it does; this
    process learns at once only from the call)."""
    cached = {"shops", "api_keys", "provider_accounts"}
    root = Path(kassa.__file__).parent / "services"
    writers: list[str] = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
            writes = any(
                isinstance(call.func, ast.Name)
                and call.func.id in {"insert", "update", "delete"}
                and call.args
                and isinstance(call.args[0], ast.Name)
                and call.args[0].id in cached
                for call in calls
            )
            if not writes:
                continue
            writers.append(node.name)
            assert any(
                isinstance(call.func, ast.Attribute)
                and call.func.attr == "changed"
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id == "configuration"
                for call in calls
            ), f"{path.name}: {node.name} writes a cached table without configuration.changed"
    assert {"create_shop", "set_timezone", "_store_account", "create_key", "revoke_key"} <= set(
        writers
    )
