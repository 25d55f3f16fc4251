"""The receipt's lines, contacts and a shop's fiscal settings (domain/receipts.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kassa.domain import ParameterInvalid
from kassa.domain.receipts import (
    FiscalSettings,
    items_from_documents,
    read_email,
    read_items,
    read_phone,
    read_quantity,
)


@pytest.mark.parametrize(
    ("given", "exact"),
    [(1, "1"), ("2", "2"), ("2.000", "2"), ("0.5", "0.5"), ("1.250", "1.25"), ("0.001", "0.001")],
)
def test_quantities_are_exact_decimals(given: int | str, exact: str) -> None:
    assert str(read_quantity(given)) == exact


@pytest.mark.parametrize("given", [0, -1, "0", "1.2345", "abc", "NaN", "Infinity", 1.5, True, None])
def test_inexact_or_nonpositive_quantities_are_refused(given: object) -> None:
    with pytest.raises(ParameterInvalid):
        read_quantity(given)


def test_lines_must_add_up_to_the_amount_exactly() -> None:
    lines = [
        {"description": "Coffee", "quantity": 2, "price": 25000},
        {"description": "Beans", "quantity": "0.5", "price": 100000, "vat_code": 3},
    ]
    items = read_items(lines, amount=100000)
    assert [item.amount for item in items] == [50000, 50000]
    assert items[1].quantity == Decimal("0.5")
    with pytest.raises(ParameterInvalid, match="add up to 100000") as refused:
        read_items(lines, amount=100001)
    assert refused.value.param == "items"


def test_a_line_worth_a_fraction_of_a_kopeck_is_refused() -> None:
    with pytest.raises(ParameterInvalid, match="whole number") as refused:
        read_items([{"description": "Tea", "quantity": "0.333", "price": 100}], amount=33)
    assert refused.value.param == "items[0].quantity"


@pytest.mark.parametrize(
    ("line", "param"),
    [
        ({"description": "", "quantity": 1, "price": 100}, "items[0].description"),
        ({"description": "x" * 129, "quantity": 1, "price": 100}, "items[0].description"),
        ({"description": "a\x00b", "quantity": 1, "price": 100}, "items[0].description"),
        ({"description": "A", "quantity": 1, "price": 0}, "items[0].price"),
        ({"description": "A", "quantity": 1, "price": "100"}, "items[0].price"),
        ({"description": "A", "quantity": 1, "price": 100, "vat_code": 13}, "items[0].vat_code"),
        (
            {"description": "A", "quantity": 1, "price": 100, "payment_subject": "goods"},
            "items[0].payment_subject",
        ),
        (
            {"description": "A", "quantity": 1, "price": 100, "payment_mode": "cash"},
            "items[0].payment_mode",
        ),
    ],
)
def test_bad_lines_name_the_field(line: dict[str, object], param: str) -> None:
    with pytest.raises(ParameterInvalid) as refused:
        read_items([line], amount=100)
    assert refused.value.param == param


def test_no_lines_or_too_many_are_refused() -> None:
    with pytest.raises(ParameterInvalid):
        read_items([], amount=100)
    with pytest.raises(ParameterInvalid):
        read_items([{"description": "A", "quantity": 1, "price": 1}] * 101, amount=101)


def test_stored_lines_come_back_the_same() -> None:
    items = read_items(
        [{"description": "Kg", "quantity": "1.5", "price": 200, "payment_mode": "advance"}],
        amount=300,
    )
    assert items_from_documents([item.document() for item in items]) == items
    assert items[0].document()["quantity"] == "1.5"


def test_contacts() -> None:
    assert read_email("a.b@example.ru") == "a.b@example.ru"
    assert read_phone("+7 (900) 123-45-67") == "+79001234567"
    assert read_phone("79001234567") == "+79001234567"
    for bad in ("nobody", "a@b", "a b@c.d", "a\x00@b.c"):
        with pytest.raises(ParameterInvalid):
            read_email(bad)
    for bad in ("12345", "+7900abc4567", "+7900123456789012"):
        with pytest.raises(ParameterInvalid):
            read_phone(bad)


def test_fiscal_settings_check_their_codes() -> None:
    settings = FiscalSettings(tax_system_code=2, vat_code=1)
    assert FiscalSettings.from_document(settings.document()) == settings
    assert FiscalSettings.from_document(None) is None
    with pytest.raises(ParameterInvalid, match="tax_system_code"):
        FiscalSettings(tax_system_code=7, vat_code=1)
    with pytest.raises(ParameterInvalid, match="payment_mode"):
        FiscalSettings(tax_system_code=1, vat_code=1, payment_mode="whenever")
