"""The embedded defaults `make run` starts with: a `demo` shop, its sandbox, a test key, and
the first admin owner."""

from __future__ import annotations

from dataclasses import dataclass

from kassa.domain import InvalidState, NotFound, ProviderAccount, Shop
from kassa.services.admin import users as admins
from kassa.services.context import Context
from kassa.services.shops import keys, shops

DEMO_SHOP = "demo"


@dataclass(frozen=True, slots=True)
class Demo:
    """The demo shop and, when they were just made, its new API key's secret and the first
    admin owner's password."""

    shop: Shop
    sandbox: ProviderAccount
    new_key: str | None
    owner_password: str | None = None


async def ensure_demo(ctx: Context, *, new_key: bool = False) -> Demo:
    """Create whatever of the demo set-up is missing; a new test key only on the first run
    (or when asked), since stored keys cannot be shown again; the owner `admin` only on a
    database without admin users."""
    try:
        shop = await shops.get_shop(ctx, name=DEMO_SHOP)
    except NotFound:
        shop = await shops.create_shop(ctx, name=DEMO_SHOP)
    accounts = await shops.list_accounts(ctx, shop_id=shop.id, test=True)
    sandbox = next((account for account in accounts if account.provider == "sandbox"), None)
    if sandbox is None:
        configured = await shops.configure_provider(ctx, shop=shop, provider="sandbox", settings={})
        sandbox = configured.account
    active = [key for key in await keys.list_keys(ctx, shop=shop) if key.revoked_at is None]
    secret = None
    if new_key or not active:
        _, secret = await keys.create_key(ctx, shop=shop)
    owner_password = await admins.ensure_first_owner(ctx)
    return Demo(shop=shop, sandbox=sandbox, new_key=secret, owner_password=owner_password)


async def key_for_only_shop(ctx: Context) -> tuple[Shop, str]:
    """A new test key for the database's one shop (`kassa serve --new-key` without `--demo`).
    With no shop or several, which one is meant is unclear: `InvalidState` says what to run."""
    found = await shops.list_shops(ctx)
    if len(found) != 1:
        names = ", ".join(shop.name for shop in found)
        which = f"it has {len(found)} ({names})" if found else "it has none"
        raise InvalidState(
            f"--new-key makes a test key for the database's only shop, and {which}: "
            "run `kassa keys create SHOP` for a shop's key, or `kassa serve --demo --new-key` "
            "for the demo shop's"
        )
    _, secret = await keys.create_key(ctx, shop=found[0])
    return found[0], secret
