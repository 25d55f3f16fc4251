"""Acting on payments from the admin UI: each role, each action, its confirmation step, its
result, and its audit entry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kassa.services.admin import audit
from tests.admin.conftest import People, Visitor, text_of
from tests.helpers import (
    ShopSetup,
    checkout,
    create_payment,
    make_shop,
    paid_silently_at_the_sandbox,
)
from tests.live import LiveServer

ACTIONS = ("capture", "cancel", "refund", "refresh")


@pytest.fixture
def shop(admin_server: LiveServer) -> ShopSetup:
    return make_shop(admin_server)


@pytest.fixture
def api(admin_server: LiveServer, shop: ShopSetup) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {shop.key}"}
    with httpx.Client(base_url=admin_server.url, headers=headers, timeout=30) as client:
        yield client


def paid(server: LiveServer, api: httpx.Client, **fields: Any) -> dict[str, Any]:
    payment = create_payment(api, **fields)
    checkout(server, payment, "pay")
    return payment


def state(api: httpx.Client, payment: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = api.get(f"/v1/payments/{payment['id']}").json()
    return document


def audited(server: LiveServer, payment_id: str) -> list[audit.Entry]:
    found, _ = server.call(audit.list_entries(server.ctx, object_id=payment_id))
    return found


def test_a_viewer_sees_no_actions_and_is_refused_each(
    admin_server: LiveServer, api: httpx.Client, viewer: Visitor, people: People
) -> None:
    held = create_payment(api, capture=False)
    checkout(admin_server, held, "authorize")
    page = viewer.get(f"/admin/payments/{held['id']}")
    assert "Capture…" not in page.text
    token = viewer.token("/admin/payments")
    for action in ACTIONS:
        url = f"/admin/payments/{held['id']}/{action}"
        assert viewer.get(url).status_code == 403
        refused = viewer.post(url, data={"csrf_token": token})
        assert refused.status_code == 403
        assert "Your role can look at payments but not change them." in refused.text
    assert state(api, held)["status"] == "requires_capture"
    assert audited(admin_server, held["id"]) == []


def test_an_operator_refunds_part_then_the_rest(
    admin_server: LiveServer, api: httpx.Client, operator: Visitor, people: People
) -> None:
    payment = paid(admin_server, api, amount=150000)
    page = operator.get(f"/admin/payments/{payment['id']}")
    assert f'href="/admin/payments/{payment["id"]}/refund"' in page.text

    confirm = operator.get(f"/admin/payments/{payment['id']}/refund")
    assert confirm.status_code == 200
    assert "Refund the payment?" in confirm.text
    assert "Can still be refunded: RUB\u00a01,500.00" in text_of(confirm.text)

    done = operator.submit(
        f"/admin/payments/{payment['id']}/refund", amount="500,00", reason="broken item"
    )
    assert done.status_code == 303
    result = operator.get(done.headers["location"])
    text = text_of(result.text)
    assert "Refund of RUB\u00a0500.00 succeeded." in text
    assert "broken item" in text
    assert "Refund succeeded" in text  # the timeline
    after = state(api, payment)
    assert (after["status"], after["amount_refunded"]) == ("succeeded", 50000)

    (entry,) = audited(admin_server, payment["id"])
    assert (entry.action, entry.actor.name) == ("refund.create", people.operator)
    assert entry.details["amount"] == 50000
    assert entry.actor.client == operator.address

    rest = operator.submit(f"/admin/payments/{payment['id']}/refund")
    assert rest.status_code == 303
    assert state(api, payment)["status"] == "refunded"
    final = text_of(operator.get(rest.headers["location"]).text)
    assert "Payment fully refunded" in final
    assert "Nothing can be done with a payment in this state." in final


def test_a_refused_refund_says_why_and_is_audited(
    admin_server: LiveServer, api: httpx.Client, operator: Visitor
) -> None:
    payment = paid(admin_server, api, amount=10000)
    too_much = operator.submit(f"/admin/payments/{payment['id']}/refund", amount="100.01")
    assert too_much.status_code == 422
    assert "The amount is not right." in too_much.text
    assert 'value="100.01"' in too_much.text, "the form keeps what was typed"
    nonsense = operator.submit(f"/admin/payments/{payment['id']}/refund", amount="ten")
    assert nonsense.status_code == 422
    assert state(api, payment)["amount_refunded"] == 0
    outcomes = [entry.outcome or "" for entry in audited(admin_server, payment["id"])]
    assert len(outcomes) == 2
    assert all(outcome.startswith("refused: ") for outcome in outcomes)


def test_an_operator_captures_part_of_a_hold(
    admin_server: LiveServer, api: httpx.Client, operator: Visitor, people: People
) -> None:
    held = create_payment(api, amount=70000, capture=False)
    checkout(admin_server, held, "authorize")
    done = operator.submit(f"/admin/payments/{held['id']}/capture", amount="600")
    assert done.status_code == 303, done.text
    assert "Capture done. The payment is now: Succeeded" in text_of(
        operator.get(done.headers["location"]).text
    )
    after = state(api, held)
    assert (after["status"], after["amount_captured"]) == ("succeeded", 60000)
    (entry,) = audited(admin_server, held["id"])
    assert (entry.action, entry.actor.name, entry.details["amount"]) == (
        "payment.capture",
        people.operator,
        60000,
    )


def test_an_owner_cancels_and_an_operator_rechecks(
    admin_server: LiveServer, api: httpx.Client, owner: Visitor, operator: Visitor, people: People
) -> None:
    unpaid = create_payment(api)
    canceled = owner.submit(f"/admin/payments/{unpaid['id']}/cancel")
    assert canceled.status_code == 303
    assert state(api, unpaid)["status"] == "canceled"
    assert [e.actor.name for e in audited(admin_server, unpaid["id"])] == [people.owner]

    lost = create_payment(api)
    paid_silently_at_the_sandbox(admin_server, lost)
    assert "refresh" in operator.get(f"/admin/payments/{lost['id']}").text
    checked = operator.submit(f"/admin/payments/{lost['id']}/refresh")
    assert checked.status_code == 303
    page = text_of(operator.get(checked.headers["location"]).text)
    assert "Checked with the provider. The payment is now: Succeeded" in page
    assert state(api, lost)["status"] == "succeeded"
    (entry,) = audited(admin_server, lost["id"])
    assert (entry.action, entry.details["outcome"]) == ("payment.refresh", "pending → succeeded")

    # A settled payment is not re-checked; the refusal is in the audit log too.
    again = operator.submit(f"/admin/payments/{lost['id']}/refresh")
    assert again.status_code == 409
    assert "This cannot be done with a payment in this state." in again.text
    latest = audited(admin_server, lost["id"])[0]
    assert (latest.action, latest.outcome) == ("payment.refresh", "refused: not possible now")
