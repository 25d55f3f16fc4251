"""Kiosk terminals, the first kind of device: adding and finding them, and their rules
(`RULES`: a payment's answer moves the payment, `kassa.services.devices.terminal_payments`).
How the API shows them and their operations is the web layer's (`kassa.web.objects`).

Adding a terminal also makes sure the shop has `terminal` provider accounts (live and test),
so `POST /v1/payments {"terminal": …}` works at once; a payment that names no terminal never
goes to them (`kassa.services.shops.shops.choose_account`). Revoking, enabling, disabling and
presence are the device core's (`registry`, `presence`).
"""

from __future__ import annotations

from sqlalchemy import select

from kassa.domain import Shop
from kassa.domain.devices import DeviceKind
from kassa.domain.terminals import Terminal
from kassa.services.admin.audit import Actor
from kassa.services.context import Context
from kassa.services.devices import registry
from kassa.services.devices import tokens as device_tokens
from kassa.services.devices.kinds import DeviceRules
from kassa.services.devices.registry import Issued
from kassa.services.devices.terminal_payments import settle_payment
from kassa.services.shops import shops
from kassa.store.tables import provider_accounts

KIND = DeviceKind.TERMINAL
RULES = DeviceRules(KIND, settle=settle_payment)


async def add_terminal(
    ctx: Context,
    *,
    shop: Shop,
    terminal_id: str,
    name: str | None = None,
    location: str | None = None,
    actor: Actor | None = None,
) -> Issued:
    """A new terminal of `shop` and its first token."""
    terminal = await registry.add_device(
        ctx,
        kind=KIND,
        shop=shop,
        device_id=terminal_id,
        name=name,
        location=location,
        actor=actor,
    )
    await _ensure_accounts(ctx, shop)
    return Issued(terminal, await device_tokens.issue(ctx, terminal))


async def _ensure_accounts(ctx: Context, shop: Shop) -> None:
    async with ctx.db.read() as conn:
        existing = set(
            (
                await conn.execute(
                    select(provider_accounts.c.test).where(
                        provider_accounts.c.shop_id == shop.id,
                        provider_accounts.c.provider == "terminal",
                    )
                )
            ).scalars()
        )
    for test in {False, True} - existing:
        await shops.configure_provider(
            ctx, shop=shop, provider="terminal", settings={"test": str(test).lower()}
        )


async def get_terminal(ctx: Context, *, shop_id: str, terminal_id: str) -> Terminal:
    return await registry.get_device(ctx, kind=KIND, shop_id=shop_id, device_id=terminal_id)


async def find_terminal(ctx: Context, *, terminal_id: str, shop: Shop | None = None) -> Terminal:
    """A terminal by id, in `shop` or, for operators, in whichever shop has it."""
    return await registry.find_device(ctx, kind=KIND, device_id=terminal_id, shop=shop)


async def list_terminals(ctx: Context, *, shop_id: str | None = None) -> list[Terminal]:
    return await registry.list_devices(ctx, kind=KIND, shop_id=shop_id)
