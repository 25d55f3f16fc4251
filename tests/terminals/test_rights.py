"""A terminal whose right to connect is gone (revoked, disabled) is cut off within a second,
whichever process made the change, and is handed no work even before it is cut."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.exceptions import ConnectionClosed

from kassa.domain import TerminalUnavailable
from kassa.domain.terminals import AgentKind
from kassa.services.devices import queue as terminal_queue
from kassa.store.tables import terminals as terminals_table
from tests.live import LiveServer
from tests.terminals.kiosk import KioskShop, ScriptedAgent, create_payment, make_kiosk_shop

#: The goal is a second; the bound leaves room for a loaded test machine.
CUT_WITHIN = 2.0


@pytest.fixture
def kiosk(server: LiveServer) -> KioskShop:
    return make_kiosk_shop(server)


async def kassa_cli(database_url: str, *args: str) -> None:
    """`python -m kassa …` as a process of its own, on the server's database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kassa",
        *args,
        env={**os.environ, "KASSA_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


async def messages_until_closed(agent: ScriptedAgent, within: float) -> tuple[list[str], int]:
    """The types of the messages the agent got until the hub closed its connection, and the
    close code; fails if the connection is still open after `within` seconds."""
    got: list[str] = []
    async with asyncio.timeout(within):
        while isinstance(message := await next_message(agent), str):
            got.append(message)
    assert message.rcvd is not None
    return got, message.rcvd.code


async def next_message(agent: ScriptedAgent) -> str | ConnectionClosed:
    """The type of the agent's next message, or how its connection was closed."""
    try:
        kind: str = json.loads(await agent.ws.recv())["type"]
    except ConnectionClosed as closed:
        return closed
    return kind


def operations(server: LiveServer, kiosk: KioskShop) -> list[dict[str, Any]]:
    with kiosk.api(server) as api:
        listed: list[dict[str, Any]] = api.get(
            f"/v1/terminals/{kiosk.terminal_id}/operations"
        ).json()["data"]
    return listed


@pytest.mark.parametrize(("command", "code"), [("revoke", 4401), ("disable", 4403)])
def test_a_change_made_by_the_cli_cuts_the_connection_within_a_second(
    server: LiveServer, database_url: str, kiosk: KioskShop, command: str, code: int
) -> None:
    """`kassa terminals revoke|disable` in another process (on SQLite nothing but the
    database file links it to the hub); a payment made afterwards is never sent on the old
    connection."""

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        await kassa_cli(
            database_url, "terminals", command, kiosk.terminal_id, "--shop", kiosk.shop.name
        )
        changed_at = time.monotonic()
        got, closed = await messages_until_closed(agent, CUT_WITHIN)
        assert time.monotonic() - changed_at < CUT_WITHIN
        assert (got, closed) == ([], code)

    asyncio.run(scenario())
    if command == "revoke":
        payment = create_payment(server, kiosk)
        (queued,) = operations(server, kiosk)
        assert (queued["payment"], queued["state"]) == (payment["id"], "queued")
    else:
        with kiosk.api(server) as api:
            refused = api.post(
                "/v1/payments",
                json={"amount": 100, "currency": "RUB", "terminal": kiosk.terminal_id},
            )
        assert refused.json()["error"]["code"] == "terminal_disabled"
        assert operations(server, kiosk) == []


@pytest.mark.parametrize("work", ["payment", "relay"])
def test_no_work_goes_to_a_connection_whose_token_was_revoked_before_it_is_cut(
    server: LiveServer, kiosk: KioskShop, work: str
) -> None:
    """The token version changes behind the hub's back (no signal, no counter: the window
    before a cut): the hub checks the right as it hands the work over, sends nothing, and
    cuts the connection then."""

    async def revoke_quietly() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(
                update(terminals_table)
                .where(
                    terminals_table.c.shop_id == kiosk.shop.id,
                    terminals_table.c.id == kiosk.terminal_id,
                )
                .values(token_version=terminals_table.c.token_version + 1)
            )

    def hand_over() -> None:
        if work == "payment":
            create_payment(server, kiosk)
            return
        with kiosk.api(server) as api:
            refused = api.post(
                f"/v1/terminals/{kiosk.terminal_id}/operations",
                json={"kind": "print", "body": {"text": "x"}},
            )
        assert refused.status_code == 409, refused.text

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        await asyncio.to_thread(server.call, revoke_quietly())
        await asyncio.to_thread(hand_over)
        assert await messages_until_closed(agent, CUT_WITHIN) == ([], 4401)

    asyncio.run(scenario())
    expected = [("queued", kiosk.terminal_id)] if work == "payment" else []
    assert [(op["state"], op["terminal"]) for op in operations(server, kiosk)] == expected


def test_an_operation_sent_at_once_waits_for_a_revoke_being_written(
    server: LiveServer, kiosk: KioskShop, database_url: str
) -> None:
    """PostgreSQL: a revoke is being written (not yet committed) as an operation is queued to
    be sent at once on a connection of the old token. The queueing waits for the revoke and
    then refuses; read without a lock, the old row would let it through."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: a revoke cannot be half-written meanwhile")
    where = (
        terminals_table.c.shop_id == kiosk.shop.id,
        terminals_table.c.id == kiosk.terminal_id,
    )

    async def scenario() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as revoking:
                await revoking.begin()
                (version,) = (
                    await revoking.execute(
                        update(terminals_table)
                        .where(*where)
                        .values(token_version=terminals_table.c.token_version + 1)
                        .returning(terminals_table.c.token_version - 1)
                    )
                ).one()
                queued = asyncio.create_task(queue_at_once(version))
                await asyncio.sleep(0.3)  # let the queueing reach the terminal's row
                await revoking.commit()
            with pytest.raises(TerminalUnavailable):
                await queued
        finally:
            await engine.dispose()

    async def queue_at_once(version: int) -> None:
        async with server.ctx.db.write() as conn:
            await terminal_queue.enqueue(
                conn,
                shop_id=kiosk.shop.id,
                new=terminal_queue.NewOperation(
                    terminal_id=kiosk.terminal_id,
                    kind="print",
                    body={"text": "x"},
                    deadline=server.ctx.clock() + timedelta(minutes=1),
                    sent_via=AgentKind.KASSA,
                    token_version=version,
                ),
                now=server.ctx.clock(),
            )

    server.call(scenario())
    assert operations(server, kiosk) == []
