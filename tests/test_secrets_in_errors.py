"""A failing statement's error (logged with its traceback) does not show the values it was
given: they may be credentials, secrets or hashes of keys."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy.exc import IntegrityError

from kassa.services.context import utcnow
from kassa.store.tables import hub_secrets
from tests.live import LiveServer


def test_a_database_error_does_not_show_its_parameters(server: LiveServer) -> None:
    name, value = f"t-{secrets.token_hex(4)}", secrets.token_urlsafe(24)

    async def twice() -> str:
        row = {"name": name, "value": value, "created_at": utcnow()}
        for _ in range(2):
            try:
                async with server.ctx.db.write() as conn:
                    await conn.execute(hub_secrets.insert(), row)
            except IntegrityError as error:
                return str(error)
        pytest.fail("the second insert should have failed")

    error = server.call(twice())
    assert "hidden due to hide_parameters" in error
    assert value not in error
