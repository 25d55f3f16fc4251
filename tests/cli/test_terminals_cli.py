"""`kassa terminals`: adding terminals, tokens shown once, who is online, enabling them."""

from __future__ import annotations

import asyncio
import re
import secrets

import httpx
import pytest
from typer.testing import CliRunner, Result
from websockets.exceptions import InvalidStatus

from kassa.services.admin import audit
from tests.cli.conftest import invoke
from tests.helpers import create_payment
from tests.live import LiveServer
from tests.terminals.kiosk import ScriptedAgent

JWT = re.compile(r"[\w-]+\.[\w-]+\.[\w-]+")


@pytest.fixture
def shop(kassa: CliRunner) -> str:
    name = f"cli-{secrets.token_hex(4)}"
    assert invoke(kassa, "shops", "create", name).exit_code == 0
    return name


@pytest.fixture
def kiosk_id() -> str:
    """A terminal id no other test uses, so commands find it without --shop."""
    return f"KIOSK_{secrets.token_hex(4)}"


def token_of(result: Result) -> str:
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert JWT.fullmatch(token), result.stdout
    return token


def test_add_prints_the_token_once_and_how_to_use_it(
    kassa: CliRunner, server: LiveServer, shop: str, kiosk_id: str
) -> None:
    added = invoke(kassa, "terminals", "add", shop, kiosk_id, "--name", "Hall", "--location", "1F")
    token_of(added)
    assert "Shown once" in added.stderr
    assert f"KASSA_HUB_URL={server.url}" in added.stderr
    assert "KASSA_TERMINAL_TOKEN" in added.stderr
    listed = invoke(kassa, "terminals", "list", "--shop", shop)
    assert listed.exit_code == 0
    assert kiosk_id in listed.stdout
    assert "Hall" in listed.stdout
    assert "offline" in listed.stdout
    assert JWT.search(listed.stdout) is None
    entries, _ = server.call(audit.list_entries(server.ctx, object_id=kiosk_id))
    assert [(e.action, e.actor.name) for e in entries] == [("terminal.add", "cli")]


def test_add_refuses_a_taken_id_a_bad_id_and_an_unknown_shop(
    kassa: CliRunner, shop: str, kiosk_id: str
) -> None:
    token_of(invoke(kassa, "terminals", "add", shop, kiosk_id))
    again = invoke(kassa, "terminals", "add", shop, kiosk_id)
    assert again.exit_code == 1
    assert "already has a terminal" in again.stderr
    bad = invoke(kassa, "terminals", "add", shop, "no spaces")
    assert bad.exit_code == 1
    assert "terminal id" in bad.stderr
    nowhere = invoke(kassa, "terminals", "add", "no-such-shop", kiosk_id)
    assert nowhere.exit_code == 1


def test_list_and_show_tell_who_is_online(
    kassa: CliRunner, server: LiveServer, shop: str, kiosk_id: str
) -> None:
    token = token_of(invoke(kassa, "terminals", "add", shop, kiosk_id))

    async def while_connected() -> tuple[Result, Result]:
        agent = await ScriptedAgent.connect(server, token, agent="kassa-agent", version="1.2.3")
        await agent.send(
            "heartbeat",
            {
                "stats": {"requests": 3, "failures": 1},
                "health": {"fiscal": {"ok": True, "latency_ms": 12}},
                "in_flight": 0,
            },
        )
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.call, server.app.state.terminals.flush())
        listed = await asyncio.to_thread(invoke, kassa, "terminals", "list", "--shop", shop)
        shown = await asyncio.to_thread(invoke, kassa, "terminals", "show", kiosk_id)
        await agent.close()
        return listed, shown

    listed, shown = asyncio.run(while_connected())
    assert "online" in listed.stdout
    assert "kassa 1.2.3" in listed.stdout
    assert shown.exit_code == 0
    assert shop in shown.stdout
    assert "fiscal" in shown.stdout
    assert "ok, 12 ms" in shown.stdout
    assert "requests" in shown.stdout
    assert "Recent operations" in shown.stdout


def test_revoke_and_token(kassa: CliRunner, server: LiveServer, shop: str, kiosk_id: str) -> None:
    first = token_of(invoke(kassa, "terminals", "add", shop, kiosk_id))
    revoked = invoke(kassa, "terminals", "revoke", kiosk_id, "--shop", shop)
    second = token_of(revoked)
    assert "Revoked" in revoked.stderr
    third = token_of(invoke(kassa, "terminals", "token", kiosk_id))
    assert first != second

    async def connect() -> None:
        with pytest.raises(InvalidStatus):
            await ScriptedAgent.connect(server, first)
        for token in (second, third):
            await (await ScriptedAgent.connect(server, token)).close()

    asyncio.run(connect())
    entries, _ = server.call(audit.list_entries(server.ctx, object_id=kiosk_id))
    assert [e.action for e in entries] == ["terminal.token", "terminal.revoke", "terminal.add"]


def test_disable_and_enable(kassa: CliRunner, server: LiveServer, shop: str, kiosk_id: str) -> None:
    token = token_of(invoke(kassa, "terminals", "add", shop, kiosk_id))
    disabled = invoke(kassa, "terminals", "disable", kiosk_id)
    assert (disabled.exit_code, disabled.stdout.strip()) == (0, f"Disabled terminal {kiosk_id}")

    async def refused() -> None:
        with pytest.raises(InvalidStatus):
            await ScriptedAgent.connect(server, token)

    asyncio.run(refused())
    enabled = invoke(kassa, "terminals", "enable", kiosk_id, "--shop", shop)
    assert (enabled.exit_code, enabled.stdout.strip()) == (0, f"Enabled terminal {kiosk_id}")


def test_unknown_and_ambiguous_terminals(kassa: CliRunner, shop: str, kiosk_id: str) -> None:
    for command in ("show", "revoke", "token", "enable", "disable"):
        missing = invoke(kassa, "terminals", command, kiosk_id)
        assert missing.exit_code == 1, command
        assert "No terminal" in missing.stderr
    other = f"cli-{secrets.token_hex(4)}"
    invoke(kassa, "shops", "create", other)
    token_of(invoke(kassa, "terminals", "add", shop, kiosk_id))
    token_of(invoke(kassa, "terminals", "add", other, kiosk_id))
    ambiguous = invoke(kassa, "terminals", "show", kiosk_id)
    assert ambiguous.exit_code == 1
    assert "name the shop" in ambiguous.stderr
    assert invoke(kassa, "terminals", "show", kiosk_id, "--shop", other).exit_code == 0


def test_a_terminal_takes_only_the_payments_that_name_it(
    kassa: CliRunner, server: LiveServer, shop: str, kiosk_id: str
) -> None:
    """Adding a terminal leaves payments that name no provider with the shop's sandbox."""
    assert invoke(kassa, "providers", "configure", shop, "sandbox").exit_code == 0
    token_of(invoke(kassa, "terminals", "add", shop, kiosk_id))
    key = invoke(kassa, "keys", "create", shop).stdout.strip()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as api:
        plain = create_payment(api)
        at_kiosk = create_payment(api, terminal=kiosk_id)
        named = create_payment(api, provider="terminal", terminal=kiosk_id)
    assert plain["provider"] == "sandbox"
    assert (at_kiosk["provider"], at_kiosk["confirmation"]["terminal"]) == ("terminal", kiosk_id)
    assert named["provider"] == "terminal"
