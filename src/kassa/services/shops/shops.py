"""Shops and their provider accounts, and which account a new payment goes through.

Every new shop gets a sandbox account in test mode (`DEFAULT_PROVIDER`): it cannot take real
money, and with it a new shop's first test payment works at once, whether the shop was made
with the CLI, the admin UI or the services."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Insert, Update, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    Conflict,
    NotFound,
    ParameterInvalid,
    ProviderAccount,
    ProviderNotConfigured,
    Shop,
    new_id,
)
from kassa.domain.receipts import FiscalSettings
from kassa.providers import provider_class
from kassa.providers.base import Provider
from kassa.providers.terminal import TerminalProvider
from kassa.services import configuration, encryption, i18n
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.context import Context
from kassa.services.emails.letters import one_address
from kassa.store import records
from kassa.store.tables import provider_accounts, shops

#: Shop names appear in notification URLs (`/hooks/{provider}/{shop}`), so they stay URL-safe.
SHOP_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

#: The time zone a new shop's times are shown in, unless it names another.
DEFAULT_TIMEZONE = "Europe/Moscow"

#: The provider every new shop gets an account with, in test mode.
DEFAULT_PROVIDER = "sandbox"

#: Settings every provider account has besides the provider's own credentials.
ACCOUNT_SETTINGS = ("api_url", "test", "enabled")


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone this system knows (`Europe/Moscow`, `Asia/Almaty`)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterInvalid(
            f"{name!r} is not an IANA time zone name such as Europe/Moscow", param="timezone"
        ) from None
    return name


async def create_shop(
    ctx: Context, *, name: str, timezone: str = DEFAULT_TIMEZONE, actor: Actor | None = None
) -> Shop:
    """A new shop, with its sandbox account in test mode; its name is lower-case letters,
    digits, `-` and `_`, and unique. With `actor` (a person in the admin UI), `shop.create`
    and the account's `provider.configure` are audited in the same transaction."""
    if not SHOP_NAME.fullmatch(name):
        raise ParameterInvalid(
            "A shop name is 1-63 lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit",
            param="name",
        )
    shop = Shop(
        id=new_id("shop"), name=name, created_at=ctx.clock(), timezone=check_timezone(timezone)
    )
    sandbox = _wanted(DEFAULT_PROVIDER, {"test": "true"})
    try:
        async with ctx.db.write() as conn:
            configuration.changed(conn)
            await conn.execute(
                insert(shops).values(
                    id=shop.id, name=shop.name, created_at=shop.created_at, timezone=shop.timezone
                )
            )
            if actor is not None:
                await audit.record(
                    conn,
                    actor=actor,
                    action="shop.create",
                    now=shop.created_at,
                    object_id=shop.id,
                    shop_id=shop.id,
                    details={"name": shop.name, "timezone": shop.timezone},
                )
            await _store_account(
                ctx, conn, shop=shop, wanted=sandbox, now=shop.created_at, actor=actor
            )
    except IntegrityError:
        raise Conflict(f"A shop named {name!r} already exists", param="name") from None
    return shop


async def set_timezone(ctx: Context, *, shop: Shop, timezone: str) -> Shop:
    """Show the shop's times in `timezone` from now on (stored times do not change)."""
    check_timezone(timezone)
    async with ctx.db.write() as conn:
        configuration.changed(conn)
        await conn.execute(update(shops).where(shops.c.id == shop.id).values(timezone=timezone))
    return replace(shop, timezone=timezone)


async def set_fiscal(ctx: Context, *, shop: Shop, fiscal: FiscalSettings | None) -> Shop:
    """Send fiscal receipts with `fiscal` as the defaults from now on, or (None) send none.
    Payments made before keep the receipt they were sent with."""
    document = fiscal.document() if fiscal else None
    async with ctx.db.write() as conn:
        configuration.changed(conn)
        await conn.execute(update(shops).where(shops.c.id == shop.id).values(fiscal=document))
    return replace(shop, fiscal=fiscal)


async def get_shop(ctx: Context, *, name: str | None = None, shop_id: str | None = None) -> Shop:
    """The shop with this name (or id); `NotFound` if there is none."""
    condition = shops.c.name == name if shop_id is None else shops.c.id == shop_id
    async with ctx.db.read() as conn:
        row = (await conn.execute(select(shops).where(condition))).mappings().first()
    if row is None:
        what = f"named {name!r}" if shop_id is None else repr(shop_id)
        raise NotFound(f"No shop {what}", param="shop")
    return records.shop(row)


async def list_shops(ctx: Context) -> list[Shop]:
    async with ctx.db.read() as conn:
        rows = (await conn.execute(select(shops).order_by(shops.c.name))).mappings()
        return [records.shop(row) for row in rows]


async def set_language(ctx: Context, *, shop: Shop, language: str) -> Shop:
    """Write the shop's e-mails to its customers in `language` (`ru` or `en`) from now on."""
    if language not in i18n.LOCALES:
        raise ParameterInvalid(
            f"{language!r} is not a language Kassa writes: {', '.join(i18n.LOCALES)}",
            param="language",
        )
    await _set(ctx, shop, language=language)
    return replace(shop, language=language)


async def set_email_from(ctx: Context, *, shop: Shop, address: str | None) -> Shop:
    """Send the shop's receipt e-mails from `address` (`Shop <receipts@shop.ru>`) from now
    on, or (None) send none."""
    if address is not None:
        try:
            one_address(address)
        except ValueError as exc:
            raise ParameterInvalid(str(exc), param="email_from") from None
    await _set(ctx, shop, email_from=address)
    return replace(shop, email_from=address)


async def _set(ctx: Context, shop: Shop, **values: str | None) -> None:
    async with ctx.db.write() as conn:
        configuration.changed(conn)
        await conn.execute(update(shops).where(shops.c.id == shop.id).values(**values))


def _parse_bool(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise ParameterInvalid(f"{name} must be true or false, not {value!r}", param=name)


def _check_api_url(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ParameterInvalid(f"api_url must be an http(s) URL, not {value!r}", param="api_url")
    return value


@dataclass(frozen=True, slots=True)
class Configured:
    """A provider account as configured, and the credentials Kassa generated for it."""

    account: ProviderAccount
    generated: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Wanted:
    """A provider account's settings as asked for, checked (nothing stored yet)."""

    provider: type[Provider]
    test: bool
    enabled: bool | None
    api_url: str | None
    api_url_given: bool
    credentials: dict[str, str]


def _wanted(provider: str, settings: Mapping[str, str]) -> _Wanted:
    cls = provider_class(provider)
    params = dict(settings)
    test = _parse_bool("test", params.pop("test", None), default=cls.test_only)
    if cls.test_only and not test:
        raise ParameterInvalid(f"{cls.title} accounts are test accounts only", param="test")
    enabled_given = params.pop("enabled", None)
    enabled = None if enabled_given is None else _parse_bool("enabled", enabled_given, True)
    api_url_given = "api_url" in params
    api_url = _check_api_url(params.pop("api_url", None))
    fields = {field.name: field for field in cls.credential_fields}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        allowed = ", ".join([*fields, *ACCOUNT_SETTINGS])
        raise ParameterInvalid(
            f"{cls.title} has no setting {unknown[0]!r}; its settings are: {allowed}",
            param=unknown[0],
        )
    return _Wanted(cls, test, enabled, api_url, api_url_given, params)


async def configure_provider(
    ctx: Context,
    *,
    shop: Shop,
    provider: str,
    settings: Mapping[str, str],
    actor: Actor | None = None,
) -> Configured:
    """Create or update the shop's account with `provider`.

    `settings` holds the provider's credentials under the provider's own names, plus `api_url`
    (point it at an emulator or a proxy), `test` and `enabled`. Settings not given keep their
    stored values; missing credentials Kassa can make (the sandbox secret) are generated.
    With `actor`, `provider.configure` is audited in the same transaction: which settings
    were given, never their values.
    """
    wanted = _wanted(provider, settings)
    async with ctx.db.write() as conn:
        configured = await _store_account(
            ctx, conn, shop=shop, wanted=wanted, now=ctx.clock(), actor=actor
        )
    return configured


async def _store_account(
    ctx: Context,
    conn: AsyncConnection,
    *,
    shop: Shop,
    wanted: _Wanted,
    now: datetime,
    actor: Actor | None,
) -> Configured:
    """Create or update the account `wanted` describes, in the caller's transaction."""
    configuration.changed(conn)
    cls = wanted.provider
    row = (
        (
            await conn.execute(
                select(provider_accounts).where(
                    provider_accounts.c.shop_id == shop.id,
                    provider_accounts.c.provider == cls.name,
                    provider_accounts.c.test == wanted.test,
                )
            )
        )
        .mappings()
        .first()
    )
    # Only what is kept is decrypted: secrets given anew replace ones that may not be readable
    # any more (a lost key).
    kept = {
        k: v for k, v in (row["credentials"] if row else {}).items() if k not in wanted.credentials
    }
    credentials = {**ctx.keyring.decrypt_values(kept), **wanted.credentials}
    generated = {
        name: value for name, value in cls.generate_credentials().items() if name not in credentials
    }
    credentials |= generated
    missing = [f.name for f in cls.credential_fields if f.required and not credentials.get(f.name)]
    if missing:
        raise ParameterInvalid(f"{cls.title} needs {missing[0]}=…", param=missing[0])
    cls.check_credentials(credentials, test=wanted.test)
    # Every secret is encrypted again under the database's current key (a rotation may have
    # begun since it was stored: see kassa.services.encryption).
    seal = await encryption.sealer(ctx, conn)
    secret = {f.name for f in cls.credential_fields if f.secret}
    values = {
        "credentials": {
            name: seal(value) if name in secret else value for name, value in credentials.items()
        },
        # Settings not given keep their stored values; a new account starts enabled.
        "enabled": wanted.enabled if wanted.enabled is not None else row is None or row["enabled"],
        "api_url": wanted.api_url if wanted.api_url_given or row is None else row["api_url"],
        "updated_at": now,
    }
    statement: Insert | Update
    if row is None:
        statement = insert(provider_accounts).values(
            id=new_id("pa"),
            shop_id=shop.id,
            provider=cls.name,
            test=wanted.test,
            created_at=now,
            **values,
        )
    else:
        statement = (
            update(provider_accounts).where(provider_accounts.c.id == row["id"]).values(**values)
        )
    stored = (await conn.execute(statement.returning(*provider_accounts.c))).mappings().one()
    if actor is not None:
        await audit.record(
            conn,
            actor=actor,
            action="provider.configure",
            now=now,
            object_id=stored["id"],
            shop_id=shop.id,
            outcome="created" if row is None else "updated",
            details={
                "provider": cls.name,
                "test": wanted.test,
                "enabled": stored["enabled"],
                "api_url": stored["api_url"],
                "credentials_set": sorted(wanted.credentials),
                "generated": sorted(generated),
            },
        )
    return Configured(records.provider_account(stored, ctx.keyring), generated)


def masked_credentials(account: ProviderAccount) -> dict[str, str]:
    """The account's credentials to show people: secret ones as `••••` and their last four
    characters (enough to tell which was set), others as they are."""
    secret = {f.name for f in provider_class(account.provider).credential_fields if f.secret}
    return {
        name: "••••" + value[-4:] if name in secret else value
        for name, value in account.credentials.items()
    }


async def list_accounts(
    ctx: Context, *, shop_id: str, test: bool | None = None, enabled_only: bool = False
) -> list[ProviderAccount]:
    """The shop's provider accounts, optionally of one mode, optionally only enabled ones.

    The enabled ones of one mode, which every new payment chooses from (and the sandbox
    checks its merchants against), come from the context's cache until an account changes
    (`kassa.services.configuration`); do not change the list."""
    if enabled_only and test is not None:
        return await ctx.configuration.enabled_accounts.get(
            ctx.db, (shop_id, test), lambda: _read_accounts(ctx, shop_id, test, enabled_only)
        )
    return await _read_accounts(ctx, shop_id, test, enabled_only)


async def _read_accounts(
    ctx: Context, shop_id: str, test: bool | None, enabled_only: bool
) -> list[ProviderAccount]:
    query = select(provider_accounts).where(provider_accounts.c.shop_id == shop_id)
    if test is not None:
        query = query.where(provider_accounts.c.test == test)
    if enabled_only:
        query = query.where(provider_accounts.c.enabled.is_(True))
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query.order_by(provider_accounts.c.provider))).mappings()
        return [records.provider_account(row, ctx.keyring) for row in rows]


async def choose_account(
    ctx: Context, *, shop: Shop, test: bool, provider: str | None, terminal: str | None = None
) -> ProviderAccount:
    """The enabled account a new payment goes through: the named provider's (a payment that
    names a `terminal` names the terminal provider), else the shop's only one in the mode.

    Providers a payment must name (`Provider.named_only`: terminals) are never chosen for a
    payment that names none, so adding a terminal changes nothing for the shop's other
    payments.
    """
    mode = "test" if test else "live"
    if provider is None and terminal is not None:
        provider = TerminalProvider.name
    accounts = await list_accounts(ctx, shop_id=shop.id, test=test, enabled_only=True)
    if provider is not None:
        provider_class(provider)
        for account in accounts:
            if account.provider == provider:
                return account
        raise ProviderNotConfigured(
            f"Shop {shop.name!r} has no enabled {provider} account in {mode} mode; connect one "
            f"with `kassa providers configure {shop.name} {provider} key=value …` (or on the "
            "shop's page in the admin UI)",
            param="provider",
        )
    defaults = [account for account in accounts if not provider_class(account.provider).named_only]
    if len(defaults) == 1:
        return defaults[0]
    if not defaults:
        suggestion = (
            f"kassa providers configure {shop.name} sandbox enabled=true"
            if test
            else f"kassa providers configure {shop.name} PROVIDER key=value …"
        )
        raise ProviderNotConfigured(
            f"Shop {shop.name!r} has no enabled provider account in {mode} mode for a payment "
            f"that names no provider; connect one with `{suggestion}` (or on the shop's page "
            "in the admin UI)",
            param="provider",
        )
    names = ", ".join(account.provider for account in defaults)
    raise ParameterInvalid(
        f"provider is required: the shop has several ({names}); name one, or disable the "
        f"others with `kassa providers configure {shop.name} PROVIDER enabled=false`",
        param="provider",
    )


async def hook_accounts(ctx: Context, *, shop_name: str, provider: str) -> list[ProviderAccount]:
    """The enabled accounts that may have sent a notification to `/hooks/{provider}/{shop}`
    (from the context's cache until an account changes: every notification needs them; do
    not change the list)."""
    if not SHOP_NAME.fullmatch(shop_name):
        return []  # no shop can have that name: nothing to look up, or to keep
    return await ctx.configuration.hook_accounts.get(
        ctx.db, (shop_name, provider), lambda: _read_hook_accounts(ctx, shop_name, provider)
    )


async def _read_hook_accounts(ctx: Context, shop_name: str, provider: str) -> list[ProviderAccount]:
    query = (
        select(provider_accounts)
        .join(shops, shops.c.id == provider_accounts.c.shop_id)
        .where(
            shops.c.name == shop_name,
            provider_accounts.c.provider == provider,
            provider_accounts.c.enabled.is_(True),
        )
        .order_by(provider_accounts.c.test)
    )
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [records.provider_account(row, ctx.keyring) for row in rows]


async def get_account(ctx: Context, *, account_id: str) -> ProviderAccount:
    """The provider account `account_id` (payments and notifications refer to it), from the
    context's cache until an account changes."""
    account = await ctx.configuration.accounts.get(
        ctx.db, account_id, lambda: _read_account(ctx, account_id)
    )
    if account is None:
        raise NotFound(f"No provider account {account_id!r}", param="account")
    return account


async def _read_account(ctx: Context, account_id: str) -> ProviderAccount | None:
    query = select(provider_accounts).where(provider_accounts.c.id == account_id)
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    return None if row is None else records.provider_account(row, ctx.keyring)
