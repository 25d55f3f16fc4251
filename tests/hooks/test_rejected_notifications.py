"""Nobody can fill the disk through `/hooks`: a rejected notification keeps only what is
needed to look into it, rejected ones are limited per sender (never a verified one) and
expire. On a Kassa of this module's own, whose limit is low, behind a trusted proxy on
loopback so each test sends from addresses of its own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from kassa.services.notifications import rejected
from kassa.services.operations import background
from kassa.services.operations.jobs import Job
from tests.helpers import (
    ShopSetup,
    create_payment,
    later,
    make_shop,
    sandbox_notification,
    stored_notifications,
)
from tests.live import LiveServer

LIMIT = 3


@pytest.fixture(scope="module")
def limited(own_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(
        own_database_url, trusted_proxies=["127.0.0.1"], rejected_notification_limit=LIMIT
    ).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def shop(limited: LiveServer) -> ShopSetup:
    return make_shop(limited)


#: Client addresses, each used once (the documentation ranges: only ever a header's value).
_ADDRESSES = (
    f"{network}.{host}"
    for network in ("192.0.2", "198.51.100", "203.0.113")
    for host in range(1, 255)
)


def address() -> str:
    """A client address of the test's own."""
    return next(_ADDRESSES)


def send(
    server: LiveServer, path: str, body: bytes, headers: dict[str, str], source: str
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/hooks/{path}",
        content=body,
        headers={**headers, "x-forwarded-for": source},
        timeout=30,
    )


def signed(shop: ShopSetup, payment: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return sandbox_notification(shop.secret, payment, "succeeded")


def test_a_rejected_notification_keeps_its_headers_the_start_of_its_body_and_its_length(
    limited: LiveServer, shop: ShopSetup
) -> None:
    """20 such requests used to add 20 MB."""
    body = b"A" * 1_000_000
    response = send(
        limited,
        f"sandbox/{shop.name}?{'q' * 5000}",
        body,
        {"x-sandbox-signature": "00", "x-trace": "t" * 3000},
        address(),
    )
    assert response.status_code == 401
    (row,) = stored_notifications(limited, shop.name)
    assert (row["verdict"], row["body_length"]) == ("rejected", 1_000_000)
    assert row["body"] == body[: rejected.REJECTED_BODY_BYTES]
    assert row["query"] == "q" * rejected.REJECTED_BODY_BYTES
    assert row["headers"]["x-sandbox-signature"] == "[redacted]"
    assert row["headers"]["x-trace"] == "t" * rejected.REJECTED_HEADER_CHARS
    assert row["reason"] == "X-Sandbox-Signature does not match the body"


def test_a_verified_notification_keeps_its_whole_body(limited: LiveServer, shop: ShopSetup) -> None:
    with shop_api(limited, shop) as api:
        payment = create_payment(api)
    # Longer than a rejected one keeps (fields the reader does not use are ignored).
    body, headers = sandbox_notification(shop.secret, payment, "succeeded", note="y" * 6000)
    assert send(limited, f"sandbox/{shop.name}", body, headers, address()).status_code == 200
    (row,) = stored_notifications(limited, shop.name)
    assert (row["verdict"], row["body"], row["body_length"]) == ("accepted", body, len(body))


def shop_api(server: LiveServer, shop: ShopSetup) -> httpx.Client:
    headers = {"Authorization": f"Bearer {shop.key}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def test_rejected_ones_are_limited_per_sender_and_verified_ones_never(
    limited: LiveServer, shop: ShopSetup
) -> None:
    attacker, neighbour = address(), address()
    with shop_api(limited, shop) as api:
        payments = [create_payment(api) for _ in range(3)]
    forged = (b"{}", {"x-sandbox-signature": "00"})
    for _ in range(LIMIT):
        assert send(limited, f"sandbox/{shop.name}", *forged, attacker).status_code == 401
    over = send(limited, f"sandbox/{shop.name}", *forged, attacker)
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "rate_limited"
    assert int(over.headers["retry-after"]) >= 1
    assert len(stored_notifications(limited, shop.name)) == LIMIT  # the 4th was not stored

    # The same address (or the same proxy) still gets every verified notification through.
    for payment in payments:
        answer = send(limited, f"sandbox/{shop.name}", *signed(shop, payment), attacker)
        assert answer.json()["verdict"] == "accepted"
    assert send(limited, f"sandbox/{shop.name}", *forged, attacker).status_code == 429
    # Another sender is not held back by this one.
    assert send(limited, f"sandbox/{shop.name}", *forged, neighbour).status_code == 401
    metrics = httpx.get(f"{limited.url}/metrics").text
    assert "kassa_notifications_rate_limited_total 2.0" in metrics


def test_unknown_shops_and_providers_count_alike_and_get_the_same_429(
    limited: LiveServer, shop: ShopSetup
) -> None:
    """Rejections count per sender, whatever the path: were unknown shops left out, or
    limited apart, the 429s would tell an unknown shop from a known one."""
    prober = address()
    forged = (b"{}", {"x-sandbox-signature": "00"})
    assert send(limited, "sandbox/no-such-shop", *forged, prober).status_code == 401
    assert send(limited, "nope/whatever", *forged, prober).status_code == 404
    assert send(limited, f"sandbox/{shop.name}", *forged, prober).status_code == 401
    answers = [
        send(limited, path, *forged, prober)
        for path in ("sandbox/no-such-shop", f"sandbox/{shop.name}", "nope/whatever")
    ]
    assert [answer.status_code for answer in answers] == [429, 429, 429]
    assert len({answer.content for answer in answers}) == 1


def test_an_ipv6_sender_is_limited_by_its_64(limited: LiveServer, shop: ShopSetup) -> None:
    prefix = f"2001:db8:{secrets.randbelow(65535):x}:{secrets.randbelow(65535):x}"
    forged = (b"{}", {"x-sandbox-signature": "00"})
    codes = [
        send(limited, f"sandbox/{shop.name}", *forged, f"{prefix}::{n + 1:x}").status_code
        for n in range(LIMIT + 1)
    ]
    assert codes == [401] * LIMIT + [429]


def test_rejected_ones_expire_in_small_batches_and_verified_ones_stay(
    limited: LiveServer, shop: ShopSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    with shop_api(limited, shop) as api:
        payment = create_payment(api)
    body, headers = signed(shop, payment)
    assert send(limited, f"sandbox/{shop.name}", body, headers, address()).status_code == 200
    assert send(limited, f"sandbox/{shop.name}", body, headers, address()).status_code == 200
    for _ in range(LIMIT):
        send(limited, f"sandbox/{shop.name}", b"{}", {"x-sandbox-signature": "0"}, address())
    verdicts = [row["verdict"] for row in stored_notifications(limited, shop.name)]
    assert sorted(verdicts) == ["accepted", "duplicate"] + ["rejected"] * LIMIT

    days = limited.settings.rejected_notification_retention_days
    assert limited.call(rejected.prune_rejected(later(limited, timedelta(days=days - 1)))) == 0
    monkeypatch.setattr(rejected, "PRUNE_BATCH", 2)
    pruned = limited.call(rejected.prune_rejected(later(limited, timedelta(days=days + 1))))
    assert pruned >= LIMIT  # this module's other tests' rejected ones too
    left = [row["verdict"] for row in stored_notifications(limited, shop.name)]
    assert sorted(left) == ["accepted", "duplicate"]
    jobs = {job.name: job for job in background.JOBS if isinstance(job, Job)}
    assert jobs["prune rejected notifications"].run is rejected.prune_rejected
