"""Idempotency-Key: the same key and body replay; a different body is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import NoReturn

import httpx
import pytest
from sqlalchemy import select

from kassa.domain import IdempotencyKeyInUse
from kassa.services import idempotency
from kassa.services.context import utcnow
from kassa.services.events import outbox
from kassa.services.idempotency import Answer, KeyRef
from kassa.services.shops import shops
from kassa.store.tables import events, idempotency_keys, payments
from kassa.web.routes import payments as payment_routes
from tests.helpers import ShopSetup, checkout, create_payment, make_shop
from tests.live import LiveServer

BODY = {"amount": 990, "currency": "RUB"}


def post(api: httpx.Client, path: str, body: object, key: str) -> httpx.Response:
    return api.post(path, json=body, headers={"Idempotency-Key": key})


def test_same_key_same_body_replays_the_first_answer(api: httpx.Client) -> None:
    first = post(api, "/v1/payments", BODY, "k1")
    second = post(api, "/v1/payments", {"currency": "RUB", "amount": 990}, "k1")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(api.get("/v1/payments").json()["data"]) == 1


def test_same_key_different_body_is_refused(api: httpx.Client) -> None:
    post(api, "/v1/payments", BODY, "k2")
    response = post(api, "/v1/payments", {**BODY, "amount": 991}, "k2")
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("idempotency_key_reused", "Idempotency-Key")
    same_body_other_path = post(api, "/v1/refunds", BODY, "k2")
    assert same_body_other_path.status_code in (409, 422)


def test_keys_belong_to_one_shop(api: httpx.Client, server: LiveServer) -> None:
    mine = post(api, "/v1/payments", BODY, "shared")
    other = make_shop(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {other.key}"}) as c:
        theirs = post(c, "/v1/payments", BODY, "shared")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]


def test_an_error_answer_is_replayed_too(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api)
    refused = post(api, "/v1/refunds", {"payment": payment["id"]}, "early")
    assert refused.status_code == 409
    checkout(server, payment, "pay")
    replayed = post(api, "/v1/refunds", {"payment": payment["id"]}, "early")
    assert (replayed.status_code, replayed.content) == (409, refused.content)


def test_invalid_request_is_not_stored(api: httpx.Client) -> None:
    assert post(api, "/v1/payments", {"amount": "x"}, "fixme").status_code == 422
    assert post(api, "/v1/payments", BODY, "fixme").status_code == 201


def test_bad_key_is_refused(api: httpx.Client) -> None:
    response = post(api, "/v1/payments", BODY, "k" * 256)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "Idempotency-Key"


def test_capture_and_refund_replay(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api, amount=1000, capture=False)
    checkout(server, payment, "authorize")
    path = f"/v1/payments/{payment['id']}/capture"
    first = post(api, path, {"amount": 500}, "cap")
    assert post(api, path, {"amount": 500}, "cap").content == first.content
    refund = post(api, "/v1/refunds", {"payment": payment["id"], "amount": 100}, "ref")
    again = post(api, "/v1/refunds", {"payment": payment["id"], "amount": 100}, "ref")
    assert again.json()["id"] == refund.json()["id"]
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 100


def test_provider_outage_leaves_nothing_and_the_retry_reuses_the_reserved_id(
    api: httpx.Client, server: LiveServer, shop: ShopSetup
) -> None:
    def point_sandbox_at(url: str) -> None:
        server.call(
            shops.configure_provider(
                server.ctx, shop=shop.shop, provider="sandbox", settings={"api_url": url}
            )
        )

    point_sandbox_at("http://127.0.0.1:9/sandbox/api")  # nothing listens there
    outage = post(api, "/v1/payments", BODY, "outage")
    assert outage.status_code == 502
    assert outage.json()["error"]["code"] == "provider_unavailable"
    assert api.get("/v1/payments").json()["data"] == []

    async def reserved() -> str:
        query = select(idempotency_keys.c.resource_id, idempotency_keys.c.state).where(
            idempotency_keys.c.shop_id == shop.shop.id, idempotency_keys.c.key == "outage"
        )
        async with server.ctx.db.read() as conn:
            resource_id, state = (await conn.execute(query)).one()
        assert state == "retryable"
        return str(resource_id)

    reserved_id = server.call(reserved())
    point_sandbox_at("")
    retry = post(api, "/v1/payments", BODY, "outage")
    assert retry.status_code == 201
    assert retry.json()["id"] == reserved_id


def test_keys_expire_after_their_lifetime(server: LiveServer, shop: ShopSetup) -> None:
    ref = KeyRef(shop_id=shop.shop.id, test=True, key="old")
    first = server.call(idempotency.claim(server.ctx, ref, request_hash="a", prefix="pay"))
    ttl = timedelta(hours=server.settings.idempotency_ttl_hours, minutes=1)
    later = replace(server.ctx, clock=lambda: utcnow() + ttl)
    # Past its lifetime a key is a new request, even with a different body.
    second = server.call(idempotency.claim(later, ref, request_hash="b", prefix="pay"))
    assert second.resource_id != first.resource_id
    assert server.call(idempotency.prune(server.ctx)) == 0
    much_later = replace(server.ctx, clock=lambda: utcnow() + 2 * ttl)
    assert server.call(idempotency.prune(much_later)) >= 1


def test_pruning_forgets_expired_keys_a_batch_at_a_time(
    server: LiveServer, shop: ShopSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "PRUNE_BATCH", 2)
    for n in range(5):
        ref = KeyRef(shop_id=shop.shop.id, test=True, key=f"batch-{n}")
        server.call(idempotency.claim(server.ctx, ref, request_hash="a", prefix="pay"))
    ttl = timedelta(hours=server.settings.idempotency_ttl_hours, minutes=1)
    assert server.call(idempotency.prune(replace(server.ctx, clock=lambda: utcnow() + ttl))) >= 5

    async def kept() -> int:
        query = select(idempotency_keys.c.key).where(idempotency_keys.c.shop_id == shop.shop.id)
        async with server.ctx.db.read() as conn:
            return len((await conn.execute(query)).all())

    assert server.call(kept()) == 0


def _stored(server: LiveServer, shop: ShopSetup, key: str) -> tuple[int, int, str]:
    """The shop's payments and events, and the state of its key `key`."""

    async def read() -> tuple[int, int, str]:
        async with server.ctx.db.read() as conn:
            made = (
                await conn.execute(select(payments.c.id).where(payments.c.shop_id == shop.shop.id))
            ).all()
            written = (
                await conn.execute(select(events.c.id).where(events.c.shop_id == shop.shop.id))
            ).all()
            state = (
                await conn.execute(
                    select(idempotency_keys.c.state).where(
                        idempotency_keys.c.shop_id == shop.shop.id, idempotency_keys.c.key == key
                    )
                )
            ).scalar_one()
        return len(made), len(written), str(state)

    return server.call(read())


@pytest.mark.parametrize(
    "fails", ["after the payment's insert", "after the service returned", "storing the answer"]
)
def test_the_payment_its_event_and_the_answer_commit_together(
    api: httpx.Client,
    server: LiveServer,
    shop: ShopSetup,
    monkeypatch: pytest.MonkeyPatch,
    fails: str,
) -> None:
    def broken(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("the process failed here")

    if fails == "after the payment's insert":
        # The payment's row is written; the event, in the same transaction, fails.
        monkeypatch.setattr(outbox, "record", broken)
    elif fails == "after the service returned":
        # Everything is written; shaping the answer fails before it is stored.
        monkeypatch.setattr(payment_routes, "payment_object", broken)
    else:
        monkeypatch.setattr(idempotency, "_store", broken)
    failed = post(api, "/v1/payments", BODY, "together")
    assert failed.status_code == 500
    assert _stored(server, shop, "together") == (0, 0, "retryable")

    monkeypatch.undo()
    made = post(api, "/v1/payments", BODY, "together")
    assert made.status_code == 201
    assert _stored(server, shop, "together") == (1, 1, "done")
    assert post(api, "/v1/payments", BODY, "together").content == made.content


def test_a_request_that_lost_its_stale_claim_changes_nothing(
    server: LiveServer, shop: ShopSetup
) -> None:
    ref = KeyRef(shop_id=shop.shop.id, test=True, key="stale")
    slow = server.call(idempotency.claim(server.ctx, ref, request_hash="a", prefix="pay"))
    later = replace(server.ctx, clock=lambda: utcnow() + idempotency.STALE_CLAIM * 2)
    retry = server.call(idempotency.claim(later, ref, request_hash="a", prefix="pay"))
    assert retry.resource_id == slow.resource_id

    # The slow request finishes at last: it can neither store its answer nor reopen the key.
    with pytest.raises(IdempotencyKeyInUse):
        server.call(idempotency.complete(server.ctx, ref, Answer(201, b"slow"), claimed=slow))
    server.call(idempotency.release(server.ctx, ref, slow))
    server.call(idempotency.complete(later, ref, Answer(201, b"retry"), claimed=retry))
    again = server.call(idempotency.claim(server.ctx, ref, request_hash="a", prefix="pay"))
    assert again.replay == Answer(201, b"retry")
