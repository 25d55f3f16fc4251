"""The notifications inbox: the list and its filters, one notification in full (escaped,
headers redacted), and re-processing a pending one, for each role."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import insert

from kassa.domain import new_id
from kassa.services.admin import audit
from kassa.services.context import utcnow
from kassa.services.notifications.rejected import REJECTED_BODY_BYTES
from kassa.services.shops import shops
from kassa.store.tables import notifications
from kassa.web.admin import inbox
from kassa.web.admin.filters import common_zone
from kassa.web.i18n import format_time
from tests.admin.conftest import Visitor, text_of
from tests.helpers import (
    ShopSetup,
    create_payment,
    make_shop,
    sandbox_notification,
    stored_notifications,
)
from tests.live import LiveServer

SECRET_HEADER_VALUE = "Bearer very-secret-token-42"


@pytest.fixture
def shop(admin_server: LiveServer) -> ShopSetup:
    return make_shop(admin_server)


@pytest.fixture
def api(admin_server: LiveServer, shop: ShopSetup) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {shop.key}"}
    with httpx.Client(base_url=admin_server.url, headers=headers, timeout=30) as client:
        yield client


def hook(server: LiveServer, shop: ShopSetup, body: bytes, headers: dict[str, str]) -> str:
    """Send a notification as the provider would; returns its stored id."""
    response = httpx.post(
        f"{server.url}/hooks/sandbox/{shop.name}",
        content=body,
        headers={**headers, "Authorization": SECRET_HEADER_VALUE},
    )
    kept = (body, body[:REJECTED_BODY_BYTES])  # a rejected one keeps the start
    row = [r for r in stored_notifications(server, shop.name) if r["body"] in kept]
    assert row, response.text
    return str(row[-1]["id"])


def pending(
    server: LiveServer,
    shop: ShopSetup,
    payment: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> str:
    """A notification that verified but could not be applied yet (as after a crash), stored
    with `headers` as they are (by default its own, signature included, as rows stored before
    signatures were redacted have them)."""
    body, signed = sandbox_notification(shop.secret, payment, "succeeded")
    headers = signed if headers is None else headers
    notification_id = new_id("ntf")

    async def store() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(
                insert(notifications),
                {
                    "id": notification_id,
                    "provider": "sandbox",
                    "shop_id": shop.shop.id,
                    "shop_ref": shop.name,
                    "account_id": shop.sandbox.id,
                    "kind": None,
                    "method": "POST",
                    "source_ip": "127.0.0.1",
                    "headers": headers,
                    "query": "",
                    "body": body,
                    "received_at": utcnow(),
                    "verdict": "pending",
                    "outcome": "applying failed; will be retried",
                },
            )

    server.call(store())
    return notification_id


def audited(server: LiveServer, object_id: str) -> list[audit.Entry]:
    found, _ = server.call(audit.list_entries(server.ctx, object_id=object_id))
    return found


def test_every_time_on_the_list_is_in_one_zone_and_says_which(
    admin_server: LiveServer, viewer: Visitor, shop: ShopSetup, api: httpx.Client
) -> None:
    """A notification for a known shop and one for a shop name that does not exist: both
    in the page's zone (the shops' common zone, else UTC), not one in the shop's and the
    other in UTC."""
    body, headers = sandbox_notification(shop.secret, create_payment(api), "succeeded")
    known = hook(admin_server, shop, body, headers)
    nowhere = f"gone-{secrets.token_hex(4)}"
    httpx.post(f"{admin_server.url}/hooks/sandbox/{nowhere}", content=b"{}")
    (stray,) = stored_notifications(admin_server, nowhere)
    zone = common_zone(admin_server.call(shops.list_shops(admin_server.ctx)), None)
    received = {
        row["id"]: row["received_at"] for row in stored_notifications(admin_server, shop.name)
    }
    received[stray["id"]] = stray["received_at"]

    page = viewer.get("/admin/notifications", params={"provider": "sandbox"})
    for notification_id in (known, stray["id"]):
        row = re.search(rf"<tr>(?:(?!</tr>).)*{notification_id}.*?</tr>", page.text, re.S)
        assert row, notification_id
        shown = format_time(received[notification_id], zone, short=True, locale="en")
        assert f">{shown}</td>" in row.group(0), (notification_id, zone)
    assert f"Times are in {zone}" in text_of(page.text)
    one = viewer.get(f"/admin/notifications/{stray['id']}")
    assert format_time(stray["received_at"], zone, locale="en") in text_of(one.text)
    assert f"Times are in {zone}" in text_of(one.text)
    audit_page = viewer.get("/admin/audit")
    assert f"Times are in {zone}" in text_of(audit_page.text)


def test_every_role_sees_the_inbox_and_a_notification_redacted_and_escaped(
    admin_server: LiveServer,
    *,
    shop: ShopSetup,
    api: httpx.Client,
    owner: Visitor,
    operator: Visitor,
    viewer: Visitor,
) -> None:
    payment = create_payment(api, amount=2500)
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    accepted = hook(admin_server, shop, body, headers)
    rejected = hook(
        admin_server, shop, b"<script>alert(1)</script>", {"x-sandbox-signature": "wrong"}
    )
    for client in (owner, operator, viewer):
        listing = client.get(f"/admin/notifications?shop={shop.name}")
        assert listing.status_code == 200
        assert 'href="/admin/notifications"' in listing.text  # in the menu
        assert accepted in listing.text
        assert rejected in listing.text

        page = client.get(f"/admin/notifications/{accepted}")
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Accepted" in text
        assert "Pending → Succeeded" in text
        assert f'href="/admin/payments/{payment["id"]}"' in page.text
        assert '"status": "succeeded"' in text  # the JSON body, indented
        assert "[redacted]" in text
        assert "very-secret-token-42" not in page.text

        bad = client.get(f"/admin/notifications/{rejected}")
        assert "Rejected" in text_of(bad.text)
        assert "<script>alert(1)</script>" not in bad.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bad.text
        assert "Re-process…" not in bad.text


def test_filters_narrow_the_list_and_unreadable_ones_are_named(
    admin_server: LiveServer, shop: ShopSetup, api: httpx.Client, viewer: Visitor
) -> None:
    payment = create_payment(api, amount=2500)
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    accepted = hook(admin_server, shop, body, headers)
    rejected = hook(admin_server, shop, b"{}", {"x-sandbox-signature": "wrong"})

    only_rejected = viewer.get(f"/admin/notifications?shop={shop.name}&verdict=rejected")
    assert rejected in only_rejected.text
    assert accepted not in only_rejected.text
    # The inbox reads its dates on the shop's clock, not UTC's (they differ at night).
    today = utcnow().astimezone(ZoneInfo(shop.shop.timezone)).date().isoformat()
    dated = viewer.get(
        f"/admin/notifications?shop={shop.name}&provider=sandbox&from={today}&to={today}"
    )
    assert rejected in dated.text
    assert accepted in dated.text
    past = viewer.get(f"/admin/notifications?shop={shop.name}&to=2001-01-01")
    assert accepted not in past.text
    assert "No notifications match these filters." in text_of(past.text)

    unreadable = viewer.get("/admin/notifications?verdict=great&from=yesterday&shop=nope")
    assert unreadable.status_code == 422
    text = text_of(unreadable.text)
    assert "There is no such shop." in text
    assert "Enter dates as YYYY-MM-DD." in text


def listed(html: str) -> list[str]:
    """The notification ids a list page links to, in order."""
    return re.findall(r'href="/admin/notifications/(ntf_[a-z0-9]+)"', html)


def test_pages_of_the_inbox(admin_server: LiveServer, shop: ShopSetup, viewer: Visitor) -> None:
    made = [
        hook(admin_server, shop, f'{{"n": {n}}}'.encode(), {"x-sandbox-signature": "x"})
        for n in range(3)
    ]
    original = inbox.PAGE_SIZE
    inbox.PAGE_SIZE = 2
    try:
        first = viewer.get(f"/admin/notifications?shop={shop.name}")
        assert listed(first.text) == [made[2], made[1]]
        second = viewer.get(f"/admin/notifications?shop={shop.name}&before={made[1]}")
        assert listed(second.text) == [made[0]]
        assert "← Newest" in second.text
    finally:
        inbox.PAGE_SIZE = original


def test_an_operator_reprocesses_a_pending_notification(
    admin_server: LiveServer, shop: ShopSetup, api: httpx.Client, operator: Visitor
) -> None:
    payment = create_payment(api, amount=2500)
    waiting = pending(admin_server, shop, payment)
    page = operator.get(f"/admin/notifications/{waiting}")
    assert "Waiting to be applied" in text_of(page.text)
    assert f'href="/admin/notifications/{waiting}/reprocess"' in page.text

    confirm = operator.get(f"/admin/notifications/{waiting}/reprocess")
    assert confirm.status_code == 200
    assert "Re-process the notification?" in text_of(confirm.text)
    done = operator.submit(f"/admin/notifications/{waiting}/reprocess")
    assert done.status_code == 303
    result = operator.get(done.headers["location"])
    assert "Re-processed. The notification is now: Accepted" in text_of(result.text)
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "succeeded"
    (entry,) = audited(admin_server, waiting)
    assert (entry.action, entry.outcome, entry.shop_id) == (
        "notification.reprocess",
        "accepted",
        shop.shop.id,
    )

    again = operator.submit(f"/admin/notifications/{waiting}/reprocess")
    assert again.status_code == 409
    assert "Only a notification waiting to be applied" in text_of(again.text)
    assert [e.outcome for e in audited(admin_server, waiting)] == [
        "refused: it is accepted",
        "accepted",
    ]


def test_a_viewer_cannot_reprocess(
    admin_server: LiveServer, shop: ShopSetup, api: httpx.Client, viewer: Visitor
) -> None:
    waiting = pending(admin_server, shop, create_payment(api, amount=2500))
    page = viewer.get(f"/admin/notifications/{waiting}")
    assert "Re-process…" not in page.text
    assert viewer.get(f"/admin/notifications/{waiting}/reprocess").status_code == 403
    token = viewer.token("/admin/notifications")
    refused = viewer.post(f"/admin/notifications/{waiting}/reprocess", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "Waiting to be applied" in text_of(viewer.get(f"/admin/notifications/{waiting}").text)
    assert audited(admin_server, waiting) == []


def test_reprocess_needs_the_csrf_token_and_unknown_ids_are_404(
    admin_server: LiveServer, shop: ShopSetup, api: httpx.Client, owner: Visitor
) -> None:
    waiting = pending(admin_server, shop, create_payment(api, amount=2500))
    forged = owner.post(f"/admin/notifications/{waiting}/reprocess", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert "This form has expired" in forged.text
    assert audited(admin_server, waiting) == []
    assert owner.get("/admin/notifications/ntf_nope").status_code == 404
    assert owner.get("/admin/notifications/ntf_nope/reprocess").status_code == 404
    missing = owner.submit("/admin/notifications", "/admin/notifications/ntf_nope/reprocess")
    assert missing.status_code == 404
    assert "Notification not found" in missing.text


def test_signatures_are_never_shown_not_even_from_rows_stored_before(
    admin_server: LiveServer,
    shop: ShopSetup,
    api: httpx.Client,
    owner: Visitor,
    viewer: Visitor,
) -> None:
    """A signature and its body are all it takes to send a notification again: nobody sees
    one, read-only viewers included, whether the row was stored now (redacted) or before
    (a row of an older Kassa, with the signature in the clear)."""
    payment = create_payment(api, amount=2500)
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    accepted = hook(admin_server, shop, body, headers)
    (stored,) = [r for r in stored_notifications(admin_server, shop.name) if r["id"] == accepted]
    assert stored["headers"]["x-sandbox-signature"] == "[redacted]"
    old_headers = {
        "content-type": "application/json",
        "x-sandbox-signature": "0f" * 32,
        "content-hmac": "b2xkLXNpZ25hdHVyZQ==",
        "x-content-hmac": "b2xkLWRlY29kZWQtc2lnbmF0dXJl",
    }
    old = pending(admin_server, shop, payment, old_headers)
    secrets = [headers["x-sandbox-signature"], *list(old_headers.values())[1:]]
    for client in (viewer, owner):
        for url in (
            f"/admin/notifications/{accepted}",
            f"/admin/notifications/{old}",
            f"/admin/payments/{payment['id']}",
        ):
            page = client.get(url)
            assert page.status_code == 200, url
            assert "[redacted]" in page.text
            assert "application/json" in page.text  # the other headers are still shown
            for secret in secrets:
                assert secret not in page.text, (url, secret)


def test_a_rejected_notification_shows_what_was_kept_of_its_body(
    admin_server: LiveServer, shop: ShopSetup, viewer: Visitor
) -> None:
    body = b"<" + b"x" * 9999
    rejected = hook(admin_server, shop, body, {"x-sandbox-signature": "wrong"})
    page = viewer.get(f"/admin/notifications/{rejected}")
    text = text_of(page.text)
    assert "Only the first 4096 of its 10000 bytes were kept" in text
    assert "&lt;" + "x" * 4095 + "</pre>" in page.text
