"""Receipt e-mails end to end: a payment through the API that succeeds, then a refund of it,
each reach a real SMTP server on loopback once, in the shop's language, however many times
and workers run the consumer and the sending job at once; and what happens without an SMTP
server, without a sender, or when the server refuses or cannot be reached."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, func, select

from kassa.domain import Role
from kassa.services.context import Context, utcnow
from kassa.services.emails import letters, receipts
from kassa.services.emails.letters import Letter
from kassa.services.events.consumers import Registry, dispatch
from kassa.services.shops import shops
from kassa.store.tables import consumer_failures, consumer_receipts
from tests.admin.conftest import new_user, signed_in
from tests.emails.smtp_server import PASSWORD, Inbox, smtp_server
from tests.helpers import checkout, create_payment, make_shop
from tests.live import LiveServer, free_socket

NBSP = "\u00a0"
LINES = [
    {"description": "Кофе", "quantity": 2, "price": 25000},
    {"description": "Зёрна, кг", "quantity": "0.5", "price": 50000},
]


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, str]]:
    with smtp_server() as found:
        yield found


@pytest.fixture(scope="module")
def inbox(smtp: tuple[Inbox, str]) -> Inbox:
    return smtp[0]


@pytest.fixture(scope="module")
def hub(own_database_url: str, smtp: tuple[Inbox, str]) -> Iterator[LiveServer]:
    """Kassa on a database of its own (the sending job takes every row due), sending through
    the loopback SMTP server; the consumer has started reading the outbox."""
    live = LiveServer(own_database_url, smtp_url=smtp[1]).start()
    live.call(dispatch(live.ctx, ONLY_RECEIPTS))
    try:
        yield live
    finally:
        live.stop()


ONLY_RECEIPTS = Registry()
ONLY_RECEIPTS.register(receipts.CONSUMER)


def without_smtp(hub: LiveServer) -> Context:
    return replace(hub.ctx, settings=hub.settings.model_copy(update={"smtp_url": None}))


def deliver(hub: LiveServer, ctx: Context | None = None) -> None:
    """Two workers at once run the consumer, then two at once the sending job; twice."""
    used = ctx or hub.ctx

    async def rounds() -> None:
        for _ in range(2):
            await asyncio.gather(dispatch(used, ONLY_RECEIPTS), dispatch(used, ONLY_RECEIPTS))
            await asyncio.gather(receipts.send_due(used), receipts.send_due(used))

    hub.call(rounds())


def shop_api(hub: LiveServer, *, sender: str | None, language: str = "ru") -> httpx.Client:
    setup = make_shop(hub)

    async def configure() -> None:
        shop = await shops.set_language(hub.ctx, shop=setup.shop, language=language)
        await shops.set_email_from(hub.ctx, shop=shop, address=sender)

    hub.call(configure())
    return httpx.Client(
        base_url=hub.url, headers={"Authorization": f"Bearer {setup.key}"}, timeout=30
    )


def emails_of(hub: LiveServer, payment_id: str) -> list[receipts.ReceiptEmail]:
    found = hub.call(receipts.list_emails(hub.ctx, payment_id=payment_id))
    return sorted(found, key=lambda each: each.created_at)


def consumer_failures_of(hub: LiveServer) -> int:
    """How many events the receipt consumer failed on (a second run of it on an event would
    fail on the e-mail's key, were its receipt not there first)."""

    async def count() -> int:
        query = select(func.count()).where(consumer_failures.c.consumer == receipts.NAME)
        async with hub.ctx.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    return hub.call(count())


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def paid(hub: LiveServer, api: httpx.Client, **fields: Any) -> dict[str, Any]:
    payment = create_payment(api, **fields)
    checkout(hub, payment, "pay")
    return payment


def test_a_payment_and_its_refund_each_email_the_customer_once_in_russian(
    hub: LiveServer, inbox: Inbox
) -> None:
    with shop_api(hub, sender="Кофейня <receipts@coffee.example>") as api:
        to = f"{api.headers['Authorization'][-8:]}@buyer.example"
        payment = paid(
            hub, api, amount=75000, description="Кофе и зёрна", customer_email=to, items=LINES
        )
        deliver(hub)
        (letter,) = inbox.to(to)
        (first,) = emails_of(hub, payment["id"])
        assert (first.status, first.attempts, first.error) == ("sent", 1, None)
        assert letter["Subject"].startswith("Подтверждение оплаты — t-")
        assert letter["From"].addresses[0].addr_spec == "receipts@coffee.example"
        assert letter["From"].addresses[0].display_name == "Кофейня"
        assert letter["Message-ID"] == f"<{first.event_id}.receipt@coffee.example>"
        text, html = parts(letter)
        assert f"Оплачено: 750,00{NBSP}₽" in text
        assert f"Кофе: 2 — 500,00{NBSP}₽" in text
        assert f"Зёрна, кг: 0.5 — 250,00{NBSP}₽" in text
        assert f"Номер платежа: {payment['id']}" in text
        assert "Кофе и зёрна" in html
        assert f"750,00{NBSP}₽" in html

        refund = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 25000})
        assert refund.status_code == 201, refund.text
        deliver(hub)
    first_again, refunded = inbox.to(to)
    assert first_again is letter
    assert refunded["Subject"].startswith("Возврат средств — t-")
    text, _ = parts(refunded)
    assert f"вернул вам 250,00{NBSP}₽ по вашему платежу" in text
    assert [(each.status, each.refund_id) for each in emails_of(hub, payment["id"])] == [
        ("sent", None),
        ("sent", refund.json()["id"]),
    ]
    assert consumer_failures_of(hub) == 0


def test_english_and_the_html_escapes_what_the_merchant_wrote(
    hub: LiveServer, inbox: Inbox
) -> None:
    with shop_api(hub, sender="receipts@tea.example", language="en") as api:
        to = f"{api.headers['Authorization'][-8:]}@buyer.example"
        paid(hub, api, description="<b>Tea</b> & cake", customer_email=to)
        deliver(hub)
    (letter,) = inbox.to(to)
    assert letter["Subject"].startswith("Payment receipt from t-")
    text, html = parts(letter)
    assert f"Amount paid: RUB{NBSP}1,500.00" in text
    assert "Description: <b>Tea</b> & cake" in text
    assert "&lt;b&gt;Tea&lt;/b&gt; &amp; cake" in html
    assert "<b>Tea" not in html


def test_without_an_smtp_server_each_email_is_skipped_once_and_said_so(
    hub: LiveServer, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    with shop_api(hub, sender="receipts@shop.example") as api:
        to = f"{api.headers['Authorization'][-8:]}@buyer.example"
        payment = paid(hub, api, customer_email=to)
        with caplog.at_level(logging.WARNING, logger=receipts.__name__):
            deliver(hub, without_smtp(hub))
        deliver(hub)  # a server configured later does not send what was skipped
    (skipped,) = emails_of(hub, payment["id"])
    assert (skipped.status, skipped.error) == ("skipped", "KASSA_SMTP_URL is not set")
    assert inbox.to(to) == []
    assert "receipt e-mail(s) skipped: KASSA_SMTP_URL is not set" in caplog.text


def test_no_sender_skips_and_no_customer_email_writes_nothing(
    hub: LiveServer, inbox: Inbox
) -> None:
    with shop_api(hub, sender=None) as api:
        to = f"{api.headers['Authorization'][-8:]}@buyer.example"
        with_address = paid(hub, api, customer_email=to)
        without = paid(hub, api)
        deliver(hub)
    (skipped,) = emails_of(hub, with_address["id"])
    assert (skipped.status, skipped.error) == ("skipped", receipts.NO_SENDER)
    assert emails_of(hub, without["id"]) == []
    assert inbox.to(to) == []


def test_a_refused_recipient_fails_at_once_an_unreachable_server_is_tried_again(
    hub: LiveServer, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    with free_socket() as sock:
        closed = sock.getsockname()[1]
    unreachable = replace(
        hub.ctx,
        settings=hub.settings.model_copy(
            update={"smtp_url": SecretStr(f"smtp://kassa:{PASSWORD}@127.0.0.1:{closed}")}
        ),
    )
    with shop_api(hub, sender="receipts@shop.example") as api:
        name = api.headers["Authorization"][-8:]
        refused_to, later_to = f"{name}-gone@buyer.example", f"{name}@buyer.example"
        inbox.refused.add(refused_to)
        refused = paid(hub, api, customer_email=refused_to)
        deliver(hub)
        later = paid(hub, api, customer_email=later_to)
        with caplog.at_level(logging.WARNING):
            deliver(hub, unreachable)
    (failed,) = emails_of(hub, refused["id"])
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "550 5.1.1" in (failed.error or "")
    (waiting,) = emails_of(hub, later["id"])
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert "could not reach" in (waiting.error or "")
    assert inbox.to(later_to) == []
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(unreachable.settings)

    deliver(hub)  # not due yet: the first retry waits 10 s
    assert inbox.to(later_to) == []
    deliver(hub, replace(hub.ctx, clock=lambda: utcnow() + timedelta(seconds=11)))
    assert len(inbox.to(later_to)) == 1
    (sent,) = emails_of(hub, later["id"])
    assert (sent.status, sent.attempts, sent.error) == ("sent", 2, None)


def test_the_admin_payment_page_shows_its_emails(hub: LiveServer, inbox: Inbox) -> None:
    with shop_api(hub, sender="receipts@shop.example") as api:
        to = f"{api.headers['Authorization'][-8:]}@buyer.example"
        payment = paid(hub, api, customer_email=to)
        deliver(hub)
    person = signed_in(hub, new_user(hub, Role.VIEWER))
    try:
        page = f"/admin/payments/{payment['id']}"
        english = person.get(page, headers={"Accept-Language": "en"}).text
        russian = person.get(page, headers={"Accept-Language": "ru"}).text
    finally:
        person.close()
    assert "Receipt e-mails" in english
    assert f'<td class="break">{to}</td>' in english
    assert '<td class="break">sent</td>' in english
    assert "Письма покупателю" in russian


def test_an_email_that_cannot_be_written_holds_up_none_of_the_others(
    hub: LiveServer, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    with shop_api(hub, sender="receipts@shop.example") as api:
        name = api.headers["Authorization"][-8:]
        broken_to, fine_to = f"{name}-broken@buyer.example", f"{name}@buyer.example"
        broken = paid(hub, api, customer_email=broken_to)
        paid(hub, api, customer_email=fine_to)

        def render(letter: Letter) -> EmailMessage:
            if letter.recipient == broken_to:
                raise KeyError("a template fault")
            return letters.render(letter)

        monkeypatch.setattr(receipts, "render", render)
        deliver(hub)
    (waiting,) = emails_of(hub, broken["id"])
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.error == "could not write the e-mail: KeyError('a template fault')"
    assert len(inbox.to(fine_to)) == 1
    assert inbox.to(broken_to) == []


def test_the_audit_finds_an_email_without_its_events_receipt(hub: LiveServer) -> None:
    with shop_api(hub, sender=None) as api:
        to = f"{api.headers['Authorization'][-8:]}@buyer.example"
        payment = paid(hub, api, customer_email=to)
        deliver(hub)
    (email,) = emails_of(hub, payment["id"])

    async def findings() -> list[str]:
        async with hub.ctx.db.read() as conn:
            return [each async for each in receipts.audit(conn)]

    assert hub.call(findings()) == []

    async def drop_the_receipt() -> None:
        async with hub.ctx.db.write() as conn:
            await conn.execute(
                delete(consumer_receipts).where(consumer_receipts.c.event_id == email.event_id)
            )

    hub.call(drop_the_receipt())
    assert hub.call(findings()) == [
        f"receipt-emails:{email.event_id}: an e-mail without the event's receipt"
    ]
