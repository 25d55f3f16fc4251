"""`kassa webhooks`: a shop's webhook endpoints; rotating their secrets; resending events."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.markup import escape

from kassa.cli.output import JsonOption, console, errors, id_column, print_json, run, show, table
from kassa.services.context import Context
from kassa.services.pagination import MAX_LIMIT, PageRequest
from kassa.services.shops import shops
from kassa.services.webhooks import deliveries
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from kassa.services.webhooks.deliveries import AttemptState, Delivery, delivery_object
from kassa.services.webhooks.endpoints import Endpoint, Operator, endpoint_object

app = typer.Typer(
    help="Webhook endpoints: add (secret shown once), list, remove, enable, rotate the "
    "secret, resend events, see deliveries.",
    no_args_is_help=True,
)

#: The operator may touch every shop's endpoints.
ANYWHERE = Operator()


@app.command("add")
def add(
    shop: str,
    url: str,
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--events",
            help="Event types to send: '*' (the default), a family such as 'payment.*', or "
            "a type such as 'payment.succeeded'. Repeat it, or separate with commas.",
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="A note for people.")] = None,
    live: Annotated[bool, typer.Option(help="Send live events instead of test ones.")] = False,
) -> None:
    """Start sending SHOP's events to URL, signed; prints the signing secret once."""
    filters = [part.strip() for item in events or ["*"] for part in item.split(",")]

    async def work(ctx: Context) -> tuple[Endpoint, str]:
        found = await shops.get_shop(ctx, name=shop)
        return await webhooks.create_endpoint(
            ctx,
            shop_id=found.id,
            test=not live,
            url=url,
            events=filters,
            description=description,
        )

    endpoint, secret = run(work)
    console.print(
        f"Added {endpoint.id} for shop {shop} ({_mode(endpoint)}): {escape(endpoint.url)}",
        soft_wrap=True,
    )
    console.print(f"Events: {', '.join(endpoint.events)}")
    console.print(f"Signing secret: {secret}", soft_wrap=True)
    errors.print("[dim]Shown once; `kassa webhooks rotate` makes a new one.[/]")


@app.command("list")
def list_endpoints(shop: str, as_json: JsonOption = False) -> None:
    """List SHOP's webhook endpoints, test and live."""

    async def work(ctx: Context) -> list[Endpoint]:
        scope = Operator((await shops.get_shop(ctx, name=shop)).id)
        found: list[Endpoint] = []
        after: str | None = None
        while True:
            page = PageRequest(kind="we", limit=MAX_LIMIT, starting_after=after)
            more, has_more = await webhooks.list_endpoints(ctx, scope=scope, page=page)
            found += more
            if not has_more:
                return found
            after = more[-1].id

    found = run(work)
    if as_json:
        print_json([endpoint_object(endpoint) for endpoint in found])
        return
    listed = table(id_column("id"), "url", "events", "mode", "state", "created")
    for endpoint in found:
        if endpoint.enabled:
            state = "enabled"
            if endpoint.failing_since:
                state += f", failing since {endpoint.failing_since:%Y-%m-%d %H:%M}"
        else:
            state = f"disabled: {endpoint.disabled_reason}"
        listed.add_row(
            endpoint.id,
            escape(endpoint.url),
            ", ".join(endpoint.events),
            _mode(endpoint),
            escape(state),
            f"{endpoint.created_at:%Y-%m-%d %H:%M}",
        )
    show(listed)


@app.command("remove")
def remove(endpoint_id: str) -> None:
    """Delete a webhook endpoint with its deliveries; nothing more is sent to it."""
    endpoint = run(
        lambda ctx: webhooks.delete_endpoint(ctx, scope=ANYWHERE, endpoint_id=endpoint_id)
    )
    console.print(f"Removed {endpoint.id} ({escape(endpoint.url)})", soft_wrap=True)


@app.command("enable")
def enable(endpoint_id: str) -> None:
    """Enable an endpoint again (e.g. one Kassa disabled after days of failures); its pending
    deliveries resume."""
    run(
        lambda ctx: webhooks.update_endpoint(
            ctx, scope=ANYWHERE, endpoint_id=endpoint_id, enabled=True
        )
    )
    console.print(f"Enabled {endpoint_id}")


@app.command("rotate")
def rotate(
    endpoint_id: str,
    overlap: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Seconds the old secret keeps signing beside the new one; default "
            "KASSA_WEBHOOK_SECRET_OVERLAP (one day). 0 retires it at once.",
        ),
    ] = None,
) -> None:
    """Give an endpoint a new signing secret and print it, once."""

    async def work(ctx: Context) -> tuple[Endpoint, str]:
        return await webhooks.rotate_secret(
            ctx,
            scope=ANYWHERE,
            endpoint_id=endpoint_id,
            overlap=None if overlap is None else timedelta(seconds=overlap),
        )

    endpoint, secret = run(work)
    console.print(f"New signing secret: {secret}", soft_wrap=True)
    expires = endpoint.previous_secret_expires_at
    if endpoint.encrypted_previous_secret and expires is not None:
        errors.print(f"The previous secret also signs until {expires:%Y-%m-%d %H:%M:%S} UTC.")
    else:
        errors.print("The previous secret no longer signs.")


@app.command("resend")
def resend(
    event_id: str,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="Only this endpoint (whatever its filter); default: every enabled endpoint "
            "that takes the event's type."
        ),
    ] = None,
) -> None:
    """Send an event again now, and show how each endpoint answered."""
    sent = run(
        lambda ctx: webhook_sending.resend(
            ctx, scope=ANYWHERE, event_id=event_id, endpoint_id=endpoint
        )
    )
    _print_deliveries(sent)
    if any(delivery.status != deliveries.Status.SUCCEEDED for delivery in sent):
        errors.print("Not every endpoint took it; Kassa retries on the usual schedule.")
        raise typer.Exit(1)


@app.command("deliveries")
def list_deliveries(
    endpoint_id: str,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT)] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show an endpoint's latest deliveries with their last attempt."""

    async def work(ctx: Context) -> list[Delivery]:
        found, _ = await deliveries.list_deliveries(
            ctx, scope=ANYWHERE, endpoint_id=endpoint_id, page=PageRequest("wd", limit)
        )
        return found

    found = run(work)
    if as_json:
        print_json([delivery_object(delivery) for delivery in found])
        return
    _print_deliveries(found)


def _print_deliveries(found: list[Delivery]) -> None:
    listed = table(
        id_column("delivery"),
        id_column("endpoint"),
        id_column("event"),
        "status",
        "attempts",
        "last answer",
        "next",
    )
    for delivery in found:
        last = delivery.attempts[-1] if delivery.attempts else None
        if last is None:
            answer = ""
        elif last.state is AttemptState.IN_FLIGHT:
            answer = "in flight"
        elif last.status_code is not None:
            answer = f"HTTP {last.status_code} in {last.latency_ms} ms"
        else:
            answer = last.error or ""
        listed.add_row(
            delivery.id,
            delivery.endpoint_id,
            delivery.event_id,
            delivery.status.value + (" (resend)" if delivery.manual else ""),
            str(len(delivery.attempts)),
            escape(answer),
            f"{delivery.next_attempt_at:%Y-%m-%d %H:%M:%S}" if delivery.next_attempt_at else "",
        )
    show(listed)


def _mode(endpoint: Endpoint) -> str:
    return "test" if endpoint.test else "live"
