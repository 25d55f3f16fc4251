"""The shops' Telegram bots from the CLI: running them (`kassa bot`), their settings
(`kassa bot configure`, `show`), their plans and promo codes."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from kassa.cli.logs import configure_logging
from kassa.cli.output import (
    JsonOption,
    console,
    fail,
    id_column,
    money,
    prepare,
    print_json,
    run,
    show,
    table,
    text_column,
)
from kassa.cli.signals import stop_on_signals
from kassa.config import Settings
from kassa.domain.money import from_decimal
from kassa.services.bot import activation, imports, plans, promos
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context
from kassa.services.shops import shops

log = logging.getLogger(__name__)

app = typer.Typer(help="The shops' Telegram bots: running them, settings, plans, promo codes.")
plans_app = typer.Typer(help="The plans a shop's bot sells.", no_args_is_help=True)
promo_app = typer.Typer(help="A shop's promo codes.", no_args_is_help=True)
app.add_typer(plans_app, name="plans")
app.add_typer(promo_app, name="promo")


@app.callback(invoke_without_command=True)
def bots(
    typer_ctx: typer.Context,
    shop: Annotated[
        list[str] | None, typer.Option("--shop", help="Run only this shop's bot (repeatable).")
    ] = None,
) -> None:
    """Run every configured shop's bot (or those of --shop) until SIGTERM or Ctrl-C: long
    polling from each bot's stored update offset (or, for a bot in webhook mode, setting its
    webhook to KASSA_PUBLIC_URL/telegram/SHOP_ID), and the messages due to its buyers."""
    if typer_ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    configure_logging(settings)
    prepare(settings)
    shop_ids = None
    if shop:

        async def find(ctx: Context) -> list[str]:
            return [(await shops.get_shop(ctx, name=name)).id for name in shop]

        shop_ids = run(find)
    asyncio.run(_run_bots(settings, shop_ids))
    log.info("bots stopped")


async def _run_bots(settings: Settings, shop_ids: list[str] | None) -> None:
    # aiogram takes seconds to import: only `kassa bot` itself pays for it.
    from kassa.bot import runner

    stop = stop_on_signals("the update in hand")
    ctx = Context.open(settings)
    try:
        await runner.run(ctx, stop, shop_ids=shop_ids)
    finally:
        await ctx.close()


def _shown(found: bot_settings.BotSettings, as_json: bool) -> None:
    shown = found.shown()
    if as_json:
        print_json(shown)
        return
    listed = table("setting", "value")
    for name, value in shown.items():
        listed.add_row(name, "" if value is None else str(value))
    show(listed)


@app.command()
def configure(
    shop: str,
    settings: Annotated[
        list[str],
        typer.Argument(
            help="key=value: token=, admins=, test=true|false, panel=marzban|remnawave|none, "
            "panel_version=2|3 (empty: asked of the panel), panel_url=, panel_token= "
            "[panel_api_key=] | panel_user= "
            "panel_password=, panel_squads=, panel_proxies=, "
            "language=ru|en, link_text= (the access text without a panel), trial_days=, "
            "terms= (the shop's terms of service, shown by /terms; empty: none), "
            "mode=polling|webhook (webhook: Telegram posts to kassa serve's /telegram/SHOP_ID)"
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Create or change a shop's bot. The token and panel secrets are stored encrypted and
    never shown; a new bot starts in test mode with the seeds' plans."""
    values: dict[str, str] = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise fail(f"settings are key=value, not {item!r}", code=2)
        values[name] = value

    async def work(ctx: Context) -> bot_settings.BotSettings:
        found = await shops.get_shop(ctx, name=shop)
        return await bot_settings.configure(ctx, shop=found, changes=values)

    _shown(run(work), as_json)


@app.command("show")
def show_bot(shop: str, as_json: JsonOption = False) -> None:
    """A shop's bot settings, secrets masked."""

    async def work(ctx: Context) -> bot_settings.BotSettings:
        found = await shops.get_shop(ctx, name=shop)
        return await bot_settings.get(ctx, shop_id=found.id)

    _shown(run(work), as_json)


@plans_app.command("add")
def add_plan(
    shop: str,
    name: str,
    *,
    days: Annotated[int, typer.Option(min=1)],
    price: Annotated[str, typer.Option(help="In rubles, e.g. 249 or 249.50.")],
    stars: Annotated[int | None, typer.Option(min=1, help="The price in Stars.")] = None,
    traffic_gb: Annotated[int | None, typer.Option(min=1)] = None,
    devices: Annotated[int | None, typer.Option(min=1)] = None,
    referral_days: Annotated[
        int, typer.Option(min=0, help="Bonus days to the inviter on a first purchase.")
    ] = 0,
) -> None:
    """Sell a new plan. Without --stars, its Stars price is the ruble price at the seeds'
    rate (`kassa.services.bot.plans.RUBLES_PER_STAR`)."""

    async def work(ctx: Context) -> plans.Plan:
        kopecks = from_decimal(price, "RUB", param="price")
        found = await shops.get_shop(ctx, name=shop)
        return await plans.add(
            ctx,
            shop_id=found.id,
            name=name,
            days=days,
            price=kopecks,
            stars=stars or plans.stars_for(kopecks),
            traffic_gb=traffic_gb,
            devices=devices,
            referral_days=referral_days,
        )

    plan = run(work)
    console.print(f"Plan [bold]{plan.name}[/]: {plan.days} days, {money(plan.price, 'RUB')}")


@plans_app.command("list")
def list_plans(shop: str, as_json: JsonOption = False) -> None:
    """A shop's plans, sold or not."""

    async def work(ctx: Context) -> list[plans.Plan]:
        found = await shops.get_shop(ctx, name=shop)
        return await plans.list_plans(ctx, shop_id=found.id)

    found = run(work)
    if as_json:
        print_json([plans.document(plan) for plan in found])
        return
    listed = table("name", "days", "price", "stars", "traffic", "devices", "bonus", "sold")
    for plan in found:
        listed.add_row(
            plan.name,
            str(plan.days),
            money(plan.price, "RUB"),
            str(plan.stars),
            f"{plan.traffic_gb} GB" if plan.traffic_gb else "",
            str(plan.devices or ""),
            str(plan.referral_days),
            "yes" if plan.active else "no",
        )
    show(listed)


@plans_app.command("disable")
def disable_plan(shop: str, name: str) -> None:
    """Stop selling a plan (subscriptions bought with it go on)."""

    async def work(ctx: Context) -> None:
        found = await shops.get_shop(ctx, name=shop)
        await plans.disable(ctx, shop_id=found.id, name=name)

    run(work)
    console.print(f"Plan [bold]{name}[/] is no longer sold")


@promo_app.command("add")
def add_promo(
    shop: str,
    code: str,
    *,
    days: Annotated[int | None, typer.Option(min=1, help="Extra days.")] = None,
    percent: Annotated[int | None, typer.Option(min=1, max=99, help="Percent off.")] = None,
    uses: Annotated[int | None, typer.Option(min=1, help="How many buyers may use it.")] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Valid until (UTC), e.g. 2027-01-31.")
    ] = None,
) -> None:
    """A promo code: --days extra or --percent off, one use per buyer."""
    valid_until = until.replace(tzinfo=UTC) if until is not None else None

    async def work(ctx: Context) -> promos.PromoCode:
        found = await shops.get_shop(ctx, name=shop)
        return await promos.add(
            ctx,
            shop_id=found.id,
            code=code,
            days=days,
            percent=percent,
            max_uses=uses,
            valid_until=valid_until,
        )

    promo = run(work)
    gives = f"{promo.days} extra days" if promo.days else f"{promo.percent}% off"
    console.print(f"Promo code [bold]{promo.code}[/]: {gives}")


@app.command("import")
def import_customers(
    shop: str,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV, UTF-8.", show_default=False)
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count, change nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Move a running bot's customers over: buyers and their subscriptions' end dates from a
    CSV of telegram_id,name,ends_at[,panel_username][,language] (ISO dates, UTC). All or
    nothing; importing the same file again changes nothing. See docs/bot.md."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise fail(f"{file} is not UTF-8 text") from None

    async def work(ctx: Context) -> imports.Outcome:
        found = await shops.get_shop(ctx, name=shop)
        return await imports.apply(
            ctx, shop_id=found.id, customers=imports.read(text), dry_run=dry_run
        )

    outcome = run(work)
    counts = {
        "lines": outcome.lines,
        "buyers_created": outcome.buyers_created,
        "subscriptions_created": outcome.subscriptions_created,
        "subscriptions_moved": outcome.subscriptions_moved,
        "panel_users_linked": outcome.panel_users_linked,
        "unchanged": outcome.unchanged,
    }
    if as_json:
        print_json({**counts, "dry_run": outcome.dry_run})
        return
    verb = "would import" if dry_run else "imported"
    console.print(
        f"{outcome.lines} customers {verb}: {outcome.buyers_created} new buyers, "
        f"{outcome.subscriptions_created} new subscriptions, {outcome.subscriptions_moved} "
        f"moved to a later end, {outcome.panel_users_linked} panel users linked, "
        f"{outcome.unchanged} unchanged" + (" (dry run: nothing was changed)" if dry_run else "")
    )


@app.command()
def activations(
    shop: str,
    stuck: Annotated[bool, typer.Option("--stuck", help="Only those stuck.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """The newest panel provisionings of a shop's bot: done, pending (the panel is retried)
    or stuck (failing for 30 min, or refused by the panel: a person must look)."""

    async def work(ctx: Context) -> list[activation.Provisioning]:
        found = await shops.get_shop(ctx, name=shop)
        return await activation.list_provisioning(
            ctx, shop_id=found.id, status=activation.STUCK if stuck else None, limit=limit
        )

    listed = table(
        id_column("cause"), "reason", "status", "attempts", text_column("error"), "since"
    )
    for each in run(work):
        listed.add_row(
            each.id,
            each.reason,
            each.status,
            str(each.attempts),
            each.error or "",
            each.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    show(listed)
