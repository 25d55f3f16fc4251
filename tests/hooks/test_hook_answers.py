"""What `/hooks` tells a caller who is not a provider: nothing about which shops exist, no
traceback in the log for odd input, and no 5xx for odd paths (on both databases)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import pytest

from kassa.services.shops import shops
from tests.helpers import ShopSetup, make_shop, sandbox_notification, stored_notifications
from tests.live import LiveServer


def post(server: LiveServer, path: str, body: bytes, headers: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}/hooks/{path}", content=body, headers=headers)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records that carry a traceback."""
    return [record.getMessage() for record in caplog.records if record.exc_info]


@pytest.mark.parametrize("provider", ["sandbox", "yookassa", "cloudpayments/pay"])
def test_an_unknown_shop_and_a_bad_signature_get_the_same_answer(
    server: LiveServer, shop: ShopSetup, provider: str
) -> None:
    """Whoever probes `/hooks` learns nothing about which shop names exist: an unknown shop,
    a shop without that provider, a disabled account and a known shop with a bad signature
    are answered alike (the reason is kept in the stored row, for the shop's admins)."""
    payment = {"id": "pay_x", "provider_payment_id": "p", "amount": 100, "currency": "RUB"}
    body, headers = sandbox_notification("sbx_sk_wrong", payment, "succeeded")
    headers |= {"content-hmac": "d3Jvbmc="}
    disabled = make_shop(server)
    server.call(
        shops.configure_provider(
            server.ctx, shop=disabled.shop, provider="sandbox", settings={"enabled": "false"}
        )
    )
    kind = "/" + provider.split("/")[1] if "/" in provider else ""
    name = provider.split("/", maxsplit=1)[0]
    unknown = f"no-such-shop-{secrets.token_hex(4)}"
    answers = {
        where: post(server, f"{name}/{where}{kind}", body, headers)
        for where in (shop.name, unknown, disabled.name)
    }
    assert len({(a.status_code, a.content) for a in answers.values()}) == 1, {
        where: (a.status_code, a.text) for where, a in answers.items()
    }
    assert next(iter(answers.values())).status_code in (401, 403)
    (row,) = stored_notifications(server, unknown)
    assert "no enabled" in row["reason"]


def test_a_non_ascii_signature_is_rejected_without_a_traceback(
    server: LiveServer, shop: ShopSetup, caplog: pytest.LogCaptureFixture
) -> None:
    payment = {"id": "pay_x", "provider_payment_id": "p", "amount": 100, "currency": "RUB"}
    body, _ = sandbox_notification(shop.secret, payment, "succeeded")
    for signature in ("é".encode("latin-1"), "подпись".encode()):
        response = post(server, f"sandbox/{shop.name}", body, {"x-sandbox-signature": signature})
        assert response.status_code == 401
    rows = stored_notifications(server, shop.name)
    assert [row["verdict"] for row in rows] == ["rejected", "rejected"]
    assert all("X-Sandbox-Signature does not match" in row["reason"] for row in rows)
    assert tracebacks(caplog) == []


def test_a_provider_that_sends_no_notifications_has_no_hook(
    server: LiveServer, shop: ShopSetup, caplog: pytest.LogCaptureFixture
) -> None:
    """The terminal provider reports through its agent, not by notification: its hook is an
    unknown provider's 404, even for a shop with a terminal account."""
    server.call(
        shops.configure_provider(server.ctx, shop=shop.shop, provider="terminal", settings={})
    )
    response = post(server, f"terminal/{shop.name}", b"{}", {})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert stored_notifications(server, shop.name) == []
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    ("path", "shop_ref"),
    [
        ("sandbox/{shop}/" + "k" * 40, "{shop}"),  # a kind longer than any provider's
        ("sandbox/" + "s" * 300, "s" * 255),
    ],
)
def test_odd_paths_are_rejected_not_failed(
    server: LiveServer,
    shop: ShopSetup,
    caplog: pytest.LogCaptureFixture,
    path: str,
    shop_ref: str,
) -> None:
    response = post(server, path.format(shop=shop.name), b"{}", {"x-sandbox-signature": "00"})
    assert response.status_code == 401, response.text
    (row,) = stored_notifications(server, shop_ref.format(shop=shop.name))[-1:]
    assert row["verdict"] == "rejected"
    assert tracebacks(caplog) == []


def test_a_long_event_id_is_stored_not_failed(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    """The sandbox's event id is its de-duplication key: a genuine one longer than the
    column is refused as unreadable, not a 500."""
    payment = api.post("/v1/payments", json={"amount": 100, "currency": "RUB"}).json()
    body, headers = sandbox_notification(shop.secret, payment, "succeeded", event_id="e" * 300)
    response = post(server, f"sandbox/{shop.name}", body, headers)
    assert response.status_code == 401, response.text
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def test_answers_name_no_reason_but_the_inbox_keeps_it(
    server: LiveServer, shop: ShopSetup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = post(server, f"sandbox/{shop.name}", b"{}", {"x-sandbox-signature": "00"})
    assert response.json() == {"verdict": "rejected", "message": "not accepted"}
    (row,) = stored_notifications(server, shop.name)
    assert row["reason"] == "X-Sandbox-Signature does not match the body"


def test_a_doubled_signature_header_matches_nothing(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    """Sent twice, a header's values are read together ("a, b"), as HTTP has it: never as
    whichever copy a framework happens to keep."""
    payment = api.post("/v1/payments", json={"amount": 100, "currency": "RUB"}).json()
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    signature = headers["x-sandbox-signature"]
    for pair in ((signature, "00"), ("00", signature), (signature, signature)):
        doubled = [("content-type", "application/json")] + [
            ("x-sandbox-signature", value) for value in pair
        ]
        response = httpx.post(
            f"{server.url}/hooks/sandbox/{shop.name}", content=body, headers=doubled
        )
        assert response.status_code == 401
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def test_a_type_after_a_provider_that_has_none_is_rejected(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    """Only CloudPayments' URLs end with a type; the others' notifications go to the URL
    Kassa prints, and nothing else."""
    payment = api.post("/v1/payments", json={"amount": 100, "currency": "RUB"}).json()
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    response = post(server, f"sandbox/{shop.name}/pay", body, headers)
    assert response.status_code == 401
    (row,) = stored_notifications(server, shop.name)
    assert "with nothing after it" in row["reason"]
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


@pytest.mark.parametrize("field", ["order_id", "failure_code"])
def test_a_signed_body_with_nul_is_refused_not_a_500(
    server: LiveServer, shop: ShopSetup, caplog: pytest.LogCaptureFixture, field: str
) -> None:
    """PostgreSQL's text cannot hold NUL, and no provider sends one: even a signed body with
    one is refused at the edge (it was a 500 and a notification left pending for ever, on
    PostgreSQL)."""
    payment = {"id": "pay_x", "provider_payment_id": "p", "amount": 100, "currency": "RUB"}
    body, headers = sandbox_notification(shop.secret, payment, "failed", **{field: "a\x00b"})
    response = post(server, f"sandbox/{shop.name}", body, headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_character"
    assert stored_notifications(server, shop.name) == []
    assert tracebacks(caplog) == []
