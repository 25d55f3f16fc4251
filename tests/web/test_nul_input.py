"""U+0000 (NUL) anywhere in a request: refused at the edge with `400 invalid_character`.

PostgreSQL's text cannot hold NUL, and a NUL that reached a query was a 500 on 22 routes;
in a payment's description it was also an orphan payment at the provider. The sweep takes
every route the app has (so a route added later is covered without a change here) and puts a
NUL in its path, its query and its body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from kassa.config import Settings
from kassa.domain import InvalidRequest
from kassa.providers.sandbox import SIGNATURE_HEADER, sign
from kassa.services.payments import lifecycle as payments
from kassa.services.payments.lifecycle import NewPayment
from kassa.services.shops.keys import Caller
from kassa.store.tables import sandbox_payments
from kassa.web import create_app
from kassa.web.middleware import body_has_nul
from tests.helpers import ShopSetup, create_payment, stored_notifications
from tests.live import LiveServer

#: Methods whose requests carry a body.
WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Endpoint:
    """One route of the app: its path template, its parameters and what it takes."""

    path: str
    params: tuple[str, ...]
    methods: tuple[str, ...]
    websocket: bool
    reads_body: bool

    def url(self, values: dict[str, str], nul: str = "") -> str:
        path = self.path
        for name in self.params:
            path = path.replace(f"{{{name}}}", values.get(name, "x") + nul)
        return path


def endpoints() -> Iterator[Endpoint]:
    """Every route of Kassa's app, flattened out of its included routers."""
    app = create_app(Settings(database_url="sqlite+aiosqlite://"))
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        websocket = "websocket" in type(original).__name__.lower()
        methods = () if websocket else tuple(sorted(route.methods or {"GET"}))
        reads_body = isinstance(original, APIRoute) and original.body_field is not None
        yield Endpoint(
            str(route.path_format),
            tuple(route.param_convertors),
            methods,
            websocket,
            reads_body,
        )


ENDPOINTS = list(endpoints())


def _id(endpoint: Endpoint) -> str:
    return f"{'WS' if endpoint.websocket else ','.join(endpoint.methods)} {endpoint.path}"


def refused(response: httpx.Response, param: str | None = None) -> bool:
    """Whether the answer is Kassa's refusal of a NUL (a HEAD answer has no body to read)."""
    if response.status_code != 400:
        return False
    if response.request.method == "HEAD":
        return True
    error = response.json()["error"]
    return bool(error["code"] == "invalid_character" and error.get("param") == param)


@pytest.fixture
def client(server: LiveServer, shop: ShopSetup) -> Iterator[httpx.Client]:
    # No kept-alive connections: a 500 closes the connection, and the next request on it
    # would fail with a reset instead of showing its own answer.
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {shop.key}"},
        limits=httpx.Limits(max_keepalive_connections=0),
        timeout=30,
    ) as client:
        yield client


def test_every_route_is_swept() -> None:
    paths = {endpoint.path for endpoint in ENDPOINTS}
    assert {"/v1/payments", "/hooks/{provider}/{shop}", "/pay/{payment_id}"} <= paths
    assert {"/sandbox/checkout/{sandbox_id}", "/ws/{kiosk_id}", "/admin/payments"} <= paths


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_nul_is_refused_on_every_route(
    endpoint: Endpoint, client: httpx.Client, server: LiveServer, shop: ShopSetup
) -> None:
    values = {"provider": "sandbox", "shop": shop.name, "name": shop.name}
    if endpoint.websocket:
        ws = server.url.replace("http", "ws", 1)
        urls = [ws + endpoint.url(values) + "?token=x%00"]
        if endpoint.params:
            urls.append(ws + endpoint.url(values, "%00"))
        for url in urls:
            with pytest.raises(InvalidStatus) as refusal:
                connect(url, open_timeout=10).close()
            assert refusal.value.response.status_code == 403
        return
    for method in endpoint.methods:
        if endpoint.params:
            answer = client.request(method, endpoint.url(values, "%00"))
            assert refused(answer), (method, "path", answer.status_code, answer.text)
        answer = client.request(method, endpoint.url(values), params={"q": "a\x00b"})
        assert refused(answer, "q"), (method, "query", answer.status_code, answer.text)
        if method not in WITH_BODY:
            continue
        bodies = {
            "json": client.request(
                method,
                endpoint.url(values),
                json={"description": "a\x00b", "metadata": {"k\x00": "v"}},
            ),
            "form": client.request(method, endpoint.url(values), data={"action": "pay\x00"}),
        }
        for kind, answer in bodies.items():
            assert answer.status_code < 500, (method, kind, answer.status_code, answer.text)
        if endpoint.reads_body:
            assert any(refused(answer) for answer in bodies.values()), (method, "body")


def test_a_signed_notification_with_nul_is_refused_and_not_stored(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api)
    document = {
        "id": "sbxevt_\x00",
        "type": "payment.succeeded",
        "object": {"id": payment["provider_payment_id"], "order_id": payment["id"] + "\x00"},
    }
    body = json.dumps(document).encode()
    answer = httpx.post(
        f"{server.url}/hooks/sandbox/{shop.name}",
        content=body,
        headers={"content-type": "application/json", SIGNATURE_HEADER: sign(shop.secret, body)},
    )
    assert refused(answer)
    form = httpx.post(f"{server.url}/hooks/cloudpayments/{shop.name}/pay", data={"a": "\x00"})
    assert refused(form)
    assert stored_notifications(server, shop.name) == []
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def sandbox_count(server: LiveServer, shop: ShopSetup) -> int:
    async def count() -> int:
        query = select(func.count()).where(sandbox_payments.c.shop_id == shop.shop.id)
        async with server.ctx.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    return server.call(count())


@pytest.mark.parametrize(
    "fields",
    [{"description": "Order\x0042"}, {"metadata": {"order\x00": "42"}}, {"customer": "\x00"}],
    ids=["description", "metadata key", "customer"],
)
def test_a_refused_create_leaves_nothing_at_the_provider(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, fields: dict[str, Any]
) -> None:
    answer = api.post("/v1/payments", json={"amount": 100, "currency": "RUB", **fields})
    assert refused(answer), answer.text
    assert sandbox_count(server, shop) == 0
    assert api.get("/v1/payments").json()["data"] == []


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"description": "a\x00"}, "description"),
        ({"customer": "c" * 256}, "customer"),
        ({"method": "m" * 33}, "method"),
        ({"return_url": "https://shop.example/" + "a" * 2048}, "return_url"),
        ({"metadata": {"k": "v\x00"}}, "metadata"),
        ({"metadata": {str(n): "v" for n in range(51)}}, "metadata"),
        ({"expires_in": 10}, "expires_in"),
        ({"currency": "XYZ"}, "currency"),
        ({"method": "cash"}, "method"),
    ],
)
def test_a_create_is_checked_whole_before_the_provider_is_called(
    server: LiveServer, shop: ShopSetup, fields: dict[str, Any], param: str
) -> None:
    """The service itself, without the API's validation in front of it: whatever it refuses,
    it refuses before the provider has a payment."""
    caller = Caller(shop=shop.shop, test=True, key_id="key_test")
    params = NewPayment(**{"amount": 100, "currency": "RUB", **fields})
    with pytest.raises(InvalidRequest) as refusal:
        server.call(payments.create_payment(server.ctx, caller=caller, params=params))
    assert refusal.value.param == param, repr(refusal.value)
    assert sandbox_count(server, shop) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "has_nul"),
    [
        (b'{"a": "\\u0000"}', b"application/json", True),
        (b'{"\\u0000": 1}', b"application/json", True),
        (b'{"a": "\\\\\\u0000"}', b"application/json", True),
        (b'{"a": "\\\\u0000"}', b"application/json", False),
        (b'{"a": "\\\\u0000 \\u0000"}', b"application/json", True),
        (b'{"a": "100%00"}', b"application/json", False),
        (b'{"a": "\x00"}', b"text/plain", True),
        (b"a=%00", b"application/x-www-form-urlencoded; charset=utf-8", True),
        (b"a=%2500&b=\\u0000", b"Application/X-WWW-Form-Urlencoded", False),
    ],
)
def test_what_counts_as_a_nul_in_a_body(body: bytes, content_type: bytes, has_nul: bool) -> None:
    assert body_has_nul(body, content_type) is has_nul


def test_a_refusal_is_an_error_a_program_can_read(client: httpx.Client) -> None:
    answer = client.get("/v1/payments", params={"customer": "a\x00"})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "code": "invalid_character",
            "message": "The request's query contains the NUL character (U+0000)",
            "param": "customer",
        }
    }
