"""The webhook pages: endpoints, an endpoint's deliveries with their attempts, and resending
a delivery's event, for each role; secrets never shown."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from kassa.services.admin import audit
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from kassa.services.webhooks.deliveries import Delivery
from kassa.services.webhooks.endpoints import Endpoint, Operator
from kassa.store.tables import events
from tests.admin.conftest import Visitor, text_of
from tests.helpers import ShopSetup, create_payment, make_shop
from tests.live import LiveServer

#: Nothing listens here: each attempt fails at once, and is recorded with its error.
NOWHERE = "http://127.0.0.1:9/kassa-hook"


@pytest.fixture
def shop(admin_server: LiveServer) -> ShopSetup:
    return make_shop(admin_server)


@pytest.fixture
def api(admin_server: LiveServer, shop: ShopSetup) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {shop.key}"}
    with httpx.Client(base_url=admin_server.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def endpoint(admin_server: LiveServer, shop: ShopSetup) -> Endpoint:
    made, _ = admin_server.call(
        webhooks.create_endpoint(
            admin_server.ctx,
            shop_id=shop.shop.id,
            test=True,
            url=NOWHERE,
            events=["payment.*"],
            description="orders <b>backend</b>",
        )
    )
    return made


@pytest.fixture
def delivery(admin_server: LiveServer, api: httpx.Client, endpoint: Endpoint) -> Delivery:
    """A delivery of a payment.created event to the endpoint, its one attempt failed."""
    payment = create_payment(api, amount=2500)

    async def event_id() -> str:
        query = select(events.c.id).where(events.c.payment_id == payment["id"])
        async with admin_server.ctx.db.read() as conn:
            return str((await conn.execute(query)).scalars().first())

    (made,) = admin_server.call(
        webhook_sending.resend(
            admin_server.ctx,
            scope=Operator(),
            event_id=admin_server.call(event_id()),
            endpoint_id=endpoint.id,
        )
    )
    return made


def audited(server: LiveServer, object_id: str) -> list[audit.Entry]:
    found, _ = server.call(audit.list_entries(server.ctx, object_id=object_id))
    return found


def test_every_role_sees_endpoints_and_attempts_but_never_the_secret(
    admin_server: LiveServer,
    *,
    shop: ShopSetup,
    endpoint: Endpoint,
    delivery: Delivery,
    owner: Visitor,
    operator: Visitor,
    viewer: Visitor,
) -> None:
    for client in (owner, operator, viewer):
        listing = client.get(f"/admin/webhooks?shop={shop.name}")
        assert listing.status_code == 200
        assert f'href="/admin/webhooks/{endpoint.id}"' in listing.text
        text = text_of(listing.text)
        assert NOWHERE in text
        assert "payment.*" in text
        assert "Enabled" in text

        page = client.get(f"/admin/webhooks/{endpoint.id}")
        assert page.status_code == 200
        text = text_of(page.text)
        assert delivery.id in text
        assert delivery.event_id in text
        assert "Failed" in text
        assert " ms" in text
        assert "&lt;b&gt;backend&lt;/b&gt;" in page.text
        secret = admin_server.ctx.keyring.decrypt(endpoint.encrypted_secret)
        for shown in (page.text, listing.text):
            assert secret not in shown
            assert endpoint.encrypted_secret not in shown
        resend_link = f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/resend"
        assert (resend_link in page.text) == (client is not viewer)


def test_an_operator_resends_a_delivery(
    admin_server: LiveServer, endpoint: Endpoint, delivery: Delivery, operator: Visitor
) -> None:
    url = f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/resend"
    confirm = operator.get(url)
    assert confirm.status_code == 200
    assert "Send the event again?" in text_of(confirm.text)
    done = operator.submit(url)
    assert done.status_code == 303
    made = re.search(r"resent=(wd_[a-z0-9]+)", done.headers["location"])
    assert made
    page = operator.get(done.headers["location"])
    assert f"The event was sent again as delivery {made.group(1)}" in text_of(page.text)
    assert f'id="{made.group(1)}"' in page.text
    (entry,) = audited(admin_server, delivery.id)
    assert (entry.action, entry.shop_id) == ("delivery.resend", endpoint.shop_id)
    assert entry.details["delivery"] == made.group(1)
    assert entry.outcome in {"pending", "failed"}


def test_resending_to_a_disabled_endpoint_is_refused_and_audited(
    admin_server: LiveServer, endpoint: Endpoint, delivery: Delivery, owner: Visitor
) -> None:
    admin_server.call(
        webhooks.update_endpoint(
            admin_server.ctx, scope=Operator(), endpoint_id=endpoint.id, enabled=False
        )
    )
    assert "Disabled: Disabled by the shop" in text_of(owner.get("/admin/webhooks").text)
    refused = owner.submit(f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/resend")
    assert refused.status_code == 409
    assert "enable it first" in text_of(refused.text)
    (entry,) = audited(admin_server, delivery.id)
    assert entry.outcome is not None
    assert entry.outcome.startswith("refused:")


def test_a_viewer_cannot_resend(
    admin_server: LiveServer, endpoint: Endpoint, delivery: Delivery, viewer: Visitor
) -> None:
    url = f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/resend"
    assert viewer.get(url).status_code == 403
    refused = viewer.post(url, data={"csrf_token": viewer.token("/admin/webhooks")})
    assert refused.status_code == 403
    assert audited(admin_server, delivery.id) == []


def test_resend_needs_the_csrf_token_and_unknown_ids_are_404(
    admin_server: LiveServer, endpoint: Endpoint, delivery: Delivery, owner: Visitor
) -> None:
    url = f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/resend"
    forged = owner.post(url, data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert "This form has expired" in forged.text
    assert audited(admin_server, delivery.id) == []
    assert owner.get("/admin/webhooks/we_nope").status_code == 404
    assert owner.get(f"/admin/webhooks/{endpoint.id}/deliveries/wd_nope/resend").status_code == 404
    assert owner.get(f"/admin/webhooks/we_nope/deliveries/{delivery.id}/resend").status_code == 404
    assert owner.get("/admin/webhooks?shop=no-such-shop").status_code == 404


def test_empty_states(admin_server: LiveServer, shop: ShopSetup, viewer: Visitor) -> None:
    none = viewer.get(f"/admin/webhooks?shop={shop.name}")
    assert "No webhook endpoints yet." in text_of(none.text)
    made, _ = admin_server.call(
        webhooks.create_endpoint(admin_server.ctx, shop_id=shop.shop.id, test=True, url=NOWHERE)
    )
    quiet = viewer.get(f"/admin/webhooks/{made.id}")
    assert "Nothing was sent to this endpoint yet." in text_of(quiet.text)
