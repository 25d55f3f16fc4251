"""The hook route is a plain ASGI route first in the app (`kassa.web.routes.hooks`): it still
sits behind the middleware every route has (413, NUL, security headers, request metrics) and
answers what it does not take in Kassa's error shape (on both databases)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from kassa.config import Settings
from kassa.web import create_app
from kassa.web.routes.hooks import HookRoute
from tests.helpers import ShopSetup, create_payment, sandbox_notification, stored_notifications
from tests.live import LiveServer


def test_the_hook_routes_come_first() -> None:
    routes = create_app(Settings(database_url="sqlite+aiosqlite://")).router.routes
    assert [type(route) for route in routes[:2]] == [HookRoute, HookRoute]
    assert [route.path for route in routes[:2]] == [  # type: ignore[attr-defined]
        "/hooks/{provider}/{shop}",
        "/hooks/{provider}/{shop}/{kind}",
    ]


def test_a_notification_is_counted_under_its_route_and_verdict(
    api: httpx.Client, server: LiveServer, shop: ShopSetup
) -> None:
    payment = create_payment(api)
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    answer = httpx.post(f"{server.url}/hooks/sandbox/{shop.name}", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"verdict": "accepted", "message": "pending → succeeded"}
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"  # the middleware's
    metrics = httpx.get(f"{server.url}/metrics").text
    route = 'route="/hooks/{provider}/{shop}"'
    assert f'kassa_http_requests_total{{method="POST",{route},status="200"}}' in metrics
    assert 'kassa_notifications_total{provider="sandbox",verdict="accepted"}' in metrics


def test_other_methods_are_405_with_the_allowed_ones(server: LiveServer, shop: ShopSetup) -> None:
    for method in ("PUT", "HEAD", "DELETE"):
        answer = httpx.request(method, f"{server.url}/hooks/sandbox/{shop.name}")
        assert answer.status_code == 405, method
        assert answer.headers["allow"] == "GET, POST"
    assert httpx.put(f"{server.url}/hooks/sandbox/x").json()["error"]["code"] == (
        "method_not_allowed"
    )


def test_an_unknown_provider_is_404_in_the_error_shape(server: LiveServer) -> None:
    answer = httpx.post(f"{server.url}/hooks/no-such-provider/shop", content=b"{}")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_an_oversized_notification_is_413_and_not_stored(
    server: LiveServer, shop: ShopSetup
) -> None:
    url = f"{server.url}/hooks/sandbox/{shop.name}"
    big = b"x" * (server.settings.max_body_bytes + 1)
    answer = httpx.post(url, content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(server.settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    assert httpx.post(url, content=chunks()).status_code == 413
    assert stored_notifications(server, shop.name) == []
