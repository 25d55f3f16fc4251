"""Deliveries as a merchant sees them: signed Standard Webhooks requests, verified by the
independent `standardwebhooks` package (also through a secret rotation), carrying exactly
the event object of the API; event filters; disabled and deleted endpoints; resend."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from kassa.services.context import Context
from tests.helpers import checkout, create_payment, later, make_shop
from tests.live import LiveServer
from tests.webhooks.conftest import Hooks, parse_time
from tests.webhooks.receiver import Receiver, verifies


def test_a_delivery_is_signed_and_carries_the_event_object(
    hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.*"])
    receiver.secrets["/kassa"] = [endpoint["secret"]]
    payment = create_payment(api, description="Кофе ☕")
    assert hooks.run() >= 2  # one delivery made, one attempt

    (received,) = receiver.on("/kassa")
    assert received.verified == {endpoint["secret"]: True}
    (event,) = hooks.events(payment=payment["id"])
    assert received.event == event  # exactly the API's event object
    assert received.event["data"]["object"]["description"] == "Кофе ☕"
    assert received.headers["webhook-id"] == event["id"]
    assert received.headers["content-type"] == "application/json"
    assert received.signatures[0].startswith("v1,")
    assert (
        abs(
            int(received.headers["webhook-timestamp"]) - parse_time(event["created_at"]).timestamp()
        )
        < 60
    )

    (delivery,) = hooks.deliveries(endpoint["id"])
    assert (delivery["event"], delivery["status"], delivery["manual"]) == (
        event["id"],
        "succeeded",
        False,
    )
    (attempt,) = delivery["attempts"]
    assert (attempt["succeeded"], attempt["status_code"], attempt["error"]) == (True, 200, None)
    assert attempt["response_body"] == "answer 0: 200"
    assert attempt["latency_ms"] >= 0
    assert delivery["next_attempt_at"] is None
    hooks.run()
    assert len(receiver.requests) == 1  # delivered once


def test_a_tampered_delivery_fails_verification(
    hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    endpoint = hooks.create(receiver.url + "/kassa")
    create_payment(api)
    hooks.run()
    (received,) = receiver.requests
    assert verifies(endpoint["secret"], received.body, received.headers)
    forged = json.loads(received.body)
    forged["data"]["object"]["amount"] = 1
    tampered = json.dumps(forged, separators=(",", ":"), ensure_ascii=False).encode()
    assert not verifies(endpoint["secret"], tampered, received.headers)
    other = hooks.create(receiver.url + "/other")
    assert not verifies(other["secret"], received.body, received.headers)


def test_both_secrets_sign_during_a_rotation(
    hooks: Hooks, receiver: Receiver, api: httpx.Client, server: LiveServer
) -> None:
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.created"])
    first = endpoint["secret"]
    rotate = f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret"
    second = api.post(rotate, json={"overlap": 3600}).json()["secret"]
    # The receiver has switched to the new secret; the old one still works too.
    receiver.secrets["/kassa"] = [first, second]
    create_payment(api)
    hooks.run()
    received = receiver.requests[-1]
    assert len(received.signatures) == 2
    assert received.verified == {first: True, second: True}

    # Without an overlap the old secret stops at once (and the one before it with it).
    third = api.post(rotate, json={"overlap": 0}).json()["secret"]
    receiver.secrets["/kassa"] = [first, second, third]
    create_payment(api)
    hooks.run()
    received = receiver.requests[-1]
    assert len(received.signatures) == 1
    assert received.verified == {first: False, second: False, third: True}

    # An overlap ends when its time is up (two minutes on: still within the receiver's
    # five-minute tolerance of the timestamp).
    fourth = api.post(rotate, json={"overlap": 60}).json()["secret"]
    receiver.secrets["/kassa"] = [third, fourth]
    create_payment(api)
    hooks.run(later(server, timedelta(minutes=2)))
    received = receiver.requests[-1]
    assert received.verified == {third: False, fourth: True}
    assert len(receiver.requests) == 3
    assert {r.path for r in receiver.requests} == {"/kassa"}


def test_event_filters_pick_what_each_endpoint_gets(
    hooks: Hooks, receiver: Receiver, api: httpx.Client, server: LiveServer
) -> None:
    filters = {
        "/all": ["*"],
        "/payments": ["payment.*"],
        "/refunds": ["refund.*"],
        "/paid": ["payment.succeeded", "refund.succeeded"],
        "/canceled": ["payment.canceled"],
    }
    for path, events in filters.items():
        hooks.create(receiver.url + path, events=events)
    hooks.create(receiver.url + "/disabled", events=["*"], enabled=False)
    payment = create_payment(api, amount=5000)
    checkout(server, payment, "pay")
    assert api.post("/v1/refunds", json={"payment": payment["id"], "amount": 1000}).is_success
    hooks.run()

    happened = list(reversed(hooks.events()))
    types = [e["type"] for e in happened]
    assert {"payment.created", "payment.succeeded", "refund.succeeded"} <= set(types)

    def expected(*wanted: str) -> set[str]:
        return {e["id"] for e in happened if any(e["type"].startswith(w) for w in wanted)}

    assert set(receiver.event_ids("/all")) == expected("")
    assert set(receiver.event_ids("/payments")) == expected("payment.")
    assert set(receiver.event_ids("/refunds")) == expected("refund.")
    assert set(receiver.event_ids("/paid")) == expected("payment.succeeded", "refund.succeeded")
    assert receiver.event_ids("/canceled") == []
    assert receiver.event_ids("/disabled") == []
    assert len(receiver.event_ids("/all")) == len(set(receiver.event_ids("/all")))


def test_an_endpoint_gets_only_its_own_shops_events_made_after_it(
    hooks: Hooks, receiver: Receiver, api: httpx.Client, server: LiveServer
) -> None:
    before = create_payment(api)
    hooks.create(receiver.url + "/kassa")
    other = make_shop(server)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {other.key}"}
    ) as stranger:
        create_payment(stranger)
    after = create_payment(api)
    hooks.run()
    ids = {r.event["data"]["object"]["id"] for r in receiver.requests}
    assert ids == {after["id"]}
    assert before["id"] not in ids


def test_disabled_and_deleted_endpoints_get_nothing(
    hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    disabled = hooks.create(receiver.url + "/disabled")
    deleted = hooks.create(receiver.url + "/deleted")
    receiver.answer = lambda _path, _n: 500
    create_payment(api)
    hooks.run()
    assert len(receiver.requests) == 2
    api.post(f"/v1/webhook_endpoints/{disabled['id']}", json={"enabled": False})
    api.delete(f"/v1/webhook_endpoints/{deleted['id']}")
    receiver.answer = lambda _path, _n: 200
    create_payment(api)
    hooks.run()
    hooks.run(later_than_every_retry(hooks))
    assert len(receiver.requests) == 2
    # Its pending retry is kept, and resumes once it is enabled again.
    (pending,) = hooks.deliveries(disabled["id"])
    assert pending["status"] == "pending"
    api.post(f"/v1/webhook_endpoints/{disabled['id']}", json={"enabled": True})
    hooks.run(later_than_every_retry(hooks))
    assert receiver.event_ids("/disabled") == [pending["event"]] * 2
    assert hooks.deliveries(disabled["id"])[0]["status"] == "succeeded"


def later_than_every_retry(hooks: Hooks) -> Context:
    """A context whose clock is past the first retry of anything failed just now."""
    return later(hooks.server, timedelta(seconds=10))


def test_resend_sends_an_event_again_now(
    hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    subscribed = hooks.create(receiver.url + "/payments", events=["payment.*"])
    refunds_only = hooks.create(receiver.url + "/refunds", events=["refund.*"])
    payment = create_payment(api)
    hooks.run()
    (event,) = hooks.events(payment=payment["id"])

    answer = api.post(f"/v1/events/{event['id']}/resend")
    assert answer.status_code == 200, answer.text
    (resent,) = answer.json()["data"]
    assert (resent["endpoint"], resent["event"], resent["manual"], resent["status"]) == (
        subscribed["id"],
        event["id"],
        True,
        "succeeded",
    )
    assert [a["status_code"] for a in resent["attempts"]] == [200]
    assert receiver.event_ids("/payments") == [event["id"]] * 2
    assert receiver.on("/payments")[1].body == receiver.on("/payments")[0].body

    # To a named endpoint, whatever its filter.
    answer = api.post(f"/v1/events/{event['id']}/resend", json={"endpoint": refunds_only["id"]})
    assert answer.status_code == 200, answer.text
    assert receiver.event_ids("/refunds") == [event["id"]]
    assert len(hooks.deliveries(subscribed["id"])) == 2
    hooks.run()
    assert len(receiver.requests) == 3


def test_a_failed_resend_is_retried(hooks: Hooks, receiver: Receiver, api: httpx.Client) -> None:
    endpoint = hooks.create(receiver.url + "/kassa")
    payment = create_payment(api)
    (event,) = hooks.events(payment=payment["id"])
    receiver.answer = lambda _path, n: 502 if n == 0 else 200
    (resent,) = api.post(f"/v1/events/{event['id']}/resend").json()["data"]
    assert resent["status"] == "pending"
    assert resent["attempts"][0]["status_code"] == 502
    assert resent["attempts"][0]["response_body"] == "answer 0: 502"
    first = parse_time(resent["attempts"][0]["attempted_at"])
    assert timedelta(seconds=4) <= parse_time(resent["next_attempt_at"]) - first
    hooks.run(later_than_every_retry(hooks))
    manual = [d for d in hooks.deliveries(endpoint["id"]) if d["manual"]]
    assert [a["status_code"] for a in manual[0]["attempts"]] == [502, 200]


def test_resend_errors(
    hooks: Hooks, receiver: Receiver, api: httpx.Client, server: LiveServer
) -> None:
    endpoint = hooks.create(receiver.url + "/kassa", events=["refund.*"])
    payment = create_payment(api)
    (event,) = hooks.events(payment=payment["id"])
    resend = f"/v1/events/{event['id']}/resend"

    nobody = api.post(resend)
    assert nobody.status_code == 409
    assert nobody.json()["error"]["code"] == "no_webhook_endpoint"
    unknown = api.post("/v1/events/evt_nope/resend")
    assert (unknown.status_code, unknown.json()["error"]["param"]) == (404, "event")
    missing = api.post(resend, json={"endpoint": "we_nope"})
    assert (missing.status_code, missing.json()["error"]["param"]) == (404, "endpoint")
    api.post(f"/v1/webhook_endpoints/{endpoint['id']}", json={"enabled": False})
    disabled = api.post(resend, json={"endpoint": endpoint["id"]})
    assert (disabled.status_code, disabled.json()["error"]["code"]) == (409, "endpoint_disabled")

    other = make_shop(server)
    headers = {"Authorization": f"Bearer {other.key}"}
    with httpx.Client(base_url=server.url, headers=headers) as stranger:
        theirs = stranger.post("/v1/webhook_endpoints", json={"url": receiver.url + "/x"}).json()
        # Neither their key on our event, nor our event to their endpoint.
        assert stranger.post(resend).status_code == 404
        crossed = api.post(resend, json={"endpoint": theirs["id"]})
        assert crossed.status_code == 404
        stranger.delete(f"/v1/webhook_endpoints/{theirs['id']}")
    assert receiver.requests == []
    assert hooks.deliveries(endpoint["id"]) == []
