"""Provider notifications in: stored raw, verified over raw bytes, de-duplicated, applied."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from kassa.providers.sandbox import SIGNATURE_HEADER, sign
from kassa.services.notifications import inbound as notifications
from kassa.services.payments.transitions import apply_payment_update
from tests.helpers import (
    ShopSetup,
    create_payment,
    event_types,
    later,
    make_shop,
    sandbox_notification,
    stored_notifications,
)
from tests.live import LiveServer

#: What applying a notification calls to apply a payment update, alone or re-processed;
#: replaced to inject a failure.
APPLY = "kassa.services.notifications.applying.apply_payment_update"
#: What ingestion calls to apply simple notifications together; if that fails, each is
#: applied alone.
APPLY_TOGETHER = "kassa.services.notifications.inbound.apply_together"


def fail_applying(monkeypatch: pytest.MonkeyPatch, alone: Any) -> None:
    """Make applying notifications together fail, and applying one alone call `alone`."""

    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(APPLY_TOGETHER, fail)
    monkeypatch.setattr(APPLY, alone)


def post(server: LiveServer, shop: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/hooks/sandbox/{shop}", content=body, headers=headers)


@pytest.fixture
def payment(api: httpx.Client) -> dict[str, Any]:
    return create_payment(api, amount=2500)


def status(api: httpx.Client, payment: dict[str, Any]) -> str:
    return str(api.get(f"/v1/payments/{payment['id']}").json()["status"])


def test_signed_notification_is_stored_and_applied(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, payment: dict[str, Any]
) -> None:
    body, headers = sandbox_notification(shop.secret, payment, "succeeded", event_id="evt-1")
    headers |= {"Authorization": "Bearer very-secret", "Cookie": "session=abc"}
    response = post(server, shop.name, body, headers)
    assert response.status_code == 200
    assert response.json() == {"verdict": "accepted", "message": "pending → succeeded"}
    assert status(api, payment) == "succeeded"
    (row,) = stored_notifications(server, shop.name)
    assert row["verdict"] == "accepted"
    assert row["body"] == body
    assert row["event_key"] == "evt-1"
    assert row["payment_id"] == payment["id"]
    assert row["account_id"] == shop.sandbox.id
    assert row["source_ip"] == "127.0.0.1"
    assert row["processed_at"] is not None
    assert row["headers"]["authorization"] == "[redacted]"
    assert row["headers"]["cookie"] == "[redacted]"
    # A signature with its body is enough to send the notification again.
    assert row["headers"]["x-sandbox-signature"] == "[redacted]"
    assert row["headers"]["content-type"] == "application/json"


def rejected_variants(
    secret: str, payment: dict[str, Any]
) -> dict[str, tuple[bytes, dict[str, str]]]:
    body, headers = sandbox_notification(secret, payment, "succeeded")
    reencoded = json.dumps(json.loads(body), indent=2).encode()
    return {
        "forged with another secret": sandbox_notification("sbx_sk_wrong", payment, "succeeded"),
        "no signature": (body, {"content-type": "application/json"}),
        "truncated": (body[:-10], headers),
        "re-encoded": (reencoded, headers),
        "signature in upper case": (
            body,
            headers | {"x-sandbox-signature": headers["x-sandbox-signature"].upper()},
        ),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "forged with another secret",
        "no signature",
        "truncated",
        "re-encoded",
        "signature in upper case",
    ],
)
def test_unverifiable_notifications_change_nothing(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, payment: dict[str, Any], variant: str
) -> None:
    body, headers = rejected_variants(shop.secret, payment)[variant]
    response = post(server, shop.name, body, headers)
    assert response.status_code == 401
    assert response.json()["verdict"] == "rejected"
    assert status(api, payment) == "pending"
    assert event_types(server, payment["id"]) == ["payment.created"]
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["body"]) == ("rejected", body)
    assert "X-Sandbox-Signature" in row["reason"]
    assert row["processed_at"] is None


def test_signed_but_unreadable_body_is_rejected(server: LiveServer, shop: ShopSetup) -> None:
    body = b'{"id": "x", "type": "payment.succeeded"'
    response = post(server, shop.name, body, {SIGNATURE_HEADER: sign(shop.secret, body)})
    assert response.status_code == 401
    (row,) = stored_notifications(server, shop.name)
    assert row["verdict"] == "rejected"
    assert "Unreadable" in row["reason"]


def test_unknown_shop_is_stored_as_rejected(
    server: LiveServer, shop: ShopSetup, payment: dict[str, Any]
) -> None:
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    response = post(server, "no-such-shop", body, headers)
    assert response.status_code == 401
    (row,) = stored_notifications(server, "no-such-shop")
    assert (row["verdict"], row["shop_id"]) == ("rejected", None)
    assert "no enabled sandbox account" in row["reason"]


def test_unknown_provider_is_404(server: LiveServer, shop: ShopSetup) -> None:
    response = httpx.post(f"{server.url}/hooks/nope/{shop.name}", content=b"{}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert stored_notifications(server, shop.name) == []


def test_notification_about_an_unknown_payment_is_acknowledged(
    server: LiveServer, shop: ShopSetup
) -> None:
    ghost = {
        "id": "pay_ghost",
        "provider_payment_id": "sbx_ghost",
        "amount": 100,
        "currency": "RUB",
    }
    body, headers = sandbox_notification(shop.secret, ghost, "succeeded")
    response = post(server, shop.name, body, headers)
    assert response.status_code == 200  # otherwise the provider would resend it forever
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["outcome"]) == ("accepted", "ignored: no such payment")


def test_another_shops_payment_is_unknown_here(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    other = make_shop(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {other.key}"}) as c:
        theirs = create_payment(c)
    body, headers = sandbox_notification(shop.secret, theirs, "succeeded")
    assert post(server, shop.name, body, headers).json()["message"] == "ignored: no such payment"
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {other.key}"}) as c:
        assert c.get(f"/v1/payments/{theirs['id']}").json()["status"] == "pending"


def test_wrong_amount_is_never_applied(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, payment: dict[str, Any]
) -> None:
    body, headers = sandbox_notification(shop.secret, {**payment, "amount": 1}, "succeeded")
    response = post(server, shop.name, body, headers)
    assert response.status_code == 200
    assert response.json()["message"].startswith("rejected: provider reports 0.01 RUB")
    assert status(api, payment) == "pending"


def test_out_of_order_notifications_do_not_go_back(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, payment: dict[str, Any]
) -> None:
    post(server, shop.name, *sandbox_notification(shop.secret, payment, "succeeded"))
    late = post(server, shop.name, *sandbox_notification(shop.secret, payment, "pending"))
    assert (
        late.json()["message"] == "no change: already succeeded"
        or "not allowed" in late.json()["message"]
    )
    failed = post(server, shop.name, *sandbox_notification(shop.secret, payment, "failed"))
    assert failed.json()["message"] == "rejected: succeeded → failed is not allowed"
    assert status(api, payment) == "succeeded"
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


def test_two_stage_through_notifications(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api, capture=False)
    post(server, shop.name, *sandbox_notification(shop.secret, payment, "authorized"))
    assert status(api, payment) == "requires_capture"
    post(server, shop.name, *sandbox_notification(shop.secret, payment, "canceled"))
    assert status(api, payment) == "canceled"


def _store_pending(
    server: LiveServer,
    shop: ShopSetup,
    payment: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[bytes, dict[str, str]]:
    """Send a notification whose applying fails (and keeps failing until `monkeypatch.undo()`),
    so it is stored as pending; returns what was sent."""

    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    fail_applying(monkeypatch, fail)
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    assert post(server, shop.name, body, headers).status_code == 500
    return body, headers


def test_failed_apply_is_kept_as_pending_and_reprocessed(
    server: LiveServer,
    shop: ShopSetup,
    api: httpx.Client,
    payment: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injection: applying fails once (as if the database went away mid-way)."""
    calls = 0

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away")
        return await apply_payment_update(*args, **kwargs)

    fail_applying(monkeypatch, failing_once)
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    response = post(server, shop.name, body, headers)
    assert response.status_code == 500  # the provider will resend
    assert response.json()["verdict"] == "pending"
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["processed_at"]) == ("pending", None)
    assert status(api, payment) == "pending"

    # Too young: left for the provider's own resend.
    assert server.call(notifications.reprocess_pending(server.ctx)) == 0
    soon = later(server, timedelta(minutes=1))
    assert server.call(notifications.reprocess_pending(soon)) == 1
    (row,) = stored_notifications(server, shop.name)
    assert row["verdict"] == "accepted"
    assert row["outcome"] == "pending → succeeded"
    assert status(api, payment) == "succeeded"
    assert server.call(notifications.reprocess_pending(soon)) == 0


def test_resend_after_a_failure_wins_and_the_stored_copy_becomes_a_duplicate(
    server: LiveServer,
    shop: ShopSetup,
    api: httpx.Client,
    payment: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body, headers = _store_pending(server, shop, payment, monkeypatch)
    monkeypatch.undo()
    assert post(server, shop.name, body, headers).json()["verdict"] == "accepted"

    soon = later(server, timedelta(minutes=1))
    server.call(notifications.reprocess_pending(soon))
    assert [row["verdict"] for row in stored_notifications(server, shop.name)] == [
        "duplicate",
        "accepted",
    ]
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


def test_concurrent_workers_apply_a_pending_notification_once(
    server: LiveServer,
    shop: ShopSetup,
    payment: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _store_pending(server, shop, payment, monkeypatch)
    monkeypatch.undo()
    soon = later(server, timedelta(minutes=1))

    async def two_workers() -> list[int]:
        return list(
            await asyncio.gather(
                notifications.reprocess_pending(soon), notifications.reprocess_pending(soon)
            )
        )

    assert sorted(server.call(two_workers())) == [0, 1]
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


def test_a_reapply_that_fails_again_stays_pending(
    server: LiveServer,
    shop: ShopSetup,
    payment: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _store_pending(server, shop, payment, monkeypatch)  # applying keeps failing
    soon = later(server, timedelta(minutes=1))
    assert server.call(notifications.reprocess_pending(soon)) == 0
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["attempts"]) == ("pending", 1)


@pytest.mark.parametrize(
    "amount",
    [
        {"value": "25.00", "currency": "GBP"},
        {"value": "25.001", "currency": "RUB"},
        {"value": "-25.00", "currency": "RUB"},
        {"value": 25.0, "currency": "RUB"},
        "25.00 RUB",
    ],
)
def test_authentic_but_unreadable_amounts_are_stored_as_rejected(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, payment: dict[str, Any], amount: Any
) -> None:
    document = json.loads(sandbox_notification(shop.secret, payment, "succeeded")[0])
    document["object"]["amount"] = amount
    body = json.dumps(document).encode()
    response = post(server, shop.name, body, {SIGNATURE_HEADER: sign(shop.secret, body)})
    assert response.status_code == 401
    assert response.json()["verdict"] == "rejected"
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["body"]) == ("rejected", body)
    assert status(api, payment) == "pending"


def test_a_wrongly_typed_id_is_rejected_not_pending(
    server: LiveServer, shop: ShopSetup, payment: dict[str, Any]
) -> None:
    document = json.loads(sandbox_notification(shop.secret, payment, "succeeded")[0])
    document["object"]["order_id"] = [payment["id"]]
    body = json.dumps(document).encode()
    response = post(server, shop.name, body, {SIGNATURE_HEADER: sign(shop.secret, body)})
    assert response.status_code == 401
    (row,) = stored_notifications(server, shop.name)
    assert row["verdict"] == "rejected"


def test_reapplying_gives_up_after_the_attempt_cap(
    server: LiveServer,
    shop: ShopSetup,
    payment: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _store_pending(server, shop, payment, monkeypatch)
    soon = later(server, timedelta(minutes=1))
    for _ in range(notifications.MAX_ATTEMPTS + 3):
        server.call(notifications.reprocess_pending(soon))
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["attempts"]) == ("pending", notifications.MAX_ATTEMPTS)
