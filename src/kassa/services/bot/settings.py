"""A shop's bot settings (`kassa bot configure`): its token and panel secrets sealed as
provider credentials are, write-only, and never shown but masked.

A bot gets its updates by long polling (`mode=polling`, the default) or by Telegram's posts to
`kassa serve`'s `/telegram/{shop}` (`mode=webhook`); the secret Telegram sends back with each
post is made by Kassa the first time the bot is set to webhook mode, sealed, and never shown."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, or_, select, update

from kassa.domain import NotFound, ParameterInvalid, PermissionDenied, Shop
from kassa.services import encryption
from kassa.services.bot import plans
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.store.tables import bot_settings

PANELS = ("marzban", "remnawave", "none")
LANGUAGES = ("ru", "en")
#: Panel settings kept as given; those in `PANEL_SECRETS` are sealed.
#: (`panel_squads`: Remnawave's squads for a new user; `panel_proxies`: Marzban's; see
#: docs/panels.md.)
PANEL_FIELDS = ("panel_url", "panel_user", "panel_version", "panel_squads", "panel_proxies")
PANEL_SECRETS = ("panel_token", "panel_password", "panel_api_key")
#: Remnawave's major version as Kassa asked it of the panel (`GET /api/system/metadata`) when
#: `panel_version` is not given: kept beside the panel's settings, not set by `configure`,
#: and forgotten when `panel`, `panel_url` or `panel_version` change (asked again then).
DETECTED_VERSION = "panel_version_detected"
#: What `configure` takes, besides the panel's fields.
FIELDS = (
    "token",
    "admins",
    "test",
    "server",
    "panel",
    "language",
    "link_text",
    "trial_days",
    "terms",
    "balance",
    "mode",
)
#: Telegram's production servers, or its test environment (a bot made with the test
#: environment's @BotFather; Stars there cost nothing).
SERVERS = ("production", "test")
#: How the bot gets its updates (see the module's docstring).
MODES = ("polling", "webhook")
POLLING, WEBHOOK = MODES
#: The settings that are one of a few values.
CHOICES = {"server": SERVERS, "mode": MODES, "panel": PANELS, "language": LANGUAGES}
MASK = "••••••"
#: The longest terms of service: they are sent as one Telegram message (4096 characters).
TERMS_LONGEST = 4000


@dataclass(frozen=True, slots=True)
class BotSettings:
    """A shop's bot as configured, secrets still sealed: `secret(name)` opens one."""

    shop_id: str
    token: str
    admins: tuple[int, ...]
    test: bool
    panel: str
    panel_settings: Mapping[str, str]
    language: str
    link_text: str | None
    trial_days: int
    server: str = "production"
    #: The shop's terms of service, shown by `/terms`; None if the owner set none.
    terms: str | None = None
    #: Whether buyers have an internal balance to top up and renew from.
    balance: bool = False
    mode: str = POLLING
    #: Sealed; set once the bot was first put in webhook mode.
    webhook_secret: str | None = None

    @property
    def test_server(self) -> bool:
        """Whether the bot lives in Telegram's test environment."""
        return self.server == "test"

    def shown(self) -> dict[str, Any]:
        """The settings as every output shows them: secrets masked."""
        panel = {
            name: MASK if name in PANEL_SECRETS else value
            for name, value in sorted(self.panel_settings.items())
        }
        return {
            "token": MASK,
            "admins": list(self.admins),
            "test": self.test,
            "server": self.server,
            "mode": self.mode,
            "panel": self.panel,
            **panel,
            "language": self.language,
            "link_text": self.link_text,
            "trial_days": self.trial_days,
            "terms": self.terms,
            "balance": self.balance,
        }


def open_secret(ctx: Context, sealed: str) -> str:
    """A sealed setting in the clear, for the one call that needs it."""
    return ctx.keyring.decrypt(sealed)


def panel_settings_in_clear(ctx: Context, settings: BotSettings) -> dict[str, str]:
    """The panel's settings as its adapter takes them, secrets opened."""
    return {
        name: open_secret(ctx, value) if name in PANEL_SECRETS else value
        for name, value in settings.panel_settings.items()
    }


def _admins(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(each) for each in value.replace(" ", "").split(",") if each)
    except ValueError:
        raise ParameterInvalid("admins are Telegram ids, comma-separated", param="admins") from None


def _flag(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ParameterInvalid(f"{name} is true or false", param=name)
    return value.lower() == "true"


def _trial_days(value: str) -> int:
    if not value.isdigit() or int(value) > 365:
        raise ParameterInvalid("trial_days is 0-365 (0: no trial)", param="trial_days")
    return int(value)


def _terms(value: str) -> str | None:
    """The terms as kept: None (no terms) for an empty text."""
    if len(value) > TERMS_LONGEST:
        raise ParameterInvalid(f"the terms are at most {TERMS_LONGEST} characters", param="terms")
    return value.strip() or None


def _checked(changes: Mapping[str, str]) -> dict[str, Any]:
    """The columns `changes` set, checked."""
    unknown = set(changes) - set(FIELDS) - set(PANEL_FIELDS) - set(PANEL_SECRETS)
    if unknown:
        raise ParameterInvalid(f"unknown bot settings: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "admins":
            values["admins"] = ",".join(str(each) for each in _admins(value))
        elif name in ("test", "balance"):
            values[name] = _flag(name, value)
        elif name in CHOICES and value not in CHOICES[name]:
            choices = ", ".join(CHOICES[name])
            raise ParameterInvalid(f"{name} is one of {choices}", param=name)
        elif name == "panel_version" and value not in ("2", "3", ""):
            raise ParameterInvalid(
                "panel_version is 2 or 3 (empty: ask the panel)", param="panel_version"
            )
        elif name == "trial_days":
            values["trial_days"] = _trial_days(value)
        elif name == "terms":
            values["terms"] = _terms(value)
        elif name == "token" and not value.strip():
            raise ParameterInvalid("the bot token is empty", param="token")
        elif name in FIELDS:
            values[name] = value
    return values


async def configure(ctx: Context, *, shop: Shop, changes: Mapping[str, str]) -> BotSettings:
    """Set the shop's bot settings named in `changes` (the first time, `token` is required;
    a new bot starts in test mode). Returns the settings as they now are."""
    values = _checked(changes)
    panel_changes = {
        name: value
        for name, value in changes.items()
        if name in PANEL_FIELDS or name in PANEL_SECRETS
    }
    now = ctx.clock()
    async with ctx.db.write() as conn:
        seal = await encryption.sealer(ctx, conn)
        if "token" in values:
            values["token"] = seal(values["token"])
        # Telegram's secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -.
        wanted = values.get("mode") == WEBHOOK
        webhook_secret = seal(secrets.token_urlsafe(32)) if wanted else None
        sealed = {
            name: seal(value) if name in PANEL_SECRETS else value
            for name, value in panel_changes.items()
        }
        current = (
            (await conn.execute(select(bot_settings).where(bot_settings.c.shop_id == shop.id)))
            .mappings()
            .first()
        )
        if current is None:
            if "token" not in values:
                raise ParameterInvalid("a new bot needs its token (token=…)", param="token")
            await conn.execute(
                bot_settings.insert().values(
                    shop_id=shop.id,
                    panel_settings=sealed,
                    webhook_secret=webhook_secret,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            )
            await plans.seed(conn, shop_id=shop.id, now=now)
        else:
            kept = dict(current["panel_settings"])
            if _elsewhere(current, values, kept, panel_changes):
                kept.pop(DETECTED_VERSION, None)
            if webhook_secret is not None and current["webhook_secret"] is None:
                values["webhook_secret"] = webhook_secret
            await conn.execute(
                update(bot_settings)
                .where(bot_settings.c.shop_id == shop.id)
                .values(panel_settings={**kept, **sealed}, updated_at=now, **values)
            )
    return await get(ctx, shop_id=shop.id)


def _elsewhere(
    current: RowMapping,
    values: Mapping[str, Any],
    panel_settings: Mapping[str, str],
    panel_changes: Mapping[str, str],
) -> bool:
    """Whether `configure` changes which panel the bot is on, or its given version: the
    version detected before may not be this panel's any more."""
    return (
        values.get("panel", current["panel"]) != current["panel"]
        or panel_changes.get("panel_url", panel_settings.get("panel_url"))
        != panel_settings.get("panel_url")
        or "panel_version" in panel_changes
    )


async def remember_version(ctx: Context, *, shop_id: str, panel_url: str, version: str) -> bool:
    """Keep the major version detected on the panel at `panel_url`, unless the bot has been
    moved to another panel meanwhile (its `panel_url` changed). Returns whether it was kept."""
    async with ctx.db.write() as conn:
        row = (
            await conn.execute(
                select(bot_settings.c.panel_settings)
                .where(bot_settings.c.shop_id == shop_id)
                .with_for_update()
            )
        ).first()
        if row is None or row.panel_settings.get("panel_url") != panel_url:
            return False
        await conn.execute(
            update(bot_settings)
            .where(bot_settings.c.shop_id == shop_id)
            .values(panel_settings={**row.panel_settings, DETECTED_VERSION: version})
        )
    return True


async def find(ctx: Context, *, shop_id: str) -> BotSettings | None:
    """The shop's bot settings, or None if it has no bot."""
    async with ctx.db.read() as conn:
        row = (
            (await conn.execute(select(bot_settings).where(bot_settings.c.shop_id == shop_id)))
            .mappings()
            .first()
        )
    if row is None:
        return None
    return _settings(row)


def _settings(row: RowMapping) -> BotSettings:
    return BotSettings(
        shop_id=row["shop_id"],
        token=row["token"],
        admins=_admins(row["admins"]),
        test=row["test"],
        panel=row["panel"],
        panel_settings=dict(row["panel_settings"]),
        language=row["language"],
        link_text=row["link_text"],
        trial_days=row["trial_days"],
        server=row["server"],
        terms=row["terms"],
        balance=row["balance"],
        mode=row["mode"],
        webhook_secret=row["webhook_secret"],
    )


async def get(ctx: Context, *, shop_id: str) -> BotSettings:
    """The shop's bot settings; `NotFound` if it has no bot (`kassa bot configure`)."""
    found = await find(ctx, shop_id=shop_id)
    if found is None:
        raise NotFound("this shop has no bot (kassa bot configure SHOP token=…)")
    return found


async def configured(ctx: Context) -> list[BotSettings]:
    """Every shop's bot, in the order the shops' ids sort."""
    async with ctx.db.read() as conn:
        rows = (
            (await conn.execute(select(bot_settings).order_by(bot_settings.c.shop_id)))
            .mappings()
            .all()
        )
    return [_settings(row) for row in rows]


async def update_offset(ctx: Context, *, shop_id: str) -> int | None:
    """The first update the shop's bot has not handled yet (None: ask Telegram for all)."""
    async with ctx.db.read() as conn:
        return (
            await conn.execute(
                select(bot_settings.c.update_offset).where(bot_settings.c.shop_id == shop_id)
            )
        ).scalar()


async def confirm_updates(ctx: Context, *, shop_id: str, below: int) -> None:
    """Record that every update below `below` has been handled; the offset only grows."""
    async with ctx.db.write() as conn:
        await conn.execute(
            update(bot_settings)
            .where(
                bot_settings.c.shop_id == shop_id,
                or_(bot_settings.c.update_offset.is_(None), bot_settings.c.update_offset < below),
            )
            .values(update_offset=below)
        )


async def check_may_change(ctx: Context, *, caller: Caller) -> BotSettings:
    """The caller's shop's bot settings, if the caller may change its plans and promo codes
    (`NotFound` if it has no bot). They are the shop's, in both modes, so a key of either
    mode may read them; but once the bot is live, what they sell is real: a test key may no
    longer change them (`PermissionDenied`, code `live_key_required`)."""
    found = await get(ctx, shop_id=caller.own_shop.id)
    if caller.test and not found.test:
        raise PermissionDenied(
            "The shop's bot is live (test=false): change its plans and promo codes with a live key",
            code="live_key_required",
        )
    return found
