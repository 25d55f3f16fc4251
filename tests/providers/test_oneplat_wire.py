"""1Plat's wire format alone: amounts, statuses, both signatures, and reading its answers."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kassa.domain import AmountInvalid, Money, NotificationRejected, PaymentStatus
from kassa.providers.base import RedirectConfirmation, RequisitesConfirmation
from kassa.providers.oneplat.wire import (
    OnePlatStatus,
    confirmation,
    created_payment,
    kassa_status,
    load,
    read_callback,
    read_order,
    whole_rubles,
)

SHOP, SECRET = "4242", "s3cret"


def test_amounts_are_whole_rubles() -> None:
    assert whole_rubles(150000) == "1500"
    assert whole_rubles(100) == "1"
    with pytest.raises(AmountInvalid, match=r"whole rubles only: 1500\.01 RUB"):
        whole_rubles(150001)


@pytest.mark.parametrize(
    ("status", "on_1", "on_2"),
    [
        (OnePlatStatus.NO_REQUISITES, PaymentStatus.FAILED, PaymentStatus.FAILED),
        (OnePlatStatus.CREATED, PaymentStatus.PENDING, PaymentStatus.PENDING),
        (OnePlatStatus.AWAITING, PaymentStatus.PENDING, PaymentStatus.PENDING),
        (OnePlatStatus.PAID, PaymentStatus.SUCCEEDED, PaymentStatus.PENDING),
        (OnePlatStatus.CONFIRMED, PaymentStatus.SUCCEEDED, PaymentStatus.SUCCEEDED),
    ],
)
def test_every_status_is_mapped(
    status: OnePlatStatus, on_1: PaymentStatus, on_2: PaymentStatus
) -> None:
    assert kassa_status(status, succeed_on=1) == on_1
    assert kassa_status(status, succeed_on=2) == on_2


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - 1Plat's signature_v2


def test_signature_v2_signs_the_amount_exactly_as_sent() -> None:
    """`"amount": 100.00` is signed as "100.00": the MD5 takes the callback's own text."""

    def raw(signature: str) -> bytes:
        return (
            '{"guid":"g-1","merchant_id":"4242","amount":100.00,"status":1,'
            f'"signature_v2":"{signature}"}}'
        ).encode()

    good = read_callback(raw(md5(f"4242100.00{SHOP}{SECRET}")))
    assert (good.amount, good.status) == ("100.00", "1")
    assert good.signed_by(SHOP, SECRET)
    reformatted = read_callback(raw(md5(f"4242100{SHOP}{SECRET}")))
    assert not reformatted.signed_by(SHOP, SECRET)
    assert not good.signed_by(SHOP, "other")
    assert not good.signed_by("4243", SECRET)


def hmac_hex(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


FIELDS = '"guid":"g-1","merchant_id":"4242","user_id":"Пётр","status":1,"amount":100'


@pytest.mark.parametrize(
    "signed",
    [
        # JavaScript's JSON.stringify of the body without its signatures: keys as sent.
        "{" + FIELDS + "}",
        # Python's json.dumps(sort_keys=True, separators=(",", ":")): sorted, ASCII only.
        json.dumps(
            {"guid": "g-1", "merchant_id": "4242", "user_id": "Пётр", "status": 1, "amount": 100},
            sort_keys=True,
            separators=(",", ":"),
        ),
    ],
)
def test_signature_is_an_hmac_of_either_serialization(signed: str) -> None:
    body = '{"signature":"' + hmac_hex(signed) + '","signature_v2":"junk",' + FIELDS + "}"
    assert read_callback(body.encode()).signed_by(SHOP, SECRET)
    upper = '{"signature":"' + hmac_hex(signed).upper() + '",' + FIELDS + "}"
    assert read_callback(upper.encode()).signed_by(SHOP, SECRET)
    changed = body.replace('"status":1', '"status":2')
    assert not read_callback(changed.encode()).signed_by(SHOP, SECRET)


@pytest.mark.parametrize(
    "raw",
    [b"", b"[]", b"not json", b'{"status":1}', b'{"guid":""}', b'{"guid":{"a":1}}'],
)
def test_an_unreadable_callback_is_rejected(raw: bytes) -> None:
    with pytest.raises(NotificationRejected, match="Unreadable 1Plat callback"):
        read_callback(raw)


def test_a_callback_without_signatures_proves_nothing() -> None:
    assert not read_callback(b'{"guid":"g-1","amount":100,"merchant_id":"1"}').signed_by(
        SHOP, SECRET
    )


@pytest.mark.parametrize(
    "document",
    [
        {"success": True, "guid": "g-1", "payment": {"status": 1, "amount": 1500}},
        {"success": 1, "guid": "g-1", "status": "1", "amount": "1500.00"},
    ],
)
def test_order_info_is_read_nested_or_flat(document: dict[str, Any]) -> None:
    order = read_order(load(json.dumps(document).encode()))
    assert (order.guid, order.status, order.amount) == (
        "g-1",
        OnePlatStatus.PAID,
        Money(150000, "RUB"),
    )
    update = order.update(succeed_on=1)
    assert (update.status, update.provider_payment_id) == (PaymentStatus.SUCCEEDED, "g-1")


def test_an_unknown_status_is_kept_as_its_code() -> None:
    order = read_order(load(b'{"guid":"g-1","payment":{"status":9}}'))
    assert (order.status, order.code) == (None, "9")
    assert order.update(succeed_on=1).status == PaymentStatus.PENDING


@pytest.mark.parametrize(
    "raw",
    [b'{"success":false,"guid":"g-1","status":1}', b'{"guid":"g-1"}', b'{"status":1}'],
)
def test_an_unreadable_order_is_refused(raw: bytes) -> None:
    with pytest.raises((ValueError, KeyError)):
        read_order(load(raw))


def test_requisites_are_read_exactly() -> None:
    document = load(
        b'{"payment":{"method_group":"card","amount_to_pay":1500.5,'
        b'"expired":"2026-12-06T15:00:00+03:00",'
        b'"note":{"pan":"+79990001122","bank":"Bank","fio":"I. I."}}}'
    )
    found = confirmation(document, "https://pay.example/g", "card")
    assert found == RequisitesConfirmation(
        amount=150050,
        currency="RUB",
        phone="+79990001122",  # a phone number, whatever the method said
        bank="Bank",
        holder="I. I.",
        expires_at=datetime(2026, 12, 6, 12, tzinfo=UTC),
        url="https://pay.example/g",
    )


def test_an_expiry_without_its_zone_is_not_shown() -> None:
    document = load(
        b'{"payment":{"amount_to_pay":100,"expired":"2026-12-06 15:00:00","note":{"pan":"2200"}}}'
    )
    found = confirmation(document, "https://pay.example/g", "card")
    assert isinstance(found, RequisitesConfirmation)
    assert (found.pan, found.expires_at) == ("2200", None)


def test_without_requisites_the_page_is_the_confirmation() -> None:
    created = created_payment(
        load(b'{"success":true,"guid":"g-2","payment":{"status":-1}}'), method="sbp"
    )
    assert created.provider_payment_id == "g-2"
    assert created.confirmation == RedirectConfirmation("https://pay.1plat.cash/pay/g-2")
