"""Random provider notifications and merchant API calls never break a payment's books.

A hypothesis state machine drives the payments of one shop through the live server: signed
sandbox notifications claiming any status (replayed, reusing event ids, sent concurrently and
mixed with API calls), checkout buttons, captures, cancels and refunds of every size. After
every step it reads the database and checks that

1. each payment's status events follow the domain's transition table and end in its status;
2. 0 <= refunded <= captured <= amount, succeeded refunds add up to `amount_refunded` (pending
   ones to `amount_refund_pending`), and a refunded payment had all it captured refunded;
3. a payment that ever succeeded has exactly one `payment.succeeded` event, any other none;
4. a refund the provider reports is recorded once, however often it is reported.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import RowMapping, select

from kassa.domain.status import PAYMENT_TRANSITIONS, PaymentStatus
from kassa.providers.sandbox import SIGNATURE_HEADER, sign
from kassa.providers.wire import value_amount
from kassa.store import tables
from tests.helpers import make_shop, sandbox_notification
from tests.live import LiveServer

#: What notifications claim; the statuses a payment moves on through come twice as often, so
#: payments live long enough to be captured and refunded.
SANDBOX_STATUSES = (
    *("authorized", "succeeded") * 2,
    *("pending", "canceled", "failed", "expired"),
)
REFUND_STATUSES = ("pending", "succeeded", "failed")
EVER_SUCCEEDED = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED})
ACTIONS = ("notify", "provider refund", "capture", "cancel", "refund")
#: Payments per run: few, so each one sees many steps.
MAX_PAYMENTS = 3

Payment = dict[str, Any]


@dataclass(frozen=True)
class Post:
    """One POST the machine sends: a signed provider notification or a merchant API call."""

    path: str
    body: bytes
    headers: dict[str, str]

    def check(self, response: httpx.Response) -> None:
        """A notification is always taken (accepted, or recognised as a duplicate); an API
        call may be refused with a 4xx, never fail with a 5xx."""
        if self.path.startswith("/hooks/"):
            assert response.status_code == 200, response.text
            assert response.json()["verdict"] in {"accepted", "duplicate"}, response.text
        else:
            assert response.status_code < 500, response.text


def event_status(event_type: str) -> PaymentStatus | None:
    """The payment status an event records (`payment.created`: pending); None for others."""
    family, _, name = event_type.partition(".")
    if family != "payment":
        return None
    return PaymentStatus.PENDING if name == "created" else PaymentStatus(name)


class PaymentMachine(RuleBasedStateMachine):
    """One shop's payments under random notifications and API calls."""

    created = Bundle("payments")

    def __init__(self, server: LiveServer) -> None:
        super().__init__()
        self.server = server
        self.shop = make_shop(server)
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.pool = ThreadPoolExecutor(max_workers=4)
        self.notifications: list[Post] = []
        self.event_ids: list[str] = []
        self.payments = 0

    def teardown(self) -> None:
        self.pool.shutdown()
        self.http.close()

    # Requests

    def _api(self, path: str, document: dict[str, Any] | None = None) -> Post:
        headers = {"authorization": f"Bearer {self.shop.key}"}
        if document is None:
            return Post(path, b"", headers)
        headers["content-type"] = "application/json"
        return Post(path, json.dumps(document).encode(), headers)

    def _hook(self, body: bytes, headers: dict[str, str]) -> Post:
        post = Post(f"/hooks/sandbox/{self.shop.name}", body, headers)
        self.notifications.append(post)
        return post

    def _new_event_id(self) -> str:
        self.event_ids.append(f"sbxevt_{len(self.event_ids)}")
        return self.event_ids[-1]

    def _event_id(self, data: st.DataObject) -> str:
        """A new event id, or (sometimes) one sent before, with whatever content now."""
        reuse = data.draw(st.integers(0, 3), label="reuse an event id if 0") == 0
        if reuse and self.event_ids:
            return data.draw(st.sampled_from(self.event_ids), label="event id")
        return self._new_event_id()

    def _notify(self, data: st.DataObject, payment: Payment) -> Post:
        """The sandbox saying the payment is in some status, with some captured amount."""
        status = data.draw(st.sampled_from(SANDBOX_STATUSES), label="status")
        captured = data.draw(st.none() | st.integers(0, payment["amount"] + 1), label="captured")
        fields = (
            {}
            if captured is None
            else {"amount_captured": value_amount(captured, payment["currency"])}
        )
        body, headers = sandbox_notification(
            self.shop.secret, payment, status, event_id=self._event_id(data), **fields
        )
        return self._hook(body, headers)

    def _provider_refund_object(self, data: st.DataObject, payment: Payment) -> dict[str, Any]:
        """A sandbox refund made on the provider's side (ids repeat, amounts overshoot)."""
        number = data.draw(st.integers(0, 2), label="provider refund")
        amount = data.draw(st.integers(1, payment["amount"] + 1), label="refund amount")
        return {
            "id": f"sbxr_{payment['id']}_{number}",
            "payment_id": payment["provider_payment_id"],
            "status": data.draw(st.sampled_from(REFUND_STATUSES), label="refund status"),
            "amount": value_amount(amount, payment["currency"]),
            "reference": None,
        }

    def _refund_notice(self, event_id: str, refund: dict[str, Any]) -> Post:
        document = {
            "id": event_id,
            "type": f"refund.{refund['status']}",
            "created_at": "2026-11-22T00:00:00Z",
            "object": refund,
        }
        body = json.dumps(document).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(self.shop.secret, body),
        }
        return self._hook(body, headers)

    def _provider_refund(self, data: st.DataObject, payment: Payment) -> Post:
        return self._refund_notice(
            self._event_id(data), self._provider_refund_object(data, payment)
        )

    def _amount(self, data: st.DataObject, payment: Payment) -> dict[str, int]:
        """No amount (everything), a part, or more than the payment's amount."""
        amount = data.draw(
            st.none() | st.integers(1, payment["amount"]) | st.just(payment["amount"] + 1),
            label="amount",
        )
        return {} if amount is None else {"amount": amount}

    def _capture(self, data: st.DataObject, payment: Payment) -> Post:
        return self._api(f"/v1/payments/{payment['id']}/capture", self._amount(data, payment))

    def _cancel(self, data: st.DataObject, payment: Payment) -> Post:
        return self._api(f"/v1/payments/{payment['id']}/cancel")

    def _refund(self, data: st.DataObject, payment: Payment) -> Post:
        return self._api("/v1/refunds", {"payment": payment["id"]} | self._amount(data, payment))

    def _action(self, kind: str, data: st.DataObject, payment: Payment) -> Post:
        build = {
            "notify": self._notify,
            "provider refund": self._provider_refund,
            "capture": self._capture,
            "cancel": self._cancel,
            "refund": self._refund,
        }[kind]
        return build(data, payment)

    def _send(self, post: Post) -> None:
        post.check(self.http.post(post.path, content=post.body, headers=post.headers))

    def _send_together(self, posts: list[Post]) -> None:
        """Send every post at once, each from its own thread."""
        list(self.pool.map(self._send, posts))

    # Rules

    @precondition(lambda self: self.payments < MAX_PAYMENTS)
    @rule(target=created, amount=st.integers(1, 100_000), capture=st.booleans())
    def create(self, amount: int, capture: bool) -> Payment:
        post = self._api("/v1/payments", {"amount": amount, "currency": "RUB", "capture": capture})
        response = self.http.post(post.path, content=post.body, headers=post.headers)
        assert response.status_code == 201, response.text
        self.payments += 1
        payment: Payment = response.json()
        return payment

    # One rule per kind of action, so that swarm testing leaves some out of a run (a run
    # without cancels, say, takes payments further).

    @rule(payment=created, data=st.data())
    def notify(self, payment: Payment, data: st.DataObject) -> None:
        self._send(self._notify(data, payment))

    @rule(payment=created, data=st.data())
    def notify_provider_refund(self, payment: Payment, data: st.DataObject) -> None:
        self._send(self._provider_refund(data, payment))

    @rule(payment=created, data=st.data())
    def capture(self, payment: Payment, data: st.DataObject) -> None:
        self._send(self._capture(data, payment))

    @rule(payment=created, data=st.data())
    def cancel(self, payment: Payment, data: st.DataObject) -> None:
        self._send(self._cancel(data, payment))

    @rule(payment=created, data=st.data())
    def refund(self, payment: Payment, data: st.DataObject) -> None:
        self._send(self._refund(data, payment))

    @precondition(lambda self: bool(self.notifications))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """Resend a notification exactly as it was sent before."""
        self._send(data.draw(st.sampled_from(self.notifications), label="replayed"))

    @rule(payment=created, copies=st.integers(2, 4), data=st.data())
    def notify_copies_together(self, payment: Payment, copies: int, data: st.DataObject) -> None:
        self._send_together([self._notify(data, payment)] * copies)

    @rule(payment=created, copies=st.integers(2, 4), data=st.data())
    def notify_provider_refund_copies_together(
        self, payment: Payment, copies: int, data: st.DataObject
    ) -> None:
        """One provider refund reported at once by several notices, each its own event."""
        refund = self._provider_refund_object(data, payment)
        self._send_together(
            [self._refund_notice(self._new_event_id(), refund) for _ in range(copies)]
        )

    @rule(
        payment=created,
        kinds=st.lists(st.sampled_from(ACTIONS), min_size=2, max_size=4),
        data=st.data(),
    )
    def act_together(self, payment: Payment, kinds: list[str], data: st.DataObject) -> None:
        if kinds.count("provider refund") > 1:
            self._send_together([self._action(kind, data, payment) for kind in kinds])

    @rule(payment=created, action=st.sampled_from(["pay", "authorize", "decline"]))
    def press_checkout_button(self, payment: Payment, action: str) -> None:
        """Pay, authorize or decline on the sandbox's page; the sandbox then notifies Kassa."""
        page = self.http.post(payment["confirmation"]["url"], data={"action": action})
        assert page.status_code == 200, page.text

    # Invariants

    async def _read(self) -> tuple[list[RowMapping], list[RowMapping], list[RowMapping]]:
        shop_id = self.shop.shop.id
        async with self.server.ctx.db.read() as conn:
            payments = (
                await conn.execute(
                    select(tables.payments).where(tables.payments.c.shop_id == shop_id)
                )
            ).mappings()
            refunds = (
                await conn.execute(
                    select(tables.refunds).where(tables.refunds.c.shop_id == shop_id)
                )
            ).mappings()
            events = (
                await conn.execute(
                    select(tables.events.c.payment_id, tables.events.c.type)
                    .where(tables.events.c.shop_id == shop_id)
                    .order_by(tables.events.c.seq)
                )
            ).mappings()
            return list(payments), list(refunds), list(events)

    @invariant()
    def books_balance(self) -> None:
        payments, refunds, events = self.server.call(self._read())
        history: defaultdict[str, list[PaymentStatus]] = defaultdict(list)
        for event in events:
            status = event_status(event["type"])
            if status is not None:
                history[event["payment_id"]].append(status)
        refunded: Counter[str] = Counter()
        reserved: Counter[str] = Counter()
        for refund in refunds:
            if refund["status"] == "succeeded":
                refunded[refund["payment_id"]] += refund["amount"]
            elif refund["status"] == "pending":
                reserved[refund["payment_id"]] += refund["amount"]
        for payment in payments:
            check_history(payment, history[payment["id"]])
            check_amounts(payment, refunded[payment["id"]], reserved[payment["id"]])
        recorded = Counter(
            (refund["payment_id"], refund["provider_refund_id"])
            for refund in refunds
            if refund["provider_refund_id"]
        )
        twice = [key for key, count in recorded.items() if count > 1]
        assert not twice, f"provider refunds recorded more than once: {twice}"


def check_history(payment: RowMapping, statuses: list[PaymentStatus]) -> None:
    """The payment's status events: created first, then allowed moves only, ending in its
    status, with one `payment.succeeded` if it ever succeeded."""
    status = PaymentStatus(payment["status"])
    assert statuses[0] == PaymentStatus.PENDING, (payment["id"], statuses)
    assert statuses[-1] == status, (payment["id"], statuses, status)
    for source, target in pairwise(statuses):
        assert target in PAYMENT_TRANSITIONS[source], (payment["id"], statuses)
    succeeded = statuses.count(PaymentStatus.SUCCEEDED)
    assert succeeded == (1 if status in EVER_SUCCEEDED else 0), (payment["id"], statuses)


def check_amounts(payment: RowMapping, refunded: int, reserved: int) -> None:
    """The payment's amounts against each other and against its refunds' totals (`refunded`:
    succeeded refunds, `reserved`: pending ones)."""
    status = PaymentStatus(payment["status"])
    captured, done = payment["amount_captured"], payment["amount_refunded"]
    assert 0 <= done <= captured <= payment["amount"], dict(payment)
    assert (captured > 0) == (status in EVER_SUCCEEDED), dict(payment)
    assert payment["amount_refund_pending"] >= 0, dict(payment)
    assert refunded == done, (dict(payment), refunded)
    assert reserved == payment["amount_refund_pending"], (dict(payment), reserved)
    if status == PaymentStatus.REFUNDED:
        assert done == captured > 0, dict(payment)


def test_payments_stay_consistent_under_random_updates(server: LiveServer) -> None:
    run_state_machine_as_test(
        # Hypothesis takes any factory; its annotation names only a class.
        lambda: PaymentMachine(server),  # type: ignore[arg-type]
        settings=settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
