"""Receipt e-mails without a database: the SMTP URL, sender addresses, and the letter in each
language (plain text and HTML, escaped, exact money)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kassa.config import Settings, SmtpServer
from kassa.domain.receipts import ReceiptItem
from kassa.services.emails.letters import Letter, one_address, render

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", SmtpServer("mail.example", 25)),
        ("smtps://u:p@mail.example", SmtpServer("mail.example", 465, "u", "p", "tls")),
        (
            "smtp://u%40shop.ru:p%3Aw%2Fd@mail.example:587?starttls=required",
            SmtpServer("mail.example", 587, "u@shop.ru", "p:w/d", "starttls"),
        ),
    ],
)
def test_smtp_urls(url: str, expected: SmtpServer) -> None:
    assert SmtpServer.parse(url) == expected


@pytest.mark.parametrize(
    "url", ["http://mail.example", "smtp://", "smtp://h?starttls=maybe", "mail.example:25"]
)
def test_what_is_not_an_smtp_url(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL"):
        SmtpServer.parse(url)


def test_the_password_shows_nowhere() -> None:
    settings = Settings(smtp_url="smtp://user:hunter2-pw@mail.example:587")
    assert settings.smtp_server == SmtpServer("mail.example", 587, "user", "hunter2-pw")
    assert "hunter2-pw" not in repr(settings)
    assert "hunter2-pw" not in repr(settings.smtp_server)
    bad = Settings(smtp_url="ftp://user:hunter2-pw@mail.example")
    with pytest.raises(ValueError, match="SMTP URL") as raised:
        _ = bad.smtp_server
    assert "hunter2-pw" not in str(raised.value)
    assert Settings(smtp_url="").smtp_server is None  # as compose passes an unset one


@pytest.mark.parametrize(
    "address", ["receipts@shop.ru", "My shop <receipts@shop.ru>", "Кофейня <r@coffee.example>"]
)
def test_sender_addresses(address: str) -> None:
    assert one_address(address) == address


@pytest.mark.parametrize(
    "address",
    ["receipts", "a@b.ru, c@d.ru", "<a@b.ru", "x <a@>", "a@b.ru\nBcc: x@y.ru", "чек@пример.рф"],
)
def test_what_is_not_one_sender_address(address: str) -> None:
    with pytest.raises(ValueError, match="not one e-mail address"):
        one_address(address)


def letter(**fields: object) -> Letter:
    base: dict[str, object] = {
        "event_id": "evt_1",
        "kind": "payment",
        "shop_name": "coffee",
        "language": "ru",
        "timezone": "Europe/Moscow",
        "sender": "Coffee <r@coffee.example>",
        "recipient": "buyer@example.ru",
        "payment_id": "pay_1",
        "description": "Beans & <cups>",
        "amount": 100050,
        "currency": "RUB",
        "happened_at": datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
        "lines": (ReceiptItem("Beans", Decimal("0.5"), 200100),),
    }
    return Letter(**{**base, **fields})  # type: ignore[arg-type]


def bodies(found: Letter) -> tuple[str, str, str]:
    message = render(found)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return str(message["Subject"]), text.get_content(), html.get_content()


def test_a_russian_payment_letter() -> None:
    subject, text, html = bodies(letter())
    assert subject == "Подтверждение оплаты — coffee"
    assert "Спасибо! coffee получил ваш платёж." in text
    assert f"Оплачено: 1{NBSP}000,50{NBSP}₽" in text
    assert f"Beans: 0.5 — 1{NBSP}000,50{NBSP}₽" in text
    assert "Дата: 6 дек. 2026" in text
    assert "12:30:00" in text  # in the shop's time zone
    assert "Beans & <cups>" in text
    assert "Beans &amp; &lt;cups&gt;" in html
    assert "<cups>" not in html


def test_an_english_refund_letter_and_an_unknown_language() -> None:
    subject, text, _ = bodies(letter(kind="refund", refund_amount=50, language="en"))
    assert subject == "Refund from coffee"
    assert f"coffee has refunded RUB{NBSP}0.50 of your payment." in text
    assert f"Amount refunded: RUB{NBSP}0.50" in text
    assert bodies(letter(language="de"))[0] == "Payment receipt from coffee"


def test_the_headers() -> None:
    message = render(letter())
    assert message["Message-ID"] == "<evt_1.receipt@coffee.example>"
    assert message["To"] == "buyer@example.ru"
    assert message["Content-Language"] == "ru"
    assert message["Date"] == "Sun, 06 Dec 2026 09:30:00 +0000"
