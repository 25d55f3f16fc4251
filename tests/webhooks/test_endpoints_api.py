"""`/v1/webhook_endpoints`: create (secret shown once), read, list, update, delete; errors."""

from __future__ import annotations

import asyncio
import base64
import re

import httpx
import pytest
from sqlalchemy import select

from kassa.services.shops import keys
from kassa.services.webhooks import endpoints as webhooks
from kassa.store.tables import webhook_endpoints
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer
from tests.webhooks.conftest import Hooks

URL = "https://merchant.example/hooks/kassa"


def test_an_endpoint_shows_its_secret_once(hooks: Hooks, api: httpx.Client) -> None:
    created = hooks.create(URL, events=["payment.*"], description="orders")
    secret = created.pop("secret")
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert created["id"].startswith("we_")
    assert (created["url"], created["events"], created["description"]) == (
        URL,
        ["payment.*"],
        "orders",
    )
    assert (created["enabled"], created["disabled_reason"], created["test"]) == (True, None, True)
    shown = hooks.get(created["id"])
    assert shown == created  # the same, without the secret
    listed = api.get("/v1/webhook_endpoints").json()
    assert listed["data"] == [created]
    assert secret not in api.get("/v1/webhook_endpoints").text


def test_the_secret_is_kept_out_of_reprs(server: LiveServer, hooks: Hooks) -> None:
    created = hooks.create(URL)
    found = server.call(
        webhooks.get_endpoint(server.ctx, scope=webhooks.Operator(), endpoint_id=created["id"])
    )
    assert server.ctx.keyring.decrypt(found.encrypted_secret) == created["secret"]
    assert created["secret"] not in repr(found)
    assert found.encrypted_secret not in repr(found)


def test_events_default_to_everything(hooks: Hooks) -> None:
    assert hooks.create(URL)["events"] == ["*"]


def test_a_replayed_create_returns_the_same_endpoint(hooks: Hooks, api: httpx.Client) -> None:
    headers = {"Idempotency-Key": "endpoint-1"}
    first = api.post("/v1/webhook_endpoints", json={"url": URL}, headers=headers)
    again = api.post("/v1/webhook_endpoints", json={"url": URL}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api.get("/v1/webhook_endpoints").json()["data"]) == 1


def test_update_changes_only_what_is_given(hooks: Hooks, api: httpx.Client) -> None:
    created = hooks.create(URL, events=["payment.succeeded"], description="old")
    path = f"/v1/webhook_endpoints/{created['id']}"
    changed = api.post(path, json={"events": ["refund.*", "payment.succeeded"]}).json()
    assert changed["events"] == ["refund.*", "payment.succeeded"]
    assert (changed["url"], changed["description"]) == (URL, "old")
    off = api.post(path, json={"enabled": False, "description": ""}).json()
    assert (off["enabled"], off["disabled_reason"], off["description"]) == (
        False,
        "Disabled by the shop",
        None,
    )
    on = api.post(path, json={"enabled": True, "url": "http://127.0.0.1:9/x"}).json()
    assert (on["enabled"], on["disabled_reason"], on["url"]) == (True, None, "http://127.0.0.1:9/x")


def test_delete_removes_the_endpoint(hooks: Hooks, api: httpx.Client) -> None:
    created = hooks.create(URL)
    path = f"/v1/webhook_endpoints/{created['id']}"
    deleted = api.delete(path)
    assert deleted.status_code == 200
    assert deleted.json() == {"id": created["id"], "object": "webhook_endpoint", "deleted": True}
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404
    assert api.get("/v1/webhook_endpoints").json()["data"] == []


def test_rotation_returns_a_new_secret_and_the_overlap(hooks: Hooks, api: httpx.Client) -> None:
    created = hooks.create(URL)
    path = f"/v1/webhook_endpoints/{created['id']}/rotate_secret"
    rotated = api.post(path)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    immediate = api.post(path, json={"overlap": 0}).json()
    assert immediate["previous_secret_expires_at"] is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://merchant.example/hook",
        "merchant.example/hook",
        "http://",
        "javascript:alert(1)",
        "https://exa mple.com/",
    ],
)
def test_a_url_that_is_not_http_is_refused(hooks: Hooks, api: httpx.Client, url: str) -> None:
    answer = api.post("/v1/webhook_endpoints", json={"url": url})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "url_invalid"
    assert answer.json()["error"]["param"] == "url"
    assert "http" in answer.json()["error"]["message"]


@pytest.mark.parametrize("events", [["payment.paid"], ["bogus.*"], ["payment*"], ["*.*"], [""]])
def test_unknown_event_types_are_refused(
    hooks: Hooks, api: httpx.Client, events: list[str]
) -> None:
    answer = api.post("/v1/webhook_endpoints", json={"url": URL, "events": events})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("event_type_unknown", "events")
    assert "payment.*" in error["message"]  # it says what would do
    assert api.get("/v1/webhook_endpoints").json()["data"] == []


def test_other_bad_input_is_refused(hooks: Hooks, api: httpx.Client) -> None:
    created = hooks.create(URL)
    cases = [
        ("/v1/webhook_endpoints", {"url": URL, "events": []}, "parameter_invalid"),
        ("/v1/webhook_endpoints", {"url": URL, "secret": "whsec_x"}, "parameter_unknown"),
        ("/v1/webhook_endpoints", {"url": URL, "enabled": "yes"}, "parameter_invalid"),
        (f"/v1/webhook_endpoints/{created['id']}", {"url": "ftp://x"}, "url_invalid"),
        (f"/v1/webhook_endpoints/{created['id']}/rotate_secret", {"overlap": -1}, None),
    ]
    for path, body, code in cases:
        answer = api.post(path, json=body)
        assert answer.status_code == 422, (path, body, answer.text)
        if code:
            assert answer.json()["error"]["code"] == code, answer.text
    assert hooks.get(created["id"])["url"] == URL  # nothing half-written


def test_another_shops_endpoint_is_not_found(
    server: LiveServer, hooks: Hooks, api: httpx.Client
) -> None:
    created = hooks.create(URL)
    other = make_shop(server)
    headers = {"Authorization": f"Bearer {other.key}"}
    with httpx.Client(base_url=server.url, headers=headers) as stranger:
        path = f"/v1/webhook_endpoints/{created['id']}"
        for answer in (
            stranger.get(path),
            stranger.post(path, json={"enabled": False}),
            stranger.delete(path),
            stranger.post(path + "/rotate_secret"),
            stranger.get(path + "/deliveries"),
        ):
            assert answer.status_code == 404, answer.text
            assert answer.json()["error"]["code"] == "resource_missing"
        assert stranger.get("/v1/webhook_endpoints").json()["data"] == []
    assert hooks.get(created["id"])["enabled"] is True


def test_live_and_test_endpoints_are_apart(
    server: LiveServer, shop: ShopSetup, hooks: Hooks
) -> None:
    created = hooks.create(URL)
    _, live_key = server.call(keys.create_key(server.ctx, shop=shop.shop, live=True))
    headers = {"Authorization": f"Bearer {live_key}"}
    with httpx.Client(base_url=server.url, headers=headers) as live:
        assert live.get(f"/v1/webhook_endpoints/{created['id']}").status_code == 404
        assert live.get("/v1/webhook_endpoints").json()["data"] == []
        made = live.post("/v1/webhook_endpoints", json={"url": URL}).json()
        assert made["test"] is False
    assert [e["id"] for e in hooks.api.get("/v1/webhook_endpoints").json()["data"]] == [
        created["id"]
    ]


def test_rotations_at_once_lose_no_secret(server: LiveServer, hooks: Hooks) -> None:
    """Two rotations of one endpoint at once must not both keep the same old secret (the
    secret of one of them would then never sign)."""
    if server.ctx.db.is_sqlite:
        pytest.skip("SQLite has one writer: rotations cannot overlap")
    created = hooks.create(URL)
    scope, endpoint_id = webhooks.Operator(), created["id"]

    async def rotate_together() -> list[str]:
        async with server.ctx.db.write() as held:  # both rotations start while it is held
            await held.execute(
                select(webhook_endpoints.c.id)
                .where(webhook_endpoints.c.id == endpoint_id)
                .with_for_update()
            )
            rotations = [
                asyncio.create_task(
                    webhooks.rotate_secret(server.ctx, scope=scope, endpoint_id=endpoint_id)
                )
                for _ in range(2)
            ]
            await asyncio.sleep(0.2)
        return [secret for _, secret in await asyncio.gather(*rotations)]

    issued = server.call(rotate_together())
    found = server.call(webhooks.get_endpoint(server.ctx, scope=scope, endpoint_id=endpoint_id))
    assert found.encrypted_previous_secret is not None
    decrypt = server.ctx.keyring.decrypt
    assert {decrypt(found.encrypted_secret), decrypt(found.encrypted_previous_secret)} == set(
        issued
    )
