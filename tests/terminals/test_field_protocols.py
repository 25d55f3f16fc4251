"""The kiosk agents already in the field, on Kassa: ws_client 1.0.x on `/ws`, the first gateway
proxy on `/ws/{KIOSK_ID}`, and the kiosk backends' `POST /send`.

The agents here are written from the documented wire formats
(../shared/reference/kiosk-protocols.md), not from Kassa's code: plain WebSocket clients that
send and expect exactly what the field's agents do.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from kassa.domain.terminals import OperationState
from kassa.services.devices import operations as terminal_operations
from kassa.services.devices import terminals
from kassa.web.terminals import field_links
from tests.live import LiveServer
from tests.terminals.kiosk import KioskShop, make_kiosk_shop, ws_url
from tests.terminals.test_kassa_protocol import APPROVED

JsonObject = dict[str, Any]


@pytest.fixture
def kiosk(server: LiveServer) -> KioskShop:
    # Unique ids: `POST /send` without an API key finds a kiosk by id across all shops.
    return make_kiosk_shop(server, terminal_id=f"KIOSK_{secrets.token_hex(4)}")


@pytest.fixture(scope="module")
def impatient(database_url: str) -> Iterator[LiveServer]:
    """A server that waits 1 s for a kiosk's answer and lets `/send` in without a key."""
    live = LiveServer(
        database_url, terminal_operation_timeout=1.0, legacy_send_unauthenticated=True
    ).start()
    try:
        yield live
    finally:
        live.stop()


# The field's agents


async def ws_client(server: LiveServer, kiosk: KioskShop) -> ClientConnection:
    """Connects as ws_client 1.0.2 does: `WS_SERVER_URL?token=WS_TOKEN`."""
    return await connect(ws_url(server, f"/ws?token={kiosk.token}"))


async def first_proxy(server: LiveServer, kiosk: KioskShop) -> ClientConnection:
    """Connects as the first proxy (`/ws/KIOSK_ID`, the token as a bearer header) and reads
    its `connection_status`."""
    ws = await connect(
        ws_url(server, f"/ws/{kiosk.terminal_id}"),
        additional_headers={"Authorization": f"Bearer {kiosk.token}"},
    )
    status = await receive(ws)
    assert status["type"] == "connection_status"
    assert status["data"]["status"] == "connected"
    assert status["data"]["kiosk_id"] == kiosk.terminal_id
    assert status["data"]["timestamp"].endswith("Z")
    return ws


async def receive(ws: ClientConnection, *, skip: str = "", within: float = 10) -> JsonObject:
    """The next JSON message, skipping those of type `skip`."""
    while True:
        message: JsonObject = json.loads(await asyncio.wait_for(ws.recv(), within))
        if not skip or message.get("type") != skip:
            return message


async def send(ws: ClientConnection, message: JsonObject) -> None:
    await ws.send(json.dumps(message))


# The merchant's and the kiosk backend's side


def create_payment(server: LiveServer, kiosk: KioskShop) -> JsonObject:
    with kiosk.api(server) as api:
        response = api.post(
            "/v1/payments",
            json={
                "amount": 15000,
                "currency": "RUB",
                "provider": "terminal",
                "terminal": kiosk.terminal_id,
            },
        )
    assert response.status_code == 201, response.text
    payment: JsonObject = response.json()
    return payment


def settled_payment(server: LiveServer, kiosk: KioskShop, payment_id: str) -> JsonObject:
    """The payment once it is no longer pending (or as it is after 5 s)."""
    with kiosk.api(server) as api:
        for _ in range(50):
            payment: JsonObject = api.get(f"/v1/payments/{payment_id}").json()
            if payment["status"] != "pending":
                break
            time.sleep(0.1)
    return payment


def post_send(
    server: LiveServer,
    kiosk: KioskShop,
    body: object,
    *,
    key: str | None = "",
    **headers: str,
) -> httpx.Response:
    """`POST /send` as the kiosk backend makes it (`key=None`: without an API key)."""
    sent = {"Header-Kiosk-Id": kiosk.terminal_id, "Header-Operation-Type": "payment", **headers}
    sent = {name: value for name, value in sent.items() if value}
    if key is not None:
        sent["Authorization"] = f"Bearer {key or kiosk.key}"
    return httpx.post(f"{server.url}/send", content=json.dumps(body), headers=sent, timeout=30)


def order(kiosk: KioskShop) -> JsonObject:
    return {"kiosk_id": kiosk.terminal_id, "order_id": 1042, "sum": 15000}


# ws_client 1.0.x on /ws


@pytest.mark.parametrize(("status", "outcome"), [("SUCCESS", "succeeded"), ("DECLINED", "failed")])
def test_ws_client_takes_a_terminal_payment(
    server: LiveServer, kiosk: KioskShop, status: str, outcome: str
) -> None:
    async def scenario() -> JsonObject:
        ws = await ws_client(server, kiosk)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        request = await receive(ws)
        assert request["headers"] == {
            "header-kiosk-id": kiosk.terminal_id,
            "header-operation-type": "payment",
            "header-http-method": "POST",
        }
        assert request["body"] == {
            "kiosk_id": kiosk.terminal_id,
            "order_id": payment["id"],
            "sum": 15000,
        }
        # A reply to nothing Kassa sent is dropped.
        await send(ws, {**APPROVED, "request_id": "no-such-request"})
        await send(ws, {**APPROVED, "status": status, "request_id": request["request_id"]})
        settled = await asyncio.to_thread(settled_payment, server, kiosk, payment["id"])
        await ws.close()
        return settled

    settled = asyncio.run(scenario())
    assert settled["status"] == outcome
    assert settled["confirmation"]["result"]["rrn"] == APPROVED["rrn"]


def test_a_ws_client_error_reply_that_never_reached_the_gateway_fails_the_payment(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> JsonObject:
        ws = await ws_client(server, kiosk)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        request = await receive(ws)
        refused = {"status": "error", "error": "connection_refused", "message": "refused"}
        await send(ws, {**refused, "request_id": request["request_id"]})
        settled = await asyncio.to_thread(settled_payment, server, kiosk, payment["id"])
        await ws.close()
        return settled

    settled = asyncio.run(scenario())
    assert settled["status"] == "failed"
    assert settled["failure"]["code"] == "connection_refused"


def test_a_payment_sent_to_a_ws_client_that_drops_is_unknown_and_never_sent_again(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> tuple[JsonObject, str]:
        ws = await ws_client(server, kiosk)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        request = await receive(ws)
        await ws.close()
        ws = await ws_client(server, kiosk)
        with pytest.raises(TimeoutError):
            await receive(ws, within=1)
        await ws.close()
        return payment, str(request["request_id"])

    payment, request_id = asyncio.run(scenario())
    with kiosk.api(server) as api:
        assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"
    operation = server.call(terminal_operations.find_operation(server.ctx, request_id))
    assert operation is not None
    assert operation.payment_id == payment["id"]
    assert operation.state is OperationState.UNKNOWN
    assert operation.error is not None
    assert operation.error.code == "connection_lost"


# The first proxy on /ws/{KIOSK_ID}


@pytest.mark.parametrize(("status", "outcome"), [("SUCCESS", "succeeded"), ("DECLINED", "failed")])
def test_the_first_proxy_takes_a_terminal_payment(
    server: LiveServer, kiosk: KioskShop, status: str, outcome: str
) -> None:
    async def scenario() -> JsonObject:
        ws = await first_proxy(server, kiosk)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        request = await receive(ws, skip="ping")
        assert request["type"] == "payment_request"
        data = request["data"]
        assert data == {
            "request_id": data["request_id"],
            "kiosk_id": kiosk.terminal_id,
            "order_id": payment["id"],
            "sum": 15000,
        }
        # The gateway's answer without a status: the proxy's own (data.status) settles it.
        answer = {key: value for key, value in APPROVED.items() if key != "status"}
        response = {
            "request_id": data["request_id"],
            "status": status,
            "sum": 15000,
            "currency": "RUB",
            "payment_method": "card",
            "timestamp": "2026-11-30T10:10:10Z",
            "payment_data": answer,
        }
        await send(ws, {"type": "pong"})
        await send(ws, {"type": "payment_response", "data": response})
        settled = await asyncio.to_thread(settled_payment, server, kiosk, payment["id"])
        await ws.close()
        return settled

    settled = asyncio.run(scenario())
    assert settled["status"] == outcome
    assert settled["confirmation"]["result"]["session_id"] == APPROVED["session_id"]


def test_the_first_proxy_is_pinged(
    server: LiveServer, kiosk: KioskShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(field_links, "PING_INTERVAL", 0.2)

    async def scenario() -> JsonObject:
        ws = await first_proxy(server, kiosk)
        ping = await receive(ws, within=5)
        await ws.close()
        return ping

    ping = asyncio.run(scenario())
    assert ping["type"] == "ping"
    assert ping["timestamp"].endswith("Z")


# Refused connections


@pytest.mark.parametrize(
    "path",
    [
        "/ws?token=not-a-jwt",
        "/ws",
        "/ws/{kiosk}?token=not-a-jwt",
        "/ws/OTHER_KIOSK?token={token}",
    ],
)
def test_a_connection_with_a_bad_token_is_refused_at_the_handshake(
    server: LiveServer, kiosk: KioskShop, path: str
) -> None:
    url = ws_url(server, path.format(kiosk=kiosk.terminal_id, token=kiosk.token))

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(url)
        assert refused.value.response.status_code == 403

    asyncio.run(scenario())


# POST /send


def test_send_relays_a_payment_and_answers_with_the_kiosks_reply(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> tuple[JsonObject, httpx.Response]:
        ws = await ws_client(server, kiosk)
        answer = asyncio.create_task(
            asyncio.to_thread(post_send, server, kiosk, order(kiosk), **{"Header-Method": "POST"})
        )
        request = await receive(ws)
        await send(ws, {**APPROVED, "request_id": request["request_id"]})
        response = await answer
        await ws.close()
        return request, response

    request, response = asyncio.run(scenario())
    assert request["headers"]["header-operation-type"] == "payment"
    assert request["body"] == order(kiosk)
    assert response.status_code == 200
    assert response.json() == {**APPROVED, "request_id": request["request_id"]}


def test_send_relays_a_fiscal_receipt(server: LiveServer, kiosk: KioskShop) -> None:
    receipt = {"order_id": "1042", "kiosk_id": kiosk.terminal_id, "items": [], "total_gross": 0}
    issued = {"status": "NOT_OK", "error_code": "FN_FULL", "error_message": "Fiscal memory full"}

    async def scenario() -> tuple[JsonObject, httpx.Response]:
        ws = await ws_client(server, kiosk)
        answer = asyncio.create_task(
            asyncio.to_thread(
                post_send,
                server,
                kiosk,
                receipt,
                **{"Header-Operation-Type": "fiscal", "Header-Http-Method": "put"},
            )
        )
        request = await receive(ws)
        await send(ws, {**issued, "request_id": request["request_id"]})
        response = await answer
        await ws.close()
        return request, response

    request, response = asyncio.run(scenario())
    assert request["headers"]["header-operation-type"] == "fiscal"
    assert request["headers"]["header-http-method"] == "PUT"
    assert request["body"] == receipt
    assert response.json() == {**issued, "request_id": request["request_id"]}


def test_send_answers_an_agents_error_in_the_old_servers_shape(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> tuple[JsonObject, httpx.Response]:
        ws = await ws_client(server, kiosk)
        answer = asyncio.create_task(asyncio.to_thread(post_send, server, kiosk, order(kiosk)))
        request = await receive(ws)
        error = {"status": "error", "error": "route_not_found", "message": "No route for kds"}
        await send(ws, {**error, "request_id": request["request_id"]})
        response = await answer
        await ws.close()
        return request, response

    request, response = asyncio.run(scenario())
    assert response.status_code == 200
    assert response.json() == {
        "status": "error",
        "error": "route_not_found",
        "message": "No route for kds",
        "kiosk_id": kiosk.terminal_id,
        "request_id": request["request_id"],
    }


def test_send_for_an_unknown_offline_or_disabled_kiosk(
    server: LiveServer, kiosk: KioskShop
) -> None:
    offline = post_send(server, kiosk, order(kiosk))
    assert offline.status_code == 200
    assert offline.json() == {
        "status": "error",
        "error": "kiosk_offline",
        "kiosk_id": kiosk.terminal_id,
    }
    unknown = post_send(server, kiosk, order(kiosk), **{"Header-Kiosk-Id": "KIOSK_NOPE"})
    assert unknown.json() == {
        "status": "error",
        "error": "kiosk_not_found",
        "kiosk_id": "KIOSK_NOPE",
    }

    async def disable() -> None:
        terminal = await terminals.get_terminal(
            server.ctx, shop_id=kiosk.shop.id, terminal_id=kiosk.terminal_id
        )
        await terminals.set_enabled(server.ctx, terminal=terminal, enabled=False)

    server.call(disable())
    disabled = post_send(server, kiosk, order(kiosk))
    assert disabled.json() == {
        "status": "error",
        "error": "kiosk_disabled",
        "kiosk_id": kiosk.terminal_id,
    }


def test_send_refuses_a_request_without_a_kiosk_id_a_key_or_a_json_object(
    server: LiveServer, kiosk: KioskShop
) -> None:
    missing = post_send(server, kiosk, order(kiosk), **{"Header-Kiosk-Id": ""})
    assert missing.status_code == 400
    assert missing.json()["error"] == "missing_header"
    anonymous = post_send(server, kiosk, order(kiosk), key=None)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "authentication_required"
    wrong_key = post_send(server, kiosk, order(kiosk), key="sk_test_wrong")
    assert wrong_key.status_code == 401
    not_an_object = post_send(server, kiosk, [1, 2])
    assert not_an_object.status_code == 400
    assert not_an_object.json()["error"] == "invalid_json"


def test_send_without_a_key_in_legacy_mode_and_its_timeout(impatient: LiveServer) -> None:
    kiosk = make_kiosk_shop(impatient, terminal_id=f"KIOSK_{secrets.token_hex(4)}")

    async def scenario() -> tuple[JsonObject, httpx.Response]:
        ws = await ws_client(impatient, kiosk)
        answer = asyncio.create_task(
            asyncio.to_thread(post_send, impatient, kiosk, order(kiosk), key=None)
        )
        request = await receive(ws)
        response = await answer  # the kiosk never answers
        await ws.close()
        return request, response

    request, response = asyncio.run(scenario())
    assert request["body"] == order(kiosk)
    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["error"] == "timeout"
    assert response.json()["kiosk_id"] == kiosk.terminal_id
    assert response.json()["request_id"] == request["request_id"]


def test_send_relays_two_requests_to_one_kiosk_at_once(
    server: LiveServer, kiosk: KioskShop
) -> None:
    """An operation in flight on a field agent's connection stays answerable when the hub
    sends it another one (it is not mistaken for one lost with an earlier connection)."""

    async def scenario() -> list[httpx.Response]:
        ws = await ws_client(server, kiosk)
        answers = [
            asyncio.create_task(asyncio.to_thread(post_send, server, kiosk, order(kiosk)))
            for _ in range(2)
        ]
        requests = [await receive(ws), await receive(ws)]
        for request in requests:
            await send(ws, {**APPROVED, "request_id": request["request_id"]})
        responses = [await answer for answer in answers]
        await ws.close()
        return responses

    for response in asyncio.run(scenario()):
        assert response.json()["status"] == "SUCCESS"
