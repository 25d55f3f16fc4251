"""The bot's pending-payment messages in each confirmation's shape, and the check button's
per-buyer limit."""

from __future__ import annotations

from typing import Any

from kassa.bot.confirmations import show
from kassa.bot.paying import Limiter
from kassa.bot.texts import Texts

EN = Texts("en", "Europe/Moscow")
RU = Texts("ru", "Europe/Moscow")


def shown(texts: Texts, confirmation: dict[str, Any] | None) -> Any:
    return show(
        texts,
        what="1 month",
        amount=10_000,
        currency="RUB",
        payment_id="pay_1",
        confirmation=confirmation,
    )


def buttons(message: Any) -> list[dict[str, Any]]:
    return [
        b.model_dump(exclude_none=True) for row in message.keyboard.inline_keyboard for b in row
    ]


def test_a_page_to_pay_on_is_a_link_button_and_the_check_button_is_last() -> None:
    for kind in ("redirect", "invoice_link"):
        message = shown(RU, {"type": kind, "url": "https://pay.example/1"})
        assert "1 month за 100,00\xa0₽." in message.text
        assert buttons(message) == [
            {"text": "Оплатить 100,00\xa0₽", "url": "https://pay.example/1"},
            {"text": "Проверить оплату", "callback_data": "check:pay_1"},
        ]
        assert message.photo is None


def test_requisites_are_text_with_the_exact_amount_and_until_when() -> None:
    confirmation = {
        "type": "requisites",
        "amount": 10_037,
        "currency": "RUB",
        "pan": "2200 1234 5678 9012",
        "phone": None,
        "bank": "Sber",
        "holder": "Ivan I.",
        "expires_at": "2026-12-06T12:00:00Z",
        "url": None,
    }
    message = shown(EN, confirmation)
    assert "Transfer exactly RUB\xa0100.37 to 2200 1234 5678 9012." in message.text
    assert "Bank: Sber" in message.text
    assert "Recipient: Ivan I." in message.text
    assert "Valid until" in message.text
    assert "3:00:00" in message.text  # Moscow time
    assert [b["callback_data"] for b in buttons(message)] == ["check:pay_1"]


def test_a_crypto_transfer_names_the_address_the_exact_amount_and_the_network() -> None:
    confirmation = {
        "type": "crypto_transfer",
        "address": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE",
        "amount": "1.000137",
        "asset": "USDT",
        "network": "TRC20",
        "payload": "tron:TQn9…",
        "expires_at": None,
    }
    message = shown(EN, confirmation)
    assert "Send exactly 1.000137 USDT (network TRC20)" in message.text
    assert "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE" in message.text


def test_a_qr_is_a_picture_of_its_payload() -> None:
    message = shown(EN, {"type": "qr", "payload": "https://qr.kaspi.kz/1", "image_url": None})
    assert message.photo is not None
    assert message.photo.startswith(b"\x89PNG")
    assert "Scan the QR code" in message.text


def test_the_check_limit_is_per_buyer_and_lifts_after_its_time() -> None:
    now = [100.0]
    limiter = Limiter(10.0, clock=lambda: now[0])
    assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")
    now[0] += 9.9
    assert not limiter.allow("a")
    now[0] += 0.2
    assert limiter.allow("a")
