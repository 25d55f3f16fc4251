"""Webhook endpoints cannot reach Kassa's own network (SSRF): a URL whose host is written as a
non-public address is refused when the endpoint is saved, in every spelling; a delivery is
refused on the address actually connected to (a name resolving to loopback), recorded as a
failed attempt and retried; redirects are never followed. With
`KASSA_WEBHOOKS_ALLOW_PRIVATE=true` (the other tests' server) loopback works.

`guarded` is a second Kassa on the session's database with the default setting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from kassa.services.context import Context
from kassa.services.pagination import PageRequest
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from tests.helpers import ShopSetup, create_payment, make_shop
from tests.live import LiveServer
from tests.webhooks.conftest import Hooks
from tests.webhooks.receiver import Receiver

#: Hosts written as non-public addresses, in the spellings a resolver accepts.
NON_PUBLIC_HOSTS = [
    "127.0.0.1",
    "2130706433",  # 127.0.0.1 as one decimal number
    "0x7f000001",
    "0x7f.1",
    "017700000001",  # octal
    "127.1",
    "0",
    "0.0.0.0",  # noqa: S104 - a host refused, not an address bound
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.169.254",  # cloud metadata
    "[fd00:ec2::254]",  # EC2's metadata over IPv6
    "[fe80::1]",
    "224.0.0.1",
    "localhost",
    "LocalHost.",
    "kassa.localhost",
]


@pytest.fixture(scope="module")
def guarded(database_url: str) -> Iterator[LiveServer]:
    """Kassa with the default: private destinations refused."""
    live = LiveServer(database_url, webhooks_allow_private=False).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def guarded_shop(guarded: LiveServer) -> Iterator[ShopSetup]:
    setup = make_shop(guarded)
    yield setup

    async def remove_endpoints() -> None:  # so no other test's dispatch sends to them
        scope = webhooks.Operator(setup.shop.id)
        found, _ = await webhooks.list_endpoints(
            guarded.ctx, scope=scope, page=PageRequest(kind="we", limit=100)
        )
        for endpoint in found:
            await webhooks.delete_endpoint(guarded.ctx, scope=scope, endpoint_id=endpoint.id)

    guarded.call(remove_endpoints())


@pytest.fixture
def guarded_api(guarded: LiveServer, guarded_shop: ShopSetup) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {guarded_shop.key}"}
    with httpx.Client(base_url=guarded.url, headers=headers, timeout=30) as client:
        yield client


def allowing(server: LiveServer) -> Context:
    """The server's context with private destinations allowed (a developer's settings)."""
    settings = server.settings.model_copy(update={"webhooks_allow_private": True})
    return replace(server.ctx, settings=settings)


def saved_anyway(server: LiveServer, shop: ShopSetup, url: str) -> dict[str, Any]:
    """An endpoint at `url`, saved while private destinations were allowed (or whose host's
    address changed since)."""
    endpoint, _ = server.call(
        webhooks.create_endpoint(allowing(server), shop_id=shop.shop.id, test=True, url=url)
    )
    return webhooks.endpoint_object(endpoint)


def deliveries(api: httpx.Client, endpoint_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"/v1/webhook_endpoints/{endpoint_id}/deliveries").json()[
        "data"
    ]
    return found


@pytest.mark.parametrize("host", NON_PUBLIC_HOSTS)
def test_a_non_public_host_is_refused_when_saved(guarded_api: httpx.Client, host: str) -> None:
    url = f"http://{host}:8000/admin"
    created = guarded_api.post("/v1/webhook_endpoints", json={"url": url})
    assert created.status_code == 422, created.text
    error = created.json()["error"]
    assert (error["code"], error["param"]) == ("url_not_allowed", "url")
    assert "non-public address" in error["message"] or "loopback name" in error["message"]
    assert "KASSA_WEBHOOKS_ALLOW_PRIVATE" in error["message"]
    assert guarded_api.get("/v1/webhook_endpoints").json()["data"] == []


def test_an_update_to_a_non_public_host_is_refused(guarded_api: httpx.Client) -> None:
    created = guarded_api.post(
        "/v1/webhook_endpoints", json={"url": "https://merchant.example/kassa"}
    )
    assert created.status_code == 201, created.text
    path = f"/v1/webhook_endpoints/{created.json()['id']}"
    changed = guarded_api.post(path, json={"url": "http://[::ffff:169.254.169.254]/latest"})
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "url_not_allowed"
    assert guarded_api.get(path).json()["url"] == "https://merchant.example/kassa"


def test_a_name_resolving_to_loopback_is_refused_when_delivering(
    guarded: LiveServer, guarded_shop: ShopSetup, guarded_api: httpx.Client, receiver: Receiver
) -> None:
    """`localhost` stands for any name whose address is not public: only the connection
    can tell. The refusal is a failed attempt, retried on the usual schedule."""
    port = httpx.URL(receiver.url).port
    by_name = saved_anyway(guarded, guarded_shop, f"http://localhost:{port}/by-name")
    by_number = saved_anyway(guarded, guarded_shop, f"http://2130706433:{port}/by-number")
    create_payment(guarded_api)
    assert guarded.call(webhook_sending.dispatch(guarded.ctx)) == 4  # 2 deliveries, 2 attempts
    assert receiver.requests == []
    for endpoint, host in ((by_name, "localhost resolves to"), (by_number, "2130706433 is")):
        (delivery,) = deliveries(guarded_api, endpoint["id"])
        (attempt,) = delivery["attempts"]
        assert (attempt["succeeded"], attempt["status_code"]) == (False, None)
        assert attempt["error"].startswith(f"refused: {host} a non-public address (loopback)")
        assert (delivery["status"], delivery["next_attempt_at"] is not None) == ("pending", True)
        assert guarded_api.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()["failing_since"]


def test_with_private_destinations_allowed_loopback_is_delivered(
    guarded: LiveServer, guarded_shop: ShopSetup, guarded_api: httpx.Client, receiver: Receiver
) -> None:
    port = httpx.URL(receiver.url).port
    endpoint = saved_anyway(guarded, guarded_shop, f"http://localhost:{port}/allowed")
    payment = create_payment(guarded_api)
    assert guarded.call(webhook_sending.dispatch(allowing(guarded))) == 2
    assert [r.event["data"]["object"]["id"] for r in receiver.on("/allowed")] == [payment["id"]]
    (delivery,) = deliveries(guarded_api, endpoint["id"])
    assert delivery["status"] == "succeeded"


def test_a_resend_to_a_refused_destination_is_a_failed_attempt(
    guarded: LiveServer, guarded_shop: ShopSetup, guarded_api: httpx.Client, receiver: Receiver
) -> None:
    payment = create_payment(guarded_api)
    (event,) = guarded_api.get("/v1/events", params={"payment": payment["id"]}).json()["data"]
    endpoint = saved_anyway(guarded, guarded_shop, f"{receiver.url}/resent")
    resent = guarded_api.post(
        f"/v1/events/{event['id']}/resend", json={"endpoint": endpoint["id"]}
    ).json()
    (attempt,) = resent["data"][0]["attempts"]
    assert attempt["error"].startswith("refused: 127.0.0.1 is a non-public address (loopback)")
    assert receiver.requests == []


def test_a_redirect_to_an_internal_address_is_not_followed(
    hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    """Even where private destinations are allowed, a delivery never follows a redirect: the
    `Location` (here the receiver's `/internal`, standing for a service inside) is never
    asked."""
    receiver.answer = lambda path, _n: 307 if path == "/moved" else 200
    receiver.locations["/moved"] = receiver.url + "/internal"
    endpoint = hooks.create(receiver.url + "/moved")
    create_payment(api)
    hooks.run()
    (delivery,) = hooks.deliveries(endpoint["id"])
    assert [a["status_code"] for a in delivery["attempts"]] == [307]
    assert [r.path for r in receiver.requests] == ["/moved"]
