"""CloudPayments end to end: Kassa on loopback against the CloudPayments emulator, on SQLite and
PostgreSQL. The emulator plays the payer in the widget (Check, then Pay or Fail) and answers
Kassa's API calls as CloudPayments' documentation says."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from kassa.providers.cloudpayments import CloudPaymentsProvider
from kassa.services.notifications import inbound as notifications
from kassa.services.payments import expiry, refunds
from kassa.services.payments import lifecycle as payments
from kassa.services.shops import shops
from tests.emulators.cloudpayments import (
    CloudPaymentsEmulator,
    Delivery,
    Sent,
    Site,
    connect,
    hmac_b64,
    running,
)
from tests.helpers import create_payment, event_types, later, stored_notifications
from tests.live import LiveServer

OK = {"code": 0}
REFUSED = {"code": 13}


@pytest.fixture(scope="module")
def emulator() -> Iterator[CloudPaymentsEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture
def site(server: LiveServer, emulator: CloudPaymentsEmulator) -> Site:
    return connect(server, emulator)


@pytest.fixture
def api(server: LiveServer, site: Site) -> Iterator[httpx.Client]:
    with site.shop.api(server) as client:
        yield client


def get(api: httpx.Client, payment: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = api.get(f"/v1/payments/{payment['id']}").json()
    return document


def refund(api: httpx.Client, payment: dict[str, Any], amount: int | None = None) -> Any:
    response = api.post("/v1/refunds", json={"payment": payment["id"], "amount": amount})
    assert response.status_code == 201, response.text
    return response.json()


# Paying


def test_create_calls_no_api_and_sends_the_payer_to_the_pay_page(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api, amount=150050, description="Order 1")
    assert payment["provider"] == "cloudpayments"
    assert payment["provider_payment_id"] is None
    assert payment["confirmation"] == {
        "type": "redirect",
        "url": f"{server.url}/pay/{payment['id']}",
    }
    assert emulator.calls_by(site.public_id) == []


def test_paid_in_one_stage_then_refunded_in_two_parts(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api, amount=150050, customer="user-7")
    attempt = site.pay(payment)
    assert attempt.check_code == 0
    assert attempt.answer is not None
    assert (attempt.answer.status_code, attempt.answer.json()) == (200, OK)
    paid = get(api, payment)
    assert paid["status"] == "succeeded"
    assert paid["provider_payment_id"] == str(attempt.transaction_id)
    assert paid["amount_captured"] == 150050

    first = refund(api, payment, 50025)
    assert first["status"] == "succeeded"
    (call,) = emulator.calls_to("/payments/refund", site.public_id)
    # The amount goes out as the exact JSON number in major units, never through a float.
    assert f'"TransactionId":{attempt.transaction_id},"Amount":500.25,' in call.body.decode()
    assert call.headers["x-request-id"] == first["id"]
    (made,) = emulator.refunds_of(attempt.transaction_id)
    assert first["provider_refund_id"] == str(made.id)
    # CloudPayments then sends Refund about the same refund: nothing changes.
    assert [(a.status_code, a.json()) for a in site.deliver()] == [(200, OK)]
    assert get(api, payment)["amount_refunded"] == 50025

    rest = refund(api, payment)
    assert (rest["status"], rest["amount"]) == ("succeeded", 100025)
    assert [a.json() for a in site.deliver()] == [OK]
    done = get(api, payment)
    assert (done["status"], done["amount_refunded"]) == ("refunded", 150050)
    assert sum(r.amount for r in emulator.refunds_of(attempt.transaction_id)) == Decimal("1500.50")
    types = Counter(event_types(server, payment["id"]))
    assert types["payment.succeeded"] == 1
    assert types["refund.succeeded"] == 2
    assert types["payment.refunded"] == 1
    assert [row["outcome"] for row in stored_notifications(server, site.name)][-1].startswith(
        "no change"
    )


def test_held_then_partly_captured_then_refunded(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api, amount=100000, capture=False)
    attempt = site.pay(payment)
    assert get(api, payment)["status"] == "requires_capture"
    assert emulator.transactions[attempt.transaction_id].status == "Authorized"

    captured = api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 60000})
    assert captured.status_code == 200, captured.text
    assert (captured.json()["status"], captured.json()["amount_captured"]) == ("succeeded", 60000)
    (call,) = emulator.calls_to("/payments/confirm", site.public_id)
    assert call.body == f'{{"TransactionId":{attempt.transaction_id},"Amount":600.00}}'.encode()
    assert call.headers["x-request-id"] == f"{payment['id']}:confirm"
    assert emulator.transactions[attempt.transaction_id].status == "Completed"
    assert [a.json() for a in site.deliver()] == [OK]  # Confirm: already applied

    assert refund(api, payment)["amount"] == 60000
    site.deliver()
    done = get(api, payment)
    assert (done["status"], done["amount_captured"], done["amount_refunded"]) == (
        "refunded",
        60000,
        60000,
    )
    assert event_types(server, payment["id"]).count("payment.succeeded") == 1


def test_held_then_canceled_releases_the_hold(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api, capture=False)
    attempt = site.pay(payment)
    canceled = api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    (call,) = emulator.calls_to("/payments/void", site.public_id)
    assert call.body == f'{{"TransactionId":{attempt.transaction_id}}}'.encode()
    assert call.headers["x-request-id"] == f"{payment['id']}:void"
    assert emulator.transactions[attempt.transaction_id].status == "Cancelled"
    assert [a.json() for a in site.deliver()] == [OK]  # Cancel: already applied
    assert event_types(server, payment["id"]) == [
        "payment.created",
        "payment.requires_capture",
        "payment.canceled",
    ]


def test_canceling_before_anyone_paid_is_local_and_later_checks_refuse(
    site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api)
    canceled = api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.json()["status"] == "canceled"
    # Asked whether the payer had paid meanwhile; nothing to void.
    assert len(emulator.calls_to("/v2/payments/find", site.public_id)) == 1
    assert emulator.calls_to("/payments/void", site.public_id) == []

    attempt = site.pay(payment)
    assert (attempt.check_code, attempt.outcome) == (13, None)
    assert get(api, payment)["status"] == "canceled"


def test_canceling_a_payment_just_paid_is_refused(
    site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    """The Pay notification is late: the payer has paid, Kassa does not know yet."""
    payment = create_payment(api)
    site.pay(payment, send_outcome=False)
    canceled = api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 402
    assert "Completed" in canceled.json()["error"]["message"]
    assert get(api, payment)["status"] == "pending"


def test_declined_card_fails_the_payment_with_the_reason(
    server: LiveServer, site: Site, api: httpx.Client
) -> None:
    payment = create_payment(api)
    attempt = site.pay(payment, decline=True)
    assert attempt.outcome is not None
    assert attempt.outcome.kind == "fail"
    assert attempt.answer is not None
    assert attempt.answer.json() == OK
    failed = get(api, payment)
    assert failed["status"] == "failed"
    assert failed["failure"] == {
        "code": "InsufficientFunds",
        "message": "Недостаточно средств на карте (ReasonCode 5051)",
    }
    assert failed["provider_payment_id"] == str(attempt.transaction_id)


def test_a_lost_pay_notification_is_found_by_refresh(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api, amount=99900)
    attempt = site.pay(payment, send_outcome=False)
    refreshed = api.post(f"/v1/payments/{payment['id']}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["status"] == "succeeded"
    assert refreshed.json()["provider_payment_id"] == str(attempt.transaction_id)
    (call,) = emulator.calls_to("/v2/payments/find", site.public_id)
    assert call.body == f'{{"InvoiceId":"{payment["id"]}"}}'.encode()
    # The notification arriving late changes nothing more.
    assert attempt.outcome is not None
    assert attempt.outcome.send().json() == OK
    assert event_types(server, payment["id"]).count("payment.succeeded") == 1


def test_a_capture_made_in_the_cabinet_is_found_by_refresh(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    """Confirmed in CloudPayments' cabinet, and the Confirm notification was lost."""
    payment = create_payment(api, amount=80000, capture=False)
    attempt = site.pay(payment)
    confirmed = httpx.post(
        f"{emulator.url}/payments/confirm",
        json={"TransactionId": attempt.transaction_id, "Amount": 500},
        auth=(site.public_id, site.api_secret),
    )
    assert confirmed.json() == {"Success": True, "Message": None}
    refreshed = api.post(f"/v1/payments/{payment['id']}/refresh").json()
    assert (refreshed["status"], refreshed["amount_captured"]) == ("succeeded", 50000)
    # The Pay was confirmed with the API when it arrived; the refresh asked again.
    calls = emulator.calls_to("/payments/get", site.public_id)
    assert [call.body for call in calls] == [
        f'{{"TransactionId":{attempt.transaction_id}}}'.encode()
    ] * 2


def test_refresh_of_a_payment_nobody_paid_leaves_it_pending(
    api: httpx.Client, site: Site, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api)
    assert api.post(f"/v1/payments/{payment['id']}/refresh").json()["status"] == "pending"
    assert len(emulator.calls_to("/v2/payments/find", site.public_id)) == 1


def test_a_refund_made_in_cloudpayments_cabinet_is_recorded_once(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api, amount=10000)
    attempt = site.pay(payment)
    made = httpx.post(
        f"{emulator.url}/payments/refund",
        json={"TransactionId": attempt.transaction_id, "Amount": 30},
        auth=(site.public_id, site.api_secret),
    )
    assert made.json()["Success"] is True
    (answer,) = site.deliver()
    assert answer.json() == OK
    assert emulator.sent[-1].send().json() == OK  # resent: a duplicate
    after = get(api, payment)
    assert (after["status"], after["amount_refunded"]) == ("succeeded", 3000)
    assert [row["verdict"] for row in stored_notifications(server, site.name)][-2:] == [
        "accepted",
        "duplicate",
    ]
    (recorded,) = api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
    assert recorded["provider_refund_id"] == str(made.json()["Model"]["TransactionId"])


# Check


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": Decimal("1.00")}, 12),
        ({"currency": "USD"}, 12),
        ({"invoice": "pay_nope"}, 10),
        ({"invoice": None}, 10),
    ],
)
def test_check_refuses_what_does_not_match(
    server: LiveServer, site: Site, api: httpx.Client, change: dict[str, Any], code: int
) -> None:
    payment = create_payment(api, amount=150000)
    invoice = change.get("invoice", payment["id"])
    options = {name: value for name, value in change.items() if name != "invoice"}
    attempt = site.pay({**payment, "id": invoice}, **options)
    assert attempt.check is not None
    assert attempt.check.status_code == 200
    assert (attempt.check_code, attempt.outcome) == (code, None)
    assert get(api, payment)["status"] == "pending"
    (row,) = stored_notifications(server, site.name)
    assert (row["verdict"], row["kind"], row["event_key"]) == ("accepted", "check", None)
    assert row["outcome"].startswith("check answered: ")


def test_check_refuses_a_paid_payment(site: Site, api: httpx.Client) -> None:
    payment = create_payment(api)
    site.pay(payment)
    again = site.pay(payment)
    assert (again.check_code, again.outcome) == (13, None)


def test_check_refuses_an_expired_payment(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api, expires_in=60)
    # The expiry job asks CloudPayments (nobody paid), cancels locally, expires the payment.
    server.call(expiry.expire_due(later(server, timedelta(minutes=2)), limit=1000))
    assert get(api, payment)["status"] == "expired"
    assert emulator.calls_to("/payments/void", site.public_id) == []
    attempt = site.pay(payment)
    assert (attempt.check_code, attempt.outcome) == (20, None)


# How notifications arrive


@pytest.mark.parametrize(
    "delivery",
    [
        Delivery(method="GET"),
        Delivery(format="json"),
        Delivery(encoding="windows-1251"),
        Delivery(encoding="windows-1251", declare_charset=True),
        Delivery(method="GET", encoding="windows-1251"),
        Delivery(format="json", encoding="windows-1251", declare_charset=True),
        Delivery(headers=("X-Content-HMAC",)),
    ],
    ids=lambda d: f"{d.method}-{d.format}-{d.encoding}-{d.declare_charset}-{len(d.headers)}",
)
@pytest.mark.parametrize("decline", [False, True], ids=["pay", "fail"])
def test_every_way_cloudpayments_can_send(
    server: LiveServer, site: Site, api: httpx.Client, delivery: Delivery, decline: bool
) -> None:
    payment = create_payment(api, amount=12345, description="Заказ №5")
    attempt = site.pay(
        payment, delivery=delivery, decline=decline, name="Иван Петров", description="Заказ №5"
    )
    assert attempt.check_code == 0
    assert attempt.answer is not None
    assert (attempt.answer.status_code, attempt.answer.json()) == (200, OK)
    after = get(api, payment)
    if decline:
        # Decoded in the right charset, or this Cyrillic would be mojibake.
        assert after["status"] == "failed"
        assert after["failure"]["message"] == "Недостаточно средств на карте (ReasonCode 5051)"
    else:
        assert after["status"] == "succeeded"
    rows = stored_notifications(server, site.name)
    assert [(row["kind"], row["verdict"], row["method"]) for row in rows] == [
        ("check", "accepted", delivery.method),
        ("fail" if decline else "pay", "accepted", delivery.method),
    ]
    if delivery.method == "GET":
        assert rows[1]["body"] == b""
        assert rows[1]["query"] == attempt.outcome.url.partition("?")[2]  # type: ignore[union-attr]


def _forged(site: Site, sent: Any) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """Ways a Pay notification can fail verification: (url, body, headers)."""
    body, headers = sent.content, sent.headers
    only_raw = {k: v for k, v in headers.items() if k != "X-Content-HMAC"}
    assert b"+" in body  # "CARDHOLDER NAME": a space, form-encoded as "+"
    reordered = urlencode(list(reversed(parse_qsl(body.decode(), keep_blank_values=True))))
    unsigned = {"Content-Type": headers["Content-Type"]}
    wrong = {
        **unsigned,
        "Content-HMAC": hmac_b64("not-the-secret", body),
        "X-Content-HMAC": hmac_b64("not-the-secret", body),
    }
    return {
        "forged": (sent.url, body, wrong),
        "unsigned": (sent.url, body, unsigned),
        "truncated": (sent.url, body[:-7], headers),
        "plus as %20": (sent.url, body.replace(b"+", b"%20"), only_raw),
        "reordered": (sent.url, reordered.encode(), headers),
        "hex, not base64": (
            sent.url,
            body,
            {**unsigned, "Content-HMAC": hmac_b64(site.api_secret, body).encode().hex()},
        ),
        "no type in the URL": (sent.url.rsplit("/", 1)[0], body, headers),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "forged",
        "unsigned",
        "truncated",
        "plus as %20",
        "reordered",
        "hex, not base64",
        "no type in the URL",
    ],
)
def test_unverifiable_notifications_change_nothing(
    server: LiveServer, site: Site, api: httpx.Client, variant: str
) -> None:
    payment = create_payment(api)
    attempt = site.pay(payment, send_outcome=False)
    url, body, headers = _forged(site, attempt.outcome)[variant]
    response = httpx.post(url, content=body, headers=headers)
    assert (response.status_code, response.json()) == (401, REFUSED)
    assert get(api, payment)["status"] == "pending"
    assert event_types(server, payment["id"]) == ["payment.created"]
    check, row = stored_notifications(server, site.name)
    assert check["kind"] == "check"
    assert (row["verdict"], row["body"], row["processed_at"]) == ("rejected", body, None)
    assert row["reason"]


def test_x_content_hmac_alone_accepts_a_re_encoded_form(site: Site, api: httpx.Client) -> None:
    """X-Content-HMAC is over the URL-decoded parameters, so `+` and `%20` sign alike."""
    payment = create_payment(api)
    attempt = site.pay(payment, send_outcome=False)
    assert attempt.outcome is not None
    headers = {k: v for k, v in attempt.outcome.headers.items() if k != "Content-HMAC"}
    body = attempt.outcome.content.replace(b"+", b"%20")
    assert attempt.outcome.send(content=body, headers=headers).json() == OK
    assert get(api, payment)["status"] == "succeeded"


def test_a_forged_check_is_refused(server: LiveServer, site: Site, api: httpx.Client) -> None:
    payment = create_payment(api)
    site.pay(payment, send_outcome=False)
    check = site.emulator.sent[-1]
    assert check.kind == "check"
    forged = {**check.headers, "Content-HMAC": hmac_b64("nope", check.content)}
    forged.pop("X-Content-HMAC")
    response = check.send(headers=forged)
    assert (response.status_code, response.json()) == (401, REFUSED)
    assert stored_notifications(server, site.name)[-1]["verdict"] == "rejected"


@pytest.mark.parametrize(
    "field", [("Amount", "12,50"), ("Status", "Pending"), ("TransactionId", "12x")]
)
def test_authentic_but_unreadable_notifications_are_rejected(
    server: LiveServer, site: Site, api: httpx.Client, field: tuple[str, str]
) -> None:
    payment = create_payment(api)
    attempt = site.pay(payment, send_outcome=False)
    assert attempt.outcome is not None
    pairs = dict(parse_qsl(attempt.outcome.content.decode(), keep_blank_values=True))
    body = urlencode({**pairs, field[0]: field[1]}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-HMAC": hmac_b64(site.api_secret, body),
    }
    response = attempt.outcome.send(content=body, headers=headers)
    assert (response.status_code, response.json()) == (401, REFUSED)
    row = stored_notifications(server, site.name)[-1]
    assert row["verdict"] == "rejected"
    assert "Unreadable CloudPayments pay notification" in row["reason"]
    assert get(api, payment)["status"] == "pending"


def test_a_replayed_pay_is_a_duplicate(server: LiveServer, site: Site, api: httpx.Client) -> None:
    payment = create_payment(api)
    attempt = site.pay(payment)
    assert attempt.outcome is not None
    again = attempt.outcome.send()
    assert (again.status_code, again.json()) == (200, OK)
    rows = stored_notifications(server, site.name)
    assert [(r["kind"], r["verdict"]) for r in rows] == [
        ("check", "accepted"),
        ("pay", "accepted"),
        ("pay", "duplicate"),
    ]
    assert rows[1]["event_key"] == f"pay:{attempt.transaction_id}"
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


def test_other_notification_types_are_acknowledged(server: LiveServer, site: Site) -> None:
    body = b"Id=sc_1&AccountId=user-7&Status=Active"
    response = httpx.post(
        f"{server.url}/hooks/cloudpayments/{site.name}/recurrent",
        content=body,
        headers={"Content-HMAC": hmac_b64(site.api_secret, body)},
    )
    assert (response.status_code, response.json()) == (200, OK)
    (row,) = stored_notifications(server, site.name)
    assert (row["verdict"], row["outcome"]) == ("accepted", "nothing to apply")
    # A type CloudPayments does not send is no CloudPayments URL.
    response = httpx.post(
        f"{server.url}/hooks/cloudpayments/{site.name}/teleport",
        content=body,
        headers={"Content-HMAC": hmac_b64(site.api_secret, body)},
    )
    assert (response.status_code, response.json()) == (401, REFUSED)
    assert "must end with its type" in stored_notifications(server, site.name)[-1]["reason"]


def test_a_wrong_secret_in_kassa_refuses_payments_and_pay_is_resent_until_fixed(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    """The reply policy: a Check Kassa cannot verify refuses the payment, and a Pay it cannot
    verify gets a non-2xx answer, so CloudPayments resends it after the secret is fixed."""
    site = connect(server, emulator, kassa_secret="a-typo")
    with site.shop.api(server) as api:
        payment = create_payment(api)
        attempt = site.pay(payment)
        assert attempt.check is not None
        assert (attempt.check.status_code, attempt.check.json()) == (401, REFUSED)
        assert attempt.outcome is None

        lost = site.pay(payment, send_check=False, send_outcome=False)  # no Check configured
        assert lost.outcome is not None
        assert lost.outcome.send().status_code == 401
        assert get(api, payment)["status"] == "pending"

        server.call(
            shops.configure_provider(
                server.ctx,
                shop=site.shop.shop,
                provider="cloudpayments",
                settings={"api_secret": site.api_secret, "test": "true"},
            )
        )
        assert lost.outcome.send().json() == OK  # CloudPayments' resend
        assert get(api, payment)["status"] == "succeeded"


def test_simulated_notifications_change_a_payment_only_as_far_as_the_api_agrees(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    """`kassa simulate` signs what CloudPayments would send. A Check, a Fail and a Refund say
    what they are in their own fields; a Pay, a Confirm or a Cancel is applied only once
    CloudPayments' API confirms its transaction is in that state."""
    held = create_payment(api, amount=70000, capture=False)
    declined = create_payment(api)

    def simulate(payment: dict[str, Any], event: str) -> httpx.Response:
        async def build() -> Any:
            stored_payment = await payments.find_payment(server.ctx, payment_id=payment["id"])
            gateway = server.ctx.gateways.for_account(site.shop.account)
            assert isinstance(gateway, CloudPaymentsProvider)
            return gateway.simulate(stored_payment, event)

        sent = server.call(build())
        assert (sent.method, sent.kind) == ("POST", event)
        return httpx.post(
            f"{server.url}/hooks/cloudpayments/{site.name}/{sent.kind}",
            content=sent.body,
            headers=dict(sent.headers),
        )

    assert simulate(held, "check").json() == OK
    # Nobody paid: CloudPayments does not know the made-up transaction.
    assert simulate(held, "pay").json() == REFUSED
    assert get(api, held)["status"] == "pending"
    assert "does not know transaction" in stored_notifications(server, site.name)[-1]["reason"]

    site.pay(held)  # the payer holds the money for real
    assert get(api, held)["status"] == "requires_capture"
    assert simulate(held, "pay").json() == OK  # the same Pay again: a duplicate
    assert simulate(held, "confirm").json() == REFUSED  # the API says Authorized
    assert simulate(held, "cancel").json() == REFUSED
    assert get(api, held)["status"] == "requires_capture"
    assert api.post(f"/v1/payments/{held['id']}/capture").status_code == 200
    assert simulate(held, "confirm").json() == OK  # now it is Completed
    answer = simulate(held, "refund")
    assert (answer.status_code, answer.json()) == (200, OK)
    assert get(api, held)["status"] == "refunded"
    assert simulate(held, "check").json() == REFUSED  # paid and refunded: not payable

    assert simulate(declined, "fail").json() == OK
    assert get(api, declined)["status"] == "failed"
    verdicts = [row["verdict"] for row in stored_notifications(server, site.name)]
    assert verdicts.count("rejected") == 3
    assert event_types(server, held["id"]).count("payment.succeeded") == 1


# The kind of a notification comes from what it signs, not from its URL


def posted_to(sent: Sent, kind: str) -> httpx.Response:
    """A genuine signed notification, posted to the URL of another kind (the URL is not
    signed: anyone who saw the notification can do this)."""
    return sent.send(url=f"{sent.url.rsplit('/', 1)[0]}/{kind}")


@pytest.mark.parametrize("kind", ["confirm", "cancel", "fail", "refund"])
def test_a_holds_pay_posted_to_another_kinds_url_changes_nothing(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator, kind: str
) -> None:
    """To `/confirm` it made the hold `succeeded` with the whole amount captured, though
    nothing was; to `/cancel` it canceled a payment whose money stayed held."""
    payment = create_payment(api, amount=100000, capture=False)
    attempt = site.pay(payment)
    assert attempt.outcome is not None
    assert get(api, payment)["status"] == "requires_capture"

    response = posted_to(attempt.outcome, kind)
    assert (response.status_code, response.json()) == (401, REFUSED)
    after = get(api, payment)
    assert (after["status"], after["amount_captured"]) == ("requires_capture", 0)
    assert event_types(server, payment["id"]) == ["payment.created", "payment.requires_capture"]
    row = stored_notifications(server, site.name)[-1]
    assert (row["kind"], row["verdict"], row["event_key"]) == (kind, "rejected", None)
    assert "refused" in row["reason"]
    assert emulator.transactions[attempt.transaction_id].status == "Authorized"


@pytest.mark.parametrize(("outcome", "kind"), [("fail", "pay"), ("fail", "confirm")])
def test_a_fail_posted_as_a_success_changes_nothing(
    server: LiveServer, site: Site, api: httpx.Client, outcome: str, kind: str
) -> None:
    payment = create_payment(api)
    attempt = site.pay(payment, decline=True, send_outcome=False)
    assert attempt.outcome is not None
    assert attempt.outcome.kind == outcome
    assert posted_to(attempt.outcome, kind).json() == REFUSED
    assert get(api, payment)["status"] == "pending"
    assert "Status=Declined" in stored_notifications(server, site.name)[-1]["reason"]


def test_a_check_posted_to_pay_is_refused_unless_the_api_says_it_was_paid(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    """A Check says what the Pay will say (Status=Completed) before anybody has paid; only
    CloudPayments' API can tell them apart. Here the card was then declined (and the Fail
    lost)."""
    payment = create_payment(api)
    site.pay(payment, decline=True, send_outcome=False)
    check = [sent for sent in emulator.sent if sent.kind == "check"][-1]
    assert b"Status=Completed" in check.content
    assert (posted_to(check, "pay").status_code, get(api, payment)["status"]) == (401, "pending")
    row = stored_notifications(server, site.name)[-1]
    assert (row["kind"], row["verdict"]) == ("pay", "rejected")
    assert "API says transaction" in row["reason"]
    assert "Declined" in row["reason"]
    assert event_types(server, payment["id"]) == ["payment.created"]

    paid = create_payment(api)
    site.pay(paid, send_outcome=False)  # paid for real; the Pay is late
    check = [sent for sent in emulator.sent if sent.kind == "check"][-1]
    assert posted_to(check, "pay").json() == OK  # true now, as the API confirms
    assert get(api, paid)["status"] == "succeeded"


def test_a_capture_and_a_void_made_in_the_cabinet_arrive_as_confirm_and_cancel(
    site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    """Genuine Confirm and Cancel notifications still work: the API bears them out."""
    captured = create_payment(api, amount=80000, capture=False)
    voided = create_payment(api, capture=False)
    holds = {site.pay(p).transaction_id: p for p in (captured, voided)}
    (capture_id, void_id) = holds
    auth = (site.public_id, site.api_secret)
    confirm = {"TransactionId": capture_id, "Amount": 500}
    assert httpx.post(f"{emulator.url}/payments/confirm", json=confirm, auth=auth).json()["Success"]
    void = {"TransactionId": void_id}
    assert httpx.post(f"{emulator.url}/payments/void", json=void, auth=auth).json()["Success"]
    assert [answer.json() for answer in site.deliver()] == [OK, OK]
    after = get(api, captured)
    assert (after["status"], after["amount_captured"]) == ("succeeded", 50000)
    assert get(api, voided)["status"] == "canceled"


def test_a_notification_the_api_cannot_confirm_now_is_kept_and_settled_later(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    """CloudPayments' API down: the Pay is kept pending and applied once the API confirms
    it; a Check posted to `/pay` meanwhile ends rejected once the API says otherwise."""
    paid = create_payment(api)
    attempt = site.pay(paid, send_outcome=False)
    declined = create_payment(api)
    site.pay(declined, decline=True, send_outcome=False)
    check = [sent for sent in emulator.sent if sent.kind == "check"][-1]
    assert attempt.outcome is not None
    emulator.fail_next("/payments/get", "error", times=2)
    assert attempt.outcome.send().status_code == 500
    assert posted_to(check, "pay").status_code == 500
    assert [get(api, p)["status"] for p in (paid, declined)] == ["pending", "pending"]

    server.call(notifications.reprocess_pending(later(server, timedelta(minutes=1))))
    pay, forged = stored_notifications(server, site.name)[-2:]
    assert (pay["verdict"], pay["outcome"]) == ("accepted", "pending → succeeded")
    assert (forged["verdict"], forged["payment_id"]) == ("rejected", None)
    assert "Declined" in forged["reason"]
    assert [get(api, p)["status"] for p in (paid, declined)] == ["succeeded", "pending"]


def test_a_pay_kassa_cannot_confirm_with_its_own_credentials_is_kept_until_they_are_fixed(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    """CloudPayments' API refusing Kassa's own credentials (a wrong Public ID, which the HMAC
    does not cover) says nothing against a genuine, signed Pay: it is kept pending whole, not
    rejected for good, and applied once the account is fixed."""
    site = connect(server, emulator, public_id="test_api_not_this_one")
    with site.shop.api(server) as api:
        payment = create_payment(api)
        attempt = site.pay(payment)
        assert attempt.answer is not None
        assert (attempt.answer.status_code, attempt.answer.json()) == (500, REFUSED)
        (kept,) = [n for n in stored_notifications(server, site.name) if n["kind"] == "pay"]
        assert kept["verdict"] == "pending"
        assert "401" in kept["outcome"]
        server.call(
            shops.configure_provider(
                server.ctx,
                shop=site.shop.shop,
                provider="cloudpayments",
                settings={"public_id": site.public_id, "test": "true"},
            )
        )
        server.call(notifications.reprocess_pending(later(server, timedelta(minutes=1))))
        assert get(api, payment)["status"] == "succeeded"


# Outages


@pytest.fixture(scope="module")
def impatient(database_url: str) -> Iterator[LiveServer]:
    """A second Kassa on the same database that waits only half a second for a provider."""
    live = LiveServer(database_url, provider_timeout=0.5).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.parametrize("fault", ["error", "timeout"])
def test_refund_during_an_outage_is_never_made_twice(
    impatient: LiveServer, emulator: CloudPaymentsEmulator, fault: str
) -> None:
    site = connect(impatient, emulator)
    with site.shop.api(impatient) as api:
        payment = create_payment(api, amount=20000)
        attempt = site.pay(payment)
        emulator.fail_next("/payments/refund", fault)
        key = {"Idempotency-Key": f"refund-{fault}"}
        body = {"payment": payment["id"], "amount": 5000}
        failed = api.post("/v1/refunds", json=body, headers=key)
        assert failed.status_code == 502
        assert failed.json()["error"]["code"] == "provider_unavailable"
        (pending,) = api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
        assert pending["status"] == "pending"
        assert get(api, payment)["amount_refunded"] == 0
        made_at_first = len(emulator.refunds_of(attempt.transaction_id))
        assert made_at_first == (1 if fault == "timeout" else 0)

        retried = api.post("/v1/refunds", json=body, headers=key)
        assert retried.status_code == 201, retried.text
        assert (retried.json()["id"], retried.json()["status"]) == (pending["id"], "succeeded")
        (made,) = emulator.refunds_of(attempt.transaction_id)
        assert made.amount == Decimal("50.00")
        assert get(api, payment)["amount_refunded"] == 5000
        calls = emulator.calls_to("/payments/refund", site.public_id)
        assert {call.headers["x-request-id"] for call in calls} == {pending["id"]}


def test_a_refund_pending_past_the_request_id_lifetime_is_not_asked_again(
    impatient: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    """CloudPayments keeps an X-Request-ID's result for an hour: asking again after that
    might refund twice, so Kassa leaves the refund pending for a person."""
    site = connect(impatient, emulator)
    with site.shop.api(impatient) as api:
        payment = create_payment(api, amount=20000)
        site.pay(payment)
        emulator.fail_next("/payments/refund", "error")
        failed = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 5000})
        assert failed.status_code == 502
        asked = len(emulator.calls_to("/payments/refund", site.public_id))
        assert impatient.call(refunds.resume_pending(later(impatient, timedelta(hours=2)))) == 0
        assert len(emulator.calls_to("/payments/refund", site.public_id)) == asked
        (pending,) = api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
        assert pending["status"] == "pending"
        # Within the hour it is asked again, under the same X-Request-ID, and settled.
        assert impatient.call(refunds.resume_pending(later(impatient, timedelta(minutes=5)))) == 1
        assert get(api, payment)["amount_refunded"] == 5000
