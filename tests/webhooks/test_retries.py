"""Retries on an injected clock: the schedule and its jitter, a receiver that fails three
times, a delivery failing for three days, an endpoint failing for five (then disabled)."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest

from kassa.services.webhooks.deliveries import JITTER, RETRY_DELAYS, RETRY_EVERY, RETRY_FOR
from kassa.services.webhooks.recording import DISABLE_AFTER
from tests.helpers import create_payment
from tests.webhooks.conftest import Hooks, at, parse_time
from tests.webhooks.receiver import Receiver


def attempt_times(delivery: dict[str, Any]) -> list[datetime]:
    return [parse_time(a["attempted_at"]) for a in delivery["attempts"]]


def within_jitter(wait: timedelta, scheduled: timedelta) -> bool:
    return scheduled * (1 - JITTER) <= wait <= scheduled * (1 + JITTER)


def retry_when_due(hooks: Hooks, delivery: dict[str, Any]) -> dict[str, Any]:
    """Run the dispatcher just before the delivery's next attempt (nothing happens) and at it."""
    due = parse_time(delivery["next_attempt_at"])
    made = len(delivery["attempts"])
    hooks.run(at(hooks.server, due - timedelta(milliseconds=5)))
    (still,) = hooks.deliveries(delivery["endpoint"], event=delivery["event"])
    assert len(still["attempts"]) == made  # not before its time
    hooks.run(at(hooks.server, due))
    (after,) = hooks.deliveries(delivery["endpoint"], event=delivery["event"])
    assert len(after["attempts"]) == made + 1
    return after


def test_a_receiver_failing_three_times_gets_it_on_the_fourth(
    hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    receiver.answer = lambda _path, n: 503 if n < 3 else 200
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.created"])
    create_payment(api)
    hooks.run()
    (delivery,) = hooks.deliveries(endpoint["id"])
    for _ in range(3):
        assert delivery["status"] == "pending"
        delivery = retry_when_due(hooks, delivery)

    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 503, 503, 200]
    assert [a["succeeded"] for a in delivery["attempts"]] == [False, False, False, True]
    times = attempt_times(delivery)
    waits = [later - earlier for earlier, later in pairwise(times)]
    assert all(within_jitter(w, s) for w, s in zip(waits, RETRY_DELAYS, strict=False)), waits
    # The same event each time (one webhook-id), signed anew with each attempt's time.
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.headers["webhook-timestamp"] for r in receiver.requests}) == 4
    assert len({r.body for r in receiver.requests}) == 1
    hooks.run(at(hooks.server, times[-1] + timedelta(days=1)))
    assert len(receiver.requests) == 4
    assert hooks.get(endpoint["id"])["failing_since"] is None


def test_a_delivery_failing_for_three_days_fails_with_an_event(
    hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    receiver.answer = lambda path, _n: 200 if path == "/watcher" else 500
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.*"])
    watcher = hooks.create(receiver.url + "/watcher", events=["webhook_delivery.*"])
    create_payment(api)
    hooks.run()
    (delivery,) = hooks.deliveries(endpoint["id"])
    began = parse_time(delivery["created_at"])
    while delivery["status"] == "pending":
        delivery = retry_when_due(hooks, delivery)
        assert len(delivery["attempts"]) <= 12

    times = attempt_times(delivery)
    assert times[-1] - began <= RETRY_FOR
    # Standard Webhooks' eight tries (27.6 h), then every 12 h within the three days.
    assert len(times) in {11, 12}, len(times)
    waits = [later - earlier for earlier, later in pairwise(times)]
    scheduled = [*RETRY_DELAYS, *[RETRY_EVERY] * (len(waits) - len(RETRY_DELAYS))]
    assert all(within_jitter(w, s) for w, s in zip(waits, scheduled, strict=True)), waits
    assert delivery["next_attempt_at"] is None
    assert delivery["attempts"][-1]["response_body"].endswith("500")

    (failed,) = hooks.events(type="webhook_delivery.failed")
    assert failed["source"] == "system"
    assert failed["data"]["object"] == delivery
    # News of it goes (next round) to the other endpoint, not to the one that cannot take it.
    hooks.run(at(hooks.server, times[-1]))
    assert receiver.event_ids("/watcher") == [failed["id"]]
    assert failed["id"] not in receiver.event_ids("/kassa")
    assert len(receiver.on("/kassa")) == len(times)
    # Failing for three days is not yet five: still enabled.
    shown = hooks.get(endpoint["id"])
    assert shown["enabled"] is True
    assert parse_time(shown["failing_since"]) == times[0]
    assert hooks.get(watcher["id"])["failing_since"] is None


def test_an_endpoint_failing_everything_for_five_days_is_disabled(
    hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    receiver.answer = lambda path, _n: 200 if path == "/watcher" else 500
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.*"])
    hooks.create(receiver.url + "/watcher", events=["webhook_endpoint.disabled"])
    create_payment(api)
    hooks.run()
    failing_since = parse_time(hooks.get(endpoint["id"])["failing_since"])

    # Four days on, another event; its delivery is tried until the endpoint is disabled.
    create_payment(api)
    hooks.run(at(hooks.server, failing_since + timedelta(days=4)))
    deliveries = hooks.deliveries(endpoint["id"])
    newer = deliveries[0]
    assert len(newer["attempts"]) == 1
    while hooks.get(endpoint["id"])["enabled"]:
        assert attempt_times(newer)[-1] < failing_since + DISABLE_AFTER
        newer = retry_when_due(hooks, newer)

    disabled_at = attempt_times(newer)[-1]
    assert disabled_at >= failing_since + DISABLE_AFTER
    shown = hooks.get(endpoint["id"])
    assert "5 days" in shown["disabled_reason"]
    assert "HTTP 500" in shown["disabled_reason"]
    (event,) = hooks.events(type="webhook_endpoint.disabled")
    assert event["data"]["object"] == shown
    assert "secret" not in event["data"]["object"]
    hooks.run(at(hooks.server, disabled_at))
    assert receiver.event_ids("/watcher") == [event["id"]]

    # Disabled: nothing more is sent, retries included, and new events are not fanned out.
    sent = len(receiver.on("/kassa"))
    create_payment(api)
    hooks.run(at(hooks.server, disabled_at + timedelta(days=1)))
    assert len(receiver.on("/kassa")) == sent
    assert len(hooks.deliveries(endpoint["id"])) == 2

    # Enabled again (the shop fixed it): the pending delivery resumes, the record is cleared.
    receiver.answer = lambda _path, _n: 200
    enabled = api.post(f"/v1/webhook_endpoints/{endpoint['id']}", json={"enabled": True}).json()
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["failing_since"]) == (
        True,
        None,
        None,
    )
    hooks.run(at(hooks.server, disabled_at + timedelta(days=1)))
    assert hooks.deliveries(endpoint["id"])[0]["status"] == "succeeded"


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    hooks: Hooks, receiver: Receiver, api: httpx.Client, status: int
) -> None:
    receiver.answer = lambda path, _n: status if path == "/moved" else 200
    endpoint = hooks.create(receiver.url + "/moved")
    create_payment(api)
    hooks.run()
    (delivery,) = hooks.deliveries(endpoint["id"])
    assert [a["status_code"] for a in delivery["attempts"]] == [status]
    assert delivery["status"] == "pending"
    assert [r.path for r in receiver.requests] == ["/moved"]


def test_an_unreachable_or_slow_endpoint_is_recorded_as_an_error(
    hooks: Hooks, receiver: Receiver, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kassa.services.webhooks.posting.TIMEOUT", 0.3)
    receiver.delay = 1.0
    slow = hooks.create(receiver.url + "/slow")
    closed = hooks.create("http://127.0.0.1:9/nobody-listens")
    create_payment(api)
    hooks.run()
    (timed_out,) = hooks.deliveries(slow["id"])[0]["attempts"]
    assert (timed_out["status_code"], timed_out["succeeded"]) == (None, False)
    assert "no answer within 0.3 s" in timed_out["error"]
    assert 250 <= timed_out["latency_ms"] < 1000
    (refused,) = hooks.deliveries(closed["id"])[0]["attempts"]
    assert refused["status_code"] is None
    assert refused["error"].startswith("ConnectError")
