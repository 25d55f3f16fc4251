"""What the payer must do, typed at every layer: the provider's value, the document the payment
keeps and the API shows, the API schema, and the Python client's value."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter

from kassa import client
from kassa.client.models import read_confirmation
from kassa.providers import (
    Confirmation,
    CryptoTransferConfirmation,
    InvoiceLinkConfirmation,
    QrConfirmation,
    RedirectConfirmation,
    RequisitesConfirmation,
    TerminalConfirmation,
    WidgetConfirmation,
)
from kassa.services.objects import confirmation_object
from kassa.web import schemas

EXPIRES = datetime(2026, 11, 22, 6, 40, tzinfo=UTC)

#: One of each kind, and the document the payment keeps and the API shows for it.
EXAMPLES: list[tuple[Confirmation, dict[str, Any]]] = [
    (
        RedirectConfirmation("https://pay.example/c/1"),
        {"type": "redirect", "url": "https://pay.example/c/1"},
    ),
    (
        QrConfirmation("https://qr.nspk.ru/AD10006M", image_url="https://pay.example/qr/1.png"),
        {
            "type": "qr",
            "payload": "https://qr.nspk.ru/AD10006M",
            "image_url": "https://pay.example/qr/1.png",
        },
    ),
    (
        QrConfirmation("https://qr.nspk.ru/AD10006M"),
        {"type": "qr", "payload": "https://qr.nspk.ru/AD10006M", "image_url": None},
    ),
    (
        RequisitesConfirmation(
            amount=150037,
            currency="RUB",
            pan="2200700112345678",
            bank="T-Bank",
            holder="Ivan I.",
            expires_at=EXPIRES,
            url="https://pay.example/order/1",
        ),
        {
            "type": "requisites",
            "amount": 150037,
            "currency": "RUB",
            "pan": "2200700112345678",
            "phone": None,
            "bank": "T-Bank",
            "holder": "Ivan I.",
            "expires_at": "2026-11-22T06:40:00Z",
            "url": "https://pay.example/order/1",
        },
    ),
    (
        RequisitesConfirmation(amount=150000, currency="RUB", phone="+79001234567"),
        {
            "type": "requisites",
            "amount": 150000,
            "currency": "RUB",
            "pan": None,
            "phone": "+79001234567",
            "bank": None,
            "holder": None,
            "expires_at": None,
            "url": None,
        },
    ),
    (
        CryptoTransferConfirmation(
            address="TQ4ZpoSXXcr9wKLRTHqknqNT5jQWCxMnFX",
            amount="10.000137",
            asset="USDT",
            network="TRC20",
            payload="TQ4ZpoSXXcr9wKLRTHqknqNT5jQWCxMnFX",
            expires_at=EXPIRES,
        ),
        {
            "type": "crypto_transfer",
            "address": "TQ4ZpoSXXcr9wKLRTHqknqNT5jQWCxMnFX",
            "amount": "10.000137",
            "asset": "USDT",
            "network": "TRC20",
            "payload": "TQ4ZpoSXXcr9wKLRTHqknqNT5jQWCxMnFX",
            "expires_at": "2026-11-22T06:40:00Z",
        },
    ),
    (
        InvoiceLinkConfirmation("https://t.me/CryptoBot?start=IVabc"),
        {"type": "invoice_link", "url": "https://t.me/CryptoBot?start=IVabc"},
    ),
    (
        WidgetConfirmation("https://widget.example/w.js", {"publicId": "pk_1", "amount": 1500.5}),
        {
            "type": "widget",
            "script": "https://widget.example/w.js",
            "params": {"publicId": "pk_1", "amount": 1500.5},
        },
    ),
    (TerminalConfirmation("KIOSK_001"), {"type": "terminal", "terminal": "KIOSK_001"}),
]

SCHEMA: TypeAdapter[Any] = TypeAdapter(schemas.Confirmation)


def schema_kinds() -> set[str]:
    """The `type` of every member of the API schema's union."""
    union, _ = typing.get_args(schemas.Confirmation)
    return {
        typing.get_args(member.model_fields["type"].annotation)[0]
        for member in typing.get_args(union)
    }


def test_every_kind_is_in_the_examples_the_schema_and_the_client() -> None:
    provided = {value.type for value, _ in EXAMPLES}
    declared = {member.type for member in typing.get_args(Confirmation)}
    assert provided == declared
    assert schema_kinds() == declared
    known = {
        member.__dataclass_fields__["type"].default
        for member in typing.get_args(client.Confirmation)
        if member is not client.OtherConfirmation
    }
    assert (
        known
        == declared
        == {
            "redirect",
            "qr",
            "requisites",
            "crypto_transfer",
            "invoice_link",
            "widget",
            "terminal",
        }
    )


@pytest.mark.parametrize(("value", "document"), EXAMPLES)
def test_the_document_is_what_the_schema_shows(
    value: Confirmation, document: dict[str, Any]
) -> None:
    assert confirmation_object(value) == document
    shown = SCHEMA.dump_python(SCHEMA.validate_python(document), mode="json")
    if value.type == "terminal":
        # What the terminal answers is added later; until then the API shows it as null.
        document = {**document, "request_id": None, "result": None, "error": None}
    assert shown == document


@pytest.mark.parametrize(("value", "document"), EXAMPLES)
def test_the_client_reads_each_kind(value: Confirmation, document: dict[str, Any]) -> None:
    read = read_confirmation(document)
    assert read is not None
    assert read.type == value.type
    for name, expected in document.items():
        got = getattr(read, name)
        if name == "expires_at" and expected is not None:
            got = got.isoformat().replace("+00:00", "Z")
        assert got == expected, name


def test_the_client_reads_what_the_terminal_answered() -> None:
    read = read_confirmation(
        {
            "type": "terminal",
            "terminal": "KIOSK_001",
            "request_id": "req_1",
            "result": {"status": "ok"},
            "error": None,
        }
    )
    assert read == client.TerminalConfirmation(
        "KIOSK_001", request_id="req_1", result={"status": "ok"}
    )


def test_the_client_keeps_a_kind_it_does_not_know() -> None:
    document = {"type": "hologram", "beam": 7}
    read = read_confirmation(document)
    assert read == client.OtherConfirmation("hologram", raw=document)
    assert read_confirmation(None) is None


def test_a_payment_carries_its_typed_confirmation() -> None:
    payment = client.Payment.from_api(
        {
            "id": "pay_1",
            "status": "pending",
            "amount": 150000,
            "currency": "RUB",
            "amount_captured": 0,
            "amount_refunded": 0,
            "provider": "sandbox",
            "test": True,
            "created_at": "2026-11-22T06:25:29.149865Z",
            "confirmation": {"type": "redirect", "url": "https://pay.example/c/1"},
        }
    )
    assert payment.confirmation == client.RedirectConfirmation("https://pay.example/c/1")
    assert payment.confirmation_url == "https://pay.example/c/1"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"amount": 100, "currency": "RUB"}, "one of them"),
        (
            {"amount": 100, "currency": "RUB", "pan": "2200700112345678", "phone": "+79001"},
            "one of them",
        ),
        ({"amount": 0, "currency": "RUB", "phone": "+79001234567"}, "positive"),
    ],
)
def test_requisites_name_one_account_and_a_positive_amount(
    kwargs: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        RequisitesConfirmation(**kwargs)
