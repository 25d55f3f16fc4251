"""Whose address a notification came from: the peer's, or the one a trusted proxy names."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import create_payment, make_shop, sandbox_notification, stored_notifications
from tests.live import LiveServer


@pytest.fixture(scope="module")
def proxied(database_url: str) -> Iterator[LiveServer]:
    """Kassa behind a reverse proxy on loopback."""
    live = LiveServer(database_url, trusted_proxies=["127.0.0.0/8"]).start()
    try:
        yield live
    finally:
        live.stop()


def send_via(server: LiveServer, forwarded_for: str) -> str:
    """Send a signed notification claiming `forwarded_for`; the source address stored."""
    shop = make_shop(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {shop.key}"}) as api:
        payment = create_payment(api)
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    response = httpx.post(
        f"{server.url}/hooks/sandbox/{shop.name}",
        content=body,
        headers={**headers, "x-forwarded-for": forwarded_for},
    )
    assert response.status_code == 200, response.text
    (row,) = stored_notifications(server, shop.name)
    return str(row["source_ip"])


def test_a_trusted_proxy_names_the_client(proxied: LiveServer) -> None:
    assert send_via(proxied, "185.71.76.10") == "185.71.76.10"


def test_the_nearest_untrusted_hop_is_the_client(proxied: LiveServer) -> None:
    # A client can write anything to the left of what the proxy appends.
    assert send_via(proxied, "185.71.76.10, 203.0.113.7") == "203.0.113.7"


def test_without_a_trusted_proxy_the_header_is_ignored(server: LiveServer) -> None:
    assert send_via(server, "185.71.76.10") == "127.0.0.1"
