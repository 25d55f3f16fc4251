"""`/v1/terminals`: adding terminals, their tokens, enabling them, and relaying operations to a
connected (scripted) agent."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kassa.store.tables import terminals as terminals_table
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer
from tests.terminals.kiosk import KioskShop, ScriptedAgent, make_kiosk_shop


@pytest.fixture
def kiosk(server: LiveServer) -> KioskShop:
    return make_kiosk_shop(server)


def relay(server: LiveServer, kiosk: KioskShop, **operation: Any) -> httpx.Response:
    with kiosk.api(server) as api:
        return api.post(f"/v1/terminals/{kiosk.terminal_id}/operations", json=operation)


def error_of(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_add_get_and_list(api: httpx.Client) -> None:
    added = api.post(
        "/v1/terminals", json={"id": "KIOSK_7", "name": "Hall", "location": "By the door"}
    )
    assert added.status_code == 201, added.text
    terminal = added.json()
    assert terminal["token"].count(".") == 2  # a JWT
    assert terminal | {"token": "", "created_at": ""} == {
        "id": "KIOSK_7",
        "object": "terminal",
        "name": "Hall",
        "location": "By the door",
        "enabled": True,
        "online": False,
        "agent": {"kind": None, "version": None},
        "connected_at": None,
        "last_seen_at": None,
        "health": {},
        "stats": {},
        "created_at": "",
        "token": "",
    }
    assert terminal["created_at"].endswith("Z")
    got = api.get("/v1/terminals/KIOSK_7").json()
    assert "token" not in got
    assert got == {k: v for k, v in terminal.items() if k != "token"}
    listed = api.get("/v1/terminals").json()
    assert listed == {"object": "list", "data": [got], "has_more": False}


def test_add_refuses_a_second_terminal_with_the_id_and_bad_ids(api: httpx.Client) -> None:
    assert api.post("/v1/terminals", json={"id": "K1"}).status_code == 201
    again = api.post("/v1/terminals", json={"id": "K1"})
    assert (again.status_code, error_of(again)) == (409, "terminal_exists")
    for bad in ("has space", "", "x" * 65, "ü"):
        refused = api.post("/v1/terminals", json={"id": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["param"] == "id"
    unknown = api.post("/v1/terminals", json={"id": "K2", "colour": "red"})
    assert (unknown.status_code, error_of(unknown)) == (422, "parameter_unknown")


def test_add_with_an_idempotency_key_replays_the_first_answer(api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "add-k3"}
    first = api.post("/v1/terminals", json={"id": "K3"}, headers=headers)
    second = api.post("/v1/terminals", json={"id": "K3"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()


def test_terminals_are_the_shops_own(server: LiveServer, api: httpx.Client) -> None:
    api.post("/v1/terminals", json={"id": "MINE"})
    other = make_shop(server)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {other.key}"}
    ) as client:
        missing = client.get("/v1/terminals/MINE")
        assert (missing.status_code, error_of(missing)) == (404, "resource_missing")
        assert client.get("/v1/terminals").json()["data"] == []
        assert client.post("/v1/terminals/MINE/revoke").status_code == 404
        assert client.get("/v1/terminals/MINE/operations").status_code == 404


def test_unknown_terminal(api: httpx.Client) -> None:
    for method, path in (
        ("GET", "/v1/terminals/NOPE"),
        ("POST", "/v1/terminals/NOPE/revoke"),
        ("POST", "/v1/terminals/NOPE/token"),
        ("POST", "/v1/terminals/NOPE/enable"),
        ("POST", "/v1/terminals/NOPE/disable"),
        ("GET", "/v1/terminals/NOPE/operations"),
        ("GET", "/v1/terminals/NOPE/operations/op"),
    ):
        response = api.request(method, path)
        assert (response.status_code, error_of(response)) == (404, "resource_missing"), path
    relayed = api.post("/v1/terminals/NOPE/operations", json={"kind": "print"})
    assert relayed.status_code == 404


def test_the_api_needs_a_key(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/v1/terminals").status_code == 401


def test_revoke_cuts_old_tokens_off_and_token_issues_more(
    server: LiveServer, kiosk: KioskShop
) -> None:
    with kiosk.api(server) as api:
        revoked = api.post(f"/v1/terminals/{kiosk.terminal_id}/revoke")
        assert revoked.status_code == 200, revoked.text
        new_token = revoked.json()["token"]
        another = api.post(f"/v1/terminals/{kiosk.terminal_id}/token")
        assert another.status_code == 200
        assert another.json()["id"] == kiosk.terminal_id

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await ScriptedAgent.connect(server, kiosk.token)
        assert refused.value.response.status_code == 401
        for token in (new_token, another.json()["token"]):
            agent = await ScriptedAgent.connect(server, token)
            await agent.close()

    asyncio.run(scenario())


def test_disable_and_enable(server: LiveServer, kiosk: KioskShop) -> None:
    with kiosk.api(server) as api:
        disabled = api.post(f"/v1/terminals/{kiosk.terminal_id}/disable")
        assert (disabled.status_code, disabled.json()["enabled"]) == (200, False)
    refused = relay(server, kiosk, kind="print")
    assert (refused.status_code, error_of(refused)) == (409, "terminal_disabled")

    async def refused_connection() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await ScriptedAgent.connect(server, kiosk.token)
        assert refused.value.response.status_code == 403

    asyncio.run(refused_connection())
    with kiosk.api(server) as api:
        enabled = api.post(f"/v1/terminals/{kiosk.terminal_id}/enable")
        assert (enabled.status_code, enabled.json()["enabled"]) == (200, True)


def test_an_operation_is_relayed_and_answered(server: LiveServer, kiosk: KioskShop) -> None:
    async def scenario() -> httpx.Response:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        call = asyncio.create_task(
            asyncio.to_thread(
                relay, server, kiosk, kind="fiscal", body={"total": 150}, method="PUT", timeout=10
            )
        )
        operation = await agent.receive("operation")
        assert (operation["kind"], operation["body"]) == ("fiscal", {"total": 150})
        await agent.send("ack", {"request_id": operation["request_id"]})
        await agent.send(
            "result",
            {"request_id": operation["request_id"], "ok": True, "body": {"receipt": "R-1"}},
        )
        answer = await call
        await agent.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["object"] == "terminal_operation"
    assert (done["state"], done["result"], done["error"]) == ("done", {"receipt": "R-1"}, None)
    assert done["terminal"] == kiosk.terminal_id
    with kiosk.api(server) as api:
        listed = api.get(f"/v1/terminals/{kiosk.terminal_id}/operations").json()
        assert [o["id"] for o in listed["data"]] == [done["id"]]
        got = api.get(f"/v1/terminals/{kiosk.terminal_id}/operations/{done['id']}")
        assert got.json() == done
        missing = api.get(f"/v1/terminals/{kiosk.terminal_id}/operations/nope")
        assert missing.status_code == 404
        terminal = api.get(f"/v1/terminals/{kiosk.terminal_id}").json()
        assert terminal["agent"] == {"kind": "kassa", "version": "0"}


def test_an_operation_of_another_terminal_is_not_found_under_this_one(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> str:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        call = asyncio.create_task(asyncio.to_thread(relay, server, kiosk, kind="print"))
        operation = await agent.receive("operation")
        await agent.send("result", {"request_id": operation["request_id"], "ok": True})
        await call
        await agent.close()
        request_id: str = operation["request_id"]
        return request_id

    request_id = asyncio.run(scenario())
    with kiosk.api(server) as api:
        assert api.post("/v1/terminals", json={"id": "OTHER"}).status_code == 201
        response = api.get(f"/v1/terminals/OTHER/operations/{request_id}")
        assert response.status_code == 404


def test_a_failure_of_the_local_service_is_a_502_with_the_agents_code(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> httpx.Response:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        call = asyncio.create_task(asyncio.to_thread(relay, server, kiosk, kind="kds"))
        operation = await agent.receive("operation")
        error = {"code": "route_not_found", "message": "No route 'kds'", "unknown": False}
        await agent.send(
            "result", {"request_id": operation["request_id"], "ok": False, "error": error}
        )
        answer = await call
        await agent.close()
        return answer

    answer = asyncio.run(scenario())
    assert (answer.status_code, error_of(answer)) == (502, "route_not_found")
    assert "No route 'kds'" in answer.json()["error"]["message"]
    with kiosk.api(server) as api:
        (operation,) = api.get(f"/v1/terminals/{kiosk.terminal_id}/operations").json()["data"]
    assert operation["state"] == "done"
    assert operation["error"]["code"] == "route_not_found"


def test_an_offline_terminal_is_a_409(server: LiveServer, kiosk: KioskShop) -> None:
    response = relay(server, kiosk, kind="print")
    assert (response.status_code, error_of(response)) == (409, "terminal_offline")


def test_no_answer_in_time_is_a_504(server: LiveServer, kiosk: KioskShop) -> None:
    async def scenario() -> httpx.Response:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        call = asyncio.create_task(asyncio.to_thread(relay, server, kiosk, kind="print", timeout=1))
        operation = await agent.receive("operation")
        await agent.send("ack", {"request_id": operation["request_id"]})
        answer = await call
        await agent.close()
        return answer

    answer = asyncio.run(scenario())
    assert (answer.status_code, error_of(answer)) == (504, "timeout")


@pytest.mark.parametrize(
    "operation",
    [
        {"kind": "print", "timeout": 0},
        {"kind": "print", "timeout": 601},
        {"kind": "print", "method": "HEAD"},
        {"body": {}},
    ],
)
def test_bad_operations_are_refused(
    server: LiveServer, kiosk: KioskShop, operation: dict[str, Any]
) -> None:
    assert relay(server, kiosk, **operation).status_code == 422


def test_a_body_that_is_not_an_object_is_refused(server: LiveServer, kiosk: KioskShop) -> None:
    # The field is called `body`: it is named as the parameter at fault, not taken for the
    # request body itself.
    answer = relay(server, kiosk, kind="print", body=[])
    assert answer.status_code == 422
    assert (answer.json()["error"]["code"], answer.json()["error"]["param"]) == (
        "parameter_invalid",
        "body",
    )


def test_the_api_docs_describe_terminals(server: LiveServer, shop: ShopSetup) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert "/v1/terminals/{terminal_id}/operations" in schema["paths"]
    assert "TerminalWithToken" in schema["components"]["schemas"]


def test_a_terminal_disabled_while_its_agent_is_still_connected_here_takes_no_operation(
    server: LiveServer, kiosk: KioskShop
) -> None:
    """The hub does not read a terminal connected to it before relaying: the operation's
    insert checks that it is still enabled. Disabled behind the hub's back (no signal, no
    counter moved, so the connection stays), the relay is refused, nothing is stored or sent,
    and the connection is cut then."""

    async def disable_quietly() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(
                update(terminals_table)
                .where(terminals_table.c.id == kiosk.terminal_id)
                .values(enabled=False)
            )

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        await asyncio.to_thread(server.call, disable_quietly())
        refused = await asyncio.to_thread(relay, server, kiosk, kind="print")
        assert (refused.status_code, error_of(refused)) == (409, "terminal_disabled")
        with pytest.raises(ConnectionClosed) as closed:
            await agent.receive("operation", timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403

    asyncio.run(scenario())
    with kiosk.api(server) as api:
        listed = api.get(f"/v1/terminals/{kiosk.terminal_id}/operations")
    assert listed.json()["data"] == []
