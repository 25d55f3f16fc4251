"""Helpers for tests: shops, payments, sandbox notifications."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import RowMapping, select, update

from kassa.domain import ProviderAccount, Shop
from kassa.providers.sandbox import SIGNATURE_HEADER, sign
from kassa.providers.wire import value_amount
from kassa.services.context import Context, utcnow
from kassa.services.shops import keys, shops
from kassa.store.tables import events, metadata, notifications, sandbox_payments

if TYPE_CHECKING:
    from tests.live import LiveServer


@dataclass(frozen=True)
class ShopSetup:
    shop: Shop
    sandbox: ProviderAccount
    key: str

    @property
    def name(self) -> str:
        return self.shop.name

    @property
    def secret(self) -> str:
        return self.sandbox.credentials["secret"]


def later(server: LiveServer, delta: timedelta) -> Context:
    """The server's context with its clock `delta` ahead, for jobs that wait for time to pass."""
    return replace(server.ctx, clock=lambda: utcnow() + delta)


def make_shop(server: LiveServer, *, live_key: bool = False) -> ShopSetup:
    """A new shop named `t-<random>` with a sandbox account and an API key."""

    async def setup() -> ShopSetup:
        ctx = server.ctx
        shop = await shops.create_shop(ctx, name=f"t-{secrets.token_hex(5)}")
        configured = await shops.configure_provider(ctx, shop=shop, provider="sandbox", settings={})
        sandbox = configured.account
        _, key = await keys.create_key(ctx, shop=shop, live=live_key)
        return ShopSetup(shop=shop, sandbox=sandbox, key=key)

    return server.call(setup())


@dataclass(frozen=True)
class ProviderShop:
    """A new shop with one account of a real provider (pointed at its emulator) and a key."""

    shop: Shop
    account: ProviderAccount
    key: str

    @property
    def name(self) -> str:
        return self.shop.name

    def api(self, server: LiveServer) -> httpx.Client:
        """A merchant API client for this shop (close it, or use it in a `with`)."""
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def make_provider_shop(
    server: LiveServer, provider: str, settings: dict[str, str], *, live: bool = False
) -> ProviderShop:
    """A new shop named `t-<random>` whose only account is `provider` with `settings` (the
    provider's credentials, `api_url` of its emulator); a test account unless `live`."""

    async def setup() -> ProviderShop:
        ctx = server.ctx
        shop = await shops.create_shop(ctx, name=f"t-{secrets.token_hex(5)}")
        # Every new shop has the sandbox in test mode: switched off, `provider` is the only one.
        await shops.configure_provider(
            ctx, shop=shop, provider="sandbox", settings={"enabled": "false"}
        )
        configured = await shops.configure_provider(
            ctx, shop=shop, provider=provider, settings={**settings, "test": str(not live)}
        )
        _, key = await keys.create_key(ctx, shop=shop, live=live)
        return ProviderShop(shop=shop, account=configured.account, key=key)

    return server.call(setup())


def create_payment(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"amount": 150000, "currency": "RUB", **fields}
    response = api.post("/v1/payments", json=body)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def paid_silently_at_the_sandbox(
    server: LiveServer, payment: Mapping[str, Any], *, hold: bool = False
) -> None:
    """The payer paid at the sandbox (with `hold`: the money is only authorized), and its
    notification was lost."""
    paid = {"status": "succeeded", "amount_captured": payment["amount"]}
    values = {"status": "authorized"} if hold else paid

    async def pay() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(
                update(sandbox_payments)
                .where(sandbox_payments.c.order_id == payment["id"])
                .values(**values)
            )

    server.call(pay())


def checkout(server: LiveServer, payment: Mapping[str, Any], action: str) -> httpx.Response:
    """Press a button on the sandbox checkout page of `payment`."""
    url = payment["confirmation"]["url"]
    return httpx.post(url, data={"action": action, "lang": "en"}, timeout=30)


def sandbox_notification(
    secret: str, payment: dict[str, Any], status: str, *, event_id: str | None = None, **fields: Any
) -> tuple[bytes, dict[str, str]]:
    """A signed sandbox notification saying `payment` is now `status` at the sandbox."""
    amount = value_amount(payment["amount"], payment["currency"])
    document = {
        "id": event_id or f"sbxevt_{secrets.token_hex(8)}",
        "type": f"payment.{status}",
        "created_at": "2026-11-22T00:00:00Z",
        "object": {
            "id": payment["provider_payment_id"],
            "order_id": payment["id"],
            "status": status,
            "amount": amount,
            "amount_captured": amount if status == "succeeded" else None,
            **fields,
        },
    }
    body = json.dumps(document).encode()
    return body, {"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body)}


def stored_notifications(server: LiveServer, shop_ref: str) -> list[RowMapping]:
    """The notifications stored for a shop name, oldest first."""

    async def read() -> list[RowMapping]:
        query = (
            select(notifications)
            .where(notifications.c.shop_ref == shop_ref)
            .order_by(notifications.c.received_at, notifications.c.id)
        )
        async with server.ctx.db.read() as conn:
            return list((await conn.execute(query)).mappings())

    return server.call(read())


def event_types(server: LiveServer, payment_id: str) -> list[str]:
    """The types of a payment's events, in the order they were written."""

    async def read() -> list[str]:
        query = select(events.c.type).where(events.c.payment_id == payment_id)
        async with server.ctx.db.read() as conn:
            return list((await conn.execute(query.order_by(events.c.seq))).scalars())

    return server.call(read())


def count_events(server: LiveServer, payment_id: str, type: str) -> int:
    """How many events of `type` the payment has."""
    return event_types(server, payment_id).count(type)


def stored_text(server: LiveServer) -> str:
    """Everything the server's database holds, as text: every row of every table (bytes read
    as Latin-1, so any text in them shows as it is)."""

    def text(value: object) -> str:
        return value.decode("latin-1") if isinstance(value, bytes) else str(value)

    async def read() -> str:
        lines: list[str] = []
        async with server.ctx.db.read() as conn:
            for table in metadata.sorted_tables:
                for row in await conn.execute(select(table)):
                    lines.append(" ".join(text(value) for value in row))
        return "\n".join(lines)

    return server.call(read())
