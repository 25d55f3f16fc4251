"""A merchant's app with the client: endpoints, deliveries checked by `verify_webhook`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kassa.client import Kassa, NotFoundError, WebhookVerificationError, verify_webhook
from kassa.services.webhooks import sending as webhook_sending
from tests.helpers import ShopSetup, checkout
from tests.live import LiveServer
from tests.webhooks.receiver import Receiver, serve


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    yield from serve(Receiver())


def test_events_reach_the_merchant_signed_and_verifiable(
    server: LiveServer, shop: ShopSetup, receiver: Receiver
) -> None:
    with Kassa(shop.key, server.url) as kassa:
        endpoint = kassa.webhook_endpoints.create(
            f"{receiver.url}/{shop.name}", events=["payment.*"], description="orders"
        )
        assert endpoint.secret is not None
        assert endpoint.secret.startswith("whsec_")
        assert kassa.webhook_endpoints.get(endpoint.id).secret is None  # shown once

        payment = kassa.payments.create(amount=5000, currency="RUB")
        checkout(server, payment.raw, "pay")
        server.call(webhook_sending.dispatch(server.ctx))
        received = [r for r in receiver.requests if r.path == f"/{shop.name}"]
        events = [verify_webhook(r.body, r.headers, endpoint.secret) for r in received]
        assert sorted(event.type for event in events) == ["payment.created", "payment.succeeded"]
        assert {event.object["id"] for event in events} == {payment.id}

        rotated = kassa.webhook_endpoints.rotate_secret(endpoint.id, overlap=0)
        assert rotated.secret is not None
        assert rotated.secret != endpoint.secret
        (resent,) = kassa.events.resend(events[0].id, endpoint=endpoint.id).data
        assert resent["status"] == "succeeded"
        last = receiver.requests[-1]
        assert verify_webhook(last.body, last.headers, rotated.secret).id == events[0].id
        with pytest.raises(WebhookVerificationError):
            verify_webhook(last.body, last.headers, endpoint.secret)

        paused = kassa.webhook_endpoints.update(endpoint.id, enabled=False)
        assert not paused.enabled
        kassa.webhook_endpoints.delete(endpoint.id)
        assert endpoint.id not in [e.id for e in kassa.webhook_endpoints.list().data]
        with pytest.raises(NotFoundError):
            kassa.webhook_endpoints.get(endpoint.id)
