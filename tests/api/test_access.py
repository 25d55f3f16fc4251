"""Authentication, rate limits, body limits, and the error shape for everything else."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kassa.services.shops import keys
from kassa.web.ratelimit import RateLimiter
from tests.helpers import ShopSetup
from tests.live import LiveServer


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "authentication_required"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, "authentication_required"),
        ({"Authorization": "Bearer nonsense"}, "authentication_failed"),
        (
            {"Authorization": "Bearer sk_test_unknownunknownunknownunknown1"},
            "authentication_failed",
        ),
    ],
)
def test_missing_or_bad_keys_get_401(
    server: LiveServer, headers: dict[str, str], code: str
) -> None:
    for method, path in [("GET", "/v1/payments"), ("POST", "/v1/payments"), ("GET", "/v1/events")]:
        response = httpx.request(method, server.url + path, headers=headers, json={})
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == code


def test_revoked_key_stops_working(server: LiveServer, shop: ShopSetup) -> None:
    headers = {"Authorization": f"Bearer {shop.key}"}
    assert httpx.get(server.url + "/v1/payments", headers=headers).status_code == 200
    (key,) = server.call(keys.list_keys(server.ctx, shop=shop.shop))
    server.call(keys.revoke_key(server.ctx, key_id=key.id))
    response = httpx.get(server.url + "/v1/payments", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


@pytest.fixture
def tight_limit(server: LiveServer) -> Iterator[None]:
    generous = server.app.state.limiter
    server.app.state.limiter = RateLimiter(rate=0.5, burst=3)
    yield
    server.app.state.limiter = generous


@pytest.mark.usefixtures("tight_limit")
def test_rate_limit_answers_429_with_retry_after(api: httpx.Client) -> None:
    assert [api.get("/v1/payments").status_code for _ in range(3)] == [200, 200, 200]
    limited = api.get("/v1/payments")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1


def test_oversized_body_is_413(api: httpx.Client, server: LiveServer) -> None:
    big = b"x" * (server.settings.max_body_bytes + 1)
    response = api.post("/v1/payments", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(server.settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    streamed = api.post("/v1/payments", content=chunks())
    assert streamed.status_code == 413


def test_unknown_routes_and_methods_answer_in_the_error_shape(api: httpx.Client) -> None:
    missing = api.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = api.delete("/v1/payments")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_responses_carry_security_headers(server: LiveServer) -> None:
    api_response = httpx.get(server.url + "/healthz")
    assert api_response.headers["x-content-type-options"] == "nosniff"
    page = httpx.get(server.url + "/docs")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
