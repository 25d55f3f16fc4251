"""The one caller type: what each kind of caller sees, and that it can only be narrowed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, select
from sqlalchemy.dialects import sqlite

from kassa.domain import EventSource, Role, Shop
from kassa.services.admin.audit import Actor
from kassa.services.callers import Caller, CallerKind
from kassa.store.tables import payments, terminals, webhook_endpoints

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SHOP = Shop(id="shop_a", name="a", created_at=NOW)
OTHER = Shop(id="shop_b", name="b", created_at=NOW)


def where(caller: Caller, table: Table) -> str:
    query = select(table.c.id).where(*caller.scope(table))
    compiled = query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    text = str(compiled)
    return text.split("WHERE", 1)[1].strip() if "WHERE" in text else ""


def test_an_api_key_sees_its_shop_and_mode() -> None:
    key = Caller.api_key(SHOP, test=True, key_id="key_1")
    assert key.kind is CallerKind.API_KEY
    assert (key.own_shop, key.own_mode, key.source) == (SHOP, True, EventSource.API)
    assert where(key, payments) == "payments.shop_id = 'shop_a' AND payments.test = 1"
    # Terminals belong to a shop, not to a mode.
    assert where(key, terminals) == "terminals.shop_id = 'shop_a'"


def test_staff_and_the_system_see_everything_until_narrowed() -> None:
    staff = Caller.staff(Actor(name="ann", user_id="usr_1"), role=Role.OPERATOR)
    system = Caller.system()
    for caller in (staff, system):
        assert where(caller, payments) == ""
        with pytest.raises(ValueError, match="every shop"):
            _ = caller.own_shop
        with pytest.raises(ValueError, match="both modes"):
            _ = caller.own_mode
    narrowed = staff.within(shop=SHOP, test=False)
    assert where(narrowed, webhook_endpoints) == (
        "webhook_endpoints.shop_id = 'shop_a' AND webhook_endpoints.test = 0"
    )
    assert (narrowed.actor, narrowed.role) == (staff.actor, Role.OPERATOR)
    assert narrowed.audited is staff.audited  # one request, one record of what it audited
    assert system.source is EventSource.SYSTEM


def test_a_caller_can_only_be_narrowed() -> None:
    key = Caller.api_key(SHOP, test=True, key_id="key_1")
    assert key.within(shop=SHOP, test=True) == key
    with pytest.raises(ValueError, match="cannot act for shop_b"):
        key.within(shop=OTHER)
    with pytest.raises(ValueError, match="cannot act in the other"):
        key.within(test=False)
