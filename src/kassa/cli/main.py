"""`kassa`: serve, work, migrate, and manage shops, keys, providers and payments."""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
import uvicorn
from sqlalchemy import make_url

from kassa.cli import AGENTS, run_agent
from kassa.cli.admin import app as admin_app
from kassa.cli.audit import audit
from kassa.cli.backup import backup, restore
from kassa.cli.bot import app as bot_app
from kassa.cli.club import app as club_app
from kassa.cli.dev import app as dev_app
from kassa.cli.emails import app as emails_app
from kassa.cli.emails import email as shops_email
from kassa.cli.emails import language as shops_language
from kassa.cli.fiscal import fiscal
from kassa.cli.logs import configure_logging
from kassa.cli.output import (
    JsonOption,
    confirmation_rows,
    console,
    errors,
    fail,
    id_column,
    in_context,
    money,
    prepare,
    print_json,
    run,
    show,
    table,
)
from kassa.cli.secrets import app as secrets_app
from kassa.cli.terminals import app as terminals_app
from kassa.cli.webhooks import app as webhooks_app
from kassa.cli.worker import worker
from kassa.config import Settings
from kassa.domain import Event, KassaError, Payment, PaymentStatus, ProviderAccount, Shop
from kassa.providers import PROVIDERS, provider_class
from kassa.services.admin import users as admins
from kassa.services.context import Context
from kassa.services.events import outbox as events
from kassa.services.notifications import simulate
from kassa.services.objects import event_object, payment_object, timestamp
from kassa.services.payments import lifecycle as payments
from kassa.services.payments import search as payment_search
from kassa.services.shops import bootstrap, keys, shops

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(help="Kassa: a self-hosted payments hub.", no_args_is_help=True)
shops_app = typer.Typer(help="Create and list shops.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
providers_app = typer.Typer(help="Connect a shop to payment providers.", no_args_is_help=True)
payments_app = typer.Typer(help="Look at payments.", no_args_is_help=True)
app.add_typer(shops_app, name="shops")
shops_app.command("fiscal")(fiscal)
app.add_typer(keys_app, name="keys")
app.add_typer(providers_app, name="providers")
app.add_typer(payments_app, name="payments")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(terminals_app, name="terminals")
app.add_typer(admin_app, name="admin")
app.add_typer(secrets_app, name="secrets")
app.add_typer(dev_app, name="dev")
app.add_typer(emails_app, name="emails")
app.add_typer(bot_app, name="bot")
app.add_typer(club_app, name="club")
shops_app.command("language")(shops_language)
shops_app.command("email")(shops_email)


def _agent_command(name: str, summary: str) -> None:
    """`kassa NAME`, an agent on a device, as `kassa --help` lists it and callers of this app
    (tests) reach it. The `kassa` command dispatches it before importing this module
    (`kassa.cli.main()`), so the agent runs without the server extra."""
    _, extra = AGENTS[name]

    @app.command(
        name,
        help=f"{summary} (needs the {extra} extra); `kassa {name} --help` for more.",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def run(ctx: typer.Context) -> None:
        try:
            run_agent(name, ctx.args)
        except ImportError as exc:
            raise fail(
                f"kassa {name} needs the {extra} extra: pip install 'kassa[{extra}]' ({exc})"
            ) from None


_agent_command("agent", "The kiosk edge agent")
_agent_command("club-agent", "The club PC's agent")


def main() -> None:
    app()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    demo: Annotated[
        bool, typer.Option(help="Create the demo shop, its sandbox and a test key if missing.")
    ] = False,
    new_key: Annotated[
        bool,
        typer.Option(
            help="Print a new test key: the demo shop's with --demo, else the only shop's."
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes serving the port (PostgreSQL only); one of them at a time runs "
            "the background loop.",
        ),
    ] = 1,
) -> None:
    """Apply migrations and serve the API, the hooks and the pages, with the background loop
    unless KASSA_BACKGROUND=false (then `kassa worker` processes do the background work)."""
    from kassa.web import create_app

    options = {"host": host, "port": port}
    settings = Settings().model_copy(update={k: v for k, v in options.items() if v is not None})
    configure_logging(settings)
    if workers > 1 and make_url(settings.resolved_database_url).get_backend_name() == "sqlite":
        raise fail(
            "--workers needs PostgreSQL: on SQLite one process serves, since each process "
            "writes through a single connection of its own and processes cannot wake each "
            "other. Set KASSA_DATABASE_URL=postgresql+asyncpg://… or serve without --workers.",
            code=2,
        )
    prepare(settings)
    if demo:
        set_up = in_context(settings, partial(bootstrap.ensure_demo, new_key=new_key))
        _print_demo(settings, set_up)
    elif new_key:
        try:
            shop, secret = in_context(settings, bootstrap.key_for_only_shop)
        except KassaError as exc:  # no shop, or several: say which command was meant
            raise fail(exc.message, code=2) from None
        console.print(
            f"Test API key for shop {shop.name}: [bold green]{secret}[/]  (shown once; keep it)",
            soft_wrap=True,
        )
    server: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        # uvicorn's loggers are left to the root handler `configure_logging` set up, whose
        # filter takes secrets (a kiosk's `?token=`) out of every line, access lines included.
        "log_config": None,
        "server_header": False,
        # Forwarded headers are read by the app, from KASSA_TRUSTED_PROXIES only.
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **server)
        return
    # uvicorn binds the port, starts the processes (spawned: they inherit the environment,
    # not this process's objects) and starts a new one when one dies; each builds its app.
    os.environ.update(KASSA_HOST=settings.host, KASSA_PORT=str(settings.port))
    uvicorn.run(f"{__name__}:served_app", factory=True, workers=workers, **server)


def served_app() -> FastAPI:
    """The app of one of `kassa serve --workers N`'s processes, which uvicorn imports by
    name: its settings and logging from the environment, as `serve` left it."""
    from kassa.web import create_app

    settings = Settings()
    configure_logging(settings)
    return create_app(settings)


app.command()(worker)
app.command()(audit)
app.command()(backup)
app.command()(restore)


def _print_demo(settings: Settings, demo: bootstrap.Demo) -> None:
    base = settings.resolved_public_url
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    console.print(f"\n[bold]Kassa[/] on {base}  (database: {database})")
    console.print(f"  API base URL  {base}/v1")
    console.print(f"  API docs      {base}/docs")
    console.print(f"  Admin UI      {base}/admin")
    if demo.owner_password:
        console.print(
            f"  Admin user    {admins.FIRST_OWNER}  password [bold green]{demo.owner_password}[/]"
            "  (shown once; keep it)",
            soft_wrap=True,
        )
    console.print(f"  Demo shop     {demo.shop.name} (provider: sandbox, test mode)")
    if demo.new_key:
        console.print(f"  Test API key  [bold green]{demo.new_key}[/]  (shown once; keep it)")
        console.print("\nTry it:")
        console.print(
            f"  curl -s {base}/v1/payments -H 'Authorization: Bearer {demo.new_key}' "
            "-H 'Content-Type: application/json' "
            '-d \'{"amount": 150000, "currency": "RUB", "description": "Test order"}\'',
            soft_wrap=True,
        )
    else:
        console.print(
            "  Test API key  printed on the first run; for a new one: "
            "[bold]make run ARGS=--new-key[/] or [bold]kassa keys create demo[/]"
        )
    console.print()


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = Settings()
    prepare(settings)
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    console.print(f"Schema up to date: {database}")


TimezoneOption = Annotated[
    str, typer.Option(help="IANA time zone the admin pages show the shop's times in.")
]


@shops_app.command("create")
def shops_create(name: str, timezone: TimezoneOption = shops.DEFAULT_TIMEZONE) -> None:
    """Create a shop. Its name goes into notification URLs: /hooks/{provider}/{name}."""
    shop = run(lambda ctx: shops.create_shop(ctx, name=name, timezone=timezone))
    console.print(f"Created shop [bold]{shop.name}[/] ({shop.id}, {shop.timezone})")
    console.print(
        f"It has the {shops.DEFAULT_PROVIDER} provider in test mode; make a test key with "
        f"[bold]kassa keys create {shop.name}[/] and create a payment (README: Your first "
        "payment).",
        soft_wrap=True,
    )


@shops_app.command("timezone")
def shops_timezone(name: str, timezone: str) -> None:
    """Set the time zone the admin pages show a shop's times in, e.g. Asia/Almaty."""

    async def work(ctx: Context) -> Shop:
        shop = await shops.get_shop(ctx, name=name)
        return await shops.set_timezone(ctx, shop=shop, timezone=timezone)

    shop = run(work)
    console.print(f"Shop [bold]{shop.name}[/] now shows its times in {shop.timezone}")


@shops_app.command("list")
def shops_list(as_json: JsonOption = False) -> None:
    """List shops."""
    found = run(shops.list_shops)
    if as_json:
        print_json([_shop_object(shop) for shop in found])
        return
    listed = table("name", id_column("id"), "time zone", "language", "e-mails from", "created")
    for shop in found:
        created = shop.created_at.strftime("%Y-%m-%d %H:%M")
        sender = shop.email_from or "-"
        listed.add_row(shop.name, shop.id, shop.timezone, shop.language, sender, created)
    show(listed)


def _shop_object(shop: Shop) -> dict[str, object]:
    return {
        "id": shop.id,
        "object": "shop",
        "name": shop.name,
        "timezone": shop.timezone,
        "fiscal": shop.fiscal.document() if shop.fiscal else None,
        "created_at": timestamp(shop.created_at),
        "language": shop.language,
        "email_from": shop.email_from,
    }


@keys_app.command("create")
def keys_create(
    shop: str, live: Annotated[bool, typer.Option(help="A live key instead of a test key.")] = False
) -> None:
    """Create an API key and print it, once."""

    async def work(ctx: Context) -> str:
        found = await shops.get_shop(ctx, name=shop)
        _, secret = await keys.create_key(ctx, shop=found, live=live)
        return secret

    secret = run(work)
    console.print(secret, soft_wrap=True)
    errors.print("[dim]Shown once: Kassa keeps only its hash.[/]")


@keys_app.command("list")
def keys_list(shop: str, as_json: JsonOption = False) -> None:
    """List a shop's API keys (their first characters only)."""

    async def work(ctx: Context) -> list[keys.ApiKey]:
        return await keys.list_keys(ctx, shop=await shops.get_shop(ctx, name=shop))

    found = run(work)
    if as_json:
        print_json([_key_object(key) for key in found])
        return
    listed = table(id_column("id"), "key", "mode", "created", "revoked")
    for key in found:
        revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else ""
        created = key.created_at.strftime("%Y-%m-%d %H:%M")
        listed.add_row(key.id, key.prefix + "…", _mode(key.test), created, revoked)
    show(listed)


def _key_object(key: keys.ApiKey) -> dict[str, object]:
    """A key as scripts see it: its first characters only, as in the table."""
    return {
        "id": key.id,
        "object": "api_key",
        "shop": key.shop_id,
        "prefix": key.prefix,
        "test": key.test,
        "created_at": timestamp(key.created_at),
        "revoked_at": timestamp(key.revoked_at),
    }


def _mode(test: bool) -> str:
    return "test" if test else "live"


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key; requests with it get 401 from now on."""
    run(lambda ctx: keys.revoke_key(ctx, key_id=key_id))
    console.print(f"Revoked {key_id}")


@providers_app.command("configure")
def providers_configure(
    shop: str,
    provider: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(PROVIDERS))}")],
    settings: Annotated[
        list[str] | None,
        typer.Argument(help="key=value: the provider's credentials, api_url=, test=, enabled="),
    ] = None,
) -> None:
    """Create or update a shop's account with a provider."""
    values: dict[str, str] = {}
    for item in settings or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise fail(f"settings are key=value, not {item!r}", code=2)
        values[name] = value

    async def work(ctx: Context) -> shops.Configured:
        found = await shops.get_shop(ctx, name=shop)
        return await shops.configure_provider(ctx, shop=found, provider=provider, settings=values)

    configured = run(work)
    account = configured.account
    public = Settings().resolved_public_url
    mode = "test" if account.test else "live"
    console.print(f"Configured {account.provider} ({mode}) for shop {shop}: {account.id}")
    for name, value in configured.generated.items():
        console.print(f"Generated {name}: {value}  (shown once)", soft_wrap=True)
    hook = f"{public}/hooks/{account.provider}/{shop}"
    cls = provider_class(account.provider)
    kinds = cls.hook_kinds
    if not cls.notifies_hook_url:
        console.print(f"No URL to give {cls.title}: Kassa watches for its payments itself")
        return
    if not kinds:
        console.print(f"Notification URL for the provider: {hook}", soft_wrap=True)
        return
    console.print("Notification URLs for the provider, one per kind:")
    for kind in kinds:
        console.print(f"  {kind:<8} {hook}/{kind}", soft_wrap=True)


@providers_app.command("list")
def providers_list(shop: str, as_json: JsonOption = False) -> None:
    """List a shop's provider accounts; secrets are masked."""

    async def work(ctx: Context) -> list[ProviderAccount]:
        found = await shops.get_shop(ctx, name=shop)
        return await shops.list_accounts(ctx, shop_id=found.id)

    found = run(work)
    if as_json:
        print_json([_account_object(account) for account in found])
        return
    listed = table(id_column("id"), "provider", "mode", "enabled", "settings", "api_url")
    for account in found:
        shown = ", ".join(
            f"{name}={value}" for name, value in shops.masked_credentials(account).items()
        )
        listed.add_row(
            account.id,
            account.provider,
            _mode(account.test),
            "yes" if account.enabled else "no",
            shown,
            account.api_url or "",
        )
    show(listed)


def _account_object(account: ProviderAccount) -> dict[str, object]:
    """A provider account as scripts see it, its secrets masked as in the table."""
    return {
        "id": account.id,
        "object": "provider_account",
        "shop": account.shop_id,
        "provider": account.provider,
        "test": account.test,
        "enabled": account.enabled,
        "settings": shops.masked_credentials(account),
        "api_url": account.api_url,
    }


@payments_app.command("list")
def payments_list(
    shop: Annotated[str | None, typer.Option(help="Only this shop's payments.")] = None,
    status: Annotated[PaymentStatus | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonOption = False,
) -> None:
    """List payments, newest first."""

    async def work(ctx: Context) -> list[Payment]:
        shop_id = (await shops.get_shop(ctx, name=shop)).id if shop else None
        found = payment_search.PaymentFilter(shop_id=shop_id, status=status)
        return (await payment_search.search(ctx, found, limit=limit)).items

    found = run(work)
    if as_json:
        print_json([payment_object(payment) for payment in found])
        return
    listed = table(id_column("id"), "status", "amount", "provider", "customer", "created", "mode")
    for payment in found:
        listed.add_row(
            payment.id,
            payment.status.value,
            money(payment.amount, payment.currency),
            payment.provider,
            payment.customer or "",
            payment.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            _mode(payment.test),
        )
    show(listed)


@payments_app.command("show")
def payments_show(payment_id: str, as_json: JsonOption = False) -> None:
    """Show a payment with its events."""

    async def work(ctx: Context) -> tuple[Payment, list[Event]]:
        payment = await payments.find_payment(ctx, payment_id=payment_id)
        return payment, await events.payment_timeline(ctx, payment_id=payment_id)

    payment, timeline = run(work)
    if as_json:
        print_json(
            {**payment_object(payment), "events": [event_object(event) for event in timeline]}
        )
        return
    # Fields beside their values: the id fits whole in any terminal 50 columns wide.
    details = table("field", "value", show_header=False, box=None)
    details.add_row("id", payment.id)
    details.add_row("status", payment.status.value)
    details.add_row("amount", money(payment.amount, payment.currency))
    details.add_row("captured", money(payment.amount_captured, payment.currency))
    details.add_row("refunded", money(payment.amount_refunded, payment.currency))
    details.add_row("provider", f"{payment.provider} ({payment.provider_payment_id or '-'})")
    details.add_row("mode", _mode(payment.test))
    details.add_row("customer", payment.customer or "")
    details.add_row("description", payment.description or "")
    if payment.confirmation:
        for name, value in confirmation_rows(payment.confirmation):
            details.add_row(name, value)
    if payment.failure_code:
        details.add_row("failure", f"{payment.failure_code}: {payment.failure_message or ''}")
    details.add_row("created", payment.created_at.isoformat())
    show(details)
    timeline_table = table(id_column("event"), "type", "source", "at")
    for event in timeline:
        timeline_table.add_row(event.id, event.type, event.source, str(timestamp(event.created_at)))
    show(timeline_table)


@app.command("simulate")
def simulate_notification(
    provider: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(PROVIDERS))}")],
    event: Annotated[str, typer.Argument(help="The provider's event, e.g. payment.succeeded.")],
    payment: Annotated[str, typer.Option("--payment", help="The test payment it is about.")],
    url: Annotated[
        str | None, typer.Option(help="The running Kassa; default KASSA_PUBLIC_URL.")
    ] = None,
) -> None:
    """Send a running Kassa the notification PROVIDER would send for EVENT, in its real format
    and signed with the shop's configured secret: a check of the whole set-up."""
    base_url = url or Settings().resolved_public_url

    async def work(ctx: Context) -> simulate.Delivery:
        return await simulate.simulate(
            ctx, provider=provider, event=event, payment_id=payment, base_url=base_url
        )

    try:
        delivery = run(work)
    except httpx.HTTPError as exc:
        raise fail(f"could not reach Kassa at {base_url}: {exc}") from None
    console.print(f"{delivery.method} {delivery.url}", soft_wrap=True)
    console.print(f"Kassa answered HTTP {delivery.status_code}: {delivery.answer}", soft_wrap=True)
    if delivery.reason:
        console.print(f"It was rejected: {delivery.reason}", soft_wrap=True, markup=False)
    if delivery.status_code >= 300:
        raise typer.Exit(1)
