"""`/healthz`, `/readyz`, `/metrics`, `/docs`, `/openapi.json`."""

from __future__ import annotations

import os

import httpx

from tests.helpers import checkout, create_payment
from tests.live import LiveServer


def test_health_and_readiness(server: LiveServer) -> None:
    # The test server runs in this process, without the background loop.
    health = {"status": "ok", "pid": os.getpid(), "background": False}
    assert httpx.get(server.url + "/healthz").json() == health
    assert httpx.get(server.url + "/readyz").json() == {"status": "ready"}


def test_metrics_count_requests_and_notifications(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api)
    checkout(server, payment, "pay")
    text = httpx.get(server.url + "/metrics").text
    assert 'kassa_http_requests_total{method="POST",route="/v1/payments",status="201"}' in text
    assert 'kassa_notifications_total{provider="sandbox",verdict="accepted"}' in text
    assert "kassa_http_request_duration_seconds_bucket" in text


def test_docs_page_lists_every_endpoint_offline(server: LiveServer) -> None:
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "<script" not in page.text
    for path in (
        "/v1/payments",
        "/v1/payments/{payment_id}/capture",
        "/v1/payments/{payment_id}/cancel",
        "/v1/refunds",
        "/v1/events",
        "/v1/providers",
    ):
        assert f"<code>{path}</code>" in page.text
    assert "Idempotency-Key" in page.text
    russian = httpx.get(server.url + "/docs", headers={"Accept-Language": "ru"})
    assert "Параметры" in russian.text
    assert httpx.get(server.url + "/", follow_redirects=False).headers["location"] == "/docs"


def test_the_icon_is_served_from_here(server: LiveServer) -> None:
    """Browsers ask for /favicon.ico by themselves; the pages name it and an SVG one."""
    icon = httpx.get(server.url + "/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert "max-age" in icon.headers["cache-control"]
    svg = httpx.get(server.url + "/static/favicon.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    page = httpx.get(server.url + "/docs").text
    assert '<link rel="icon" href="/favicon.ico"' in page
    assert '<link rel="icon" href="/static/favicon.svg"' in page


def test_openapi_document(server: LiveServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    assert spec["info"]["title"] == "Kassa"
    assert "/v1/payments" in spec["paths"]
    assert not any(path.startswith(("/hooks", "/sandbox")) for path in spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
