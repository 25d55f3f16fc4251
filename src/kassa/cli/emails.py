"""Receipt e-mails from the CLI: each shop's sender and language (`kassa shops email`,
`kassa shops language`) and what was sent, skipped or failed (`kassa emails list`)."""

from __future__ import annotations

from typing import Annotated

import typer

from kassa.cli.output import (
    JsonOption,
    console,
    id_column,
    print_json,
    run,
    show,
    table,
    text_column,
)
from kassa.domain import Shop
from kassa.services.context import Context
from kassa.services.emails import receipts
from kassa.services.objects import timestamp
from kassa.services.shops import shops

app = typer.Typer(help="Receipt e-mails to customers: what was sent.", no_args_is_help=True)


def language(name: str, language: str) -> None:
    """Set the language (ru or en) a shop's e-mails to its customers are written in."""

    async def work(ctx: Context) -> Shop:
        shop = await shops.get_shop(ctx, name=name)
        return await shops.set_language(ctx, shop=shop, language=language)

    shop = run(work)
    console.print(f"Shop [bold]{shop.name}[/] now writes to its customers in {shop.language}")


def email(
    name: str,
    address: Annotated[
        str | None, typer.Argument(help="The sender, e.g. 'My shop <receipts@shop.ru>'.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Send this shop's customers none.")] = False,
) -> None:
    """Set the address a shop's receipt e-mails come from, or turn them --off.

    With a sender, each customer whose payment has customer_email gets an e-mail when the
    payment succeeds and when it is refunded, through KASSA_SMTP_URL."""
    if (address is None) == (not off):
        raise typer.BadParameter("give an ADDRESS, or --off")

    async def work(ctx: Context) -> Shop:
        shop = await shops.get_shop(ctx, name=name)
        return await shops.set_email_from(ctx, shop=shop, address=address)

    shop = run(work)
    if shop.email_from is None:
        console.print(f"Shop [bold]{shop.name}[/] sends its customers no receipt e-mails")
    else:
        console.print(
            f"Shop [bold]{shop.name}[/] sends receipt e-mails from {shop.email_from}",
            soft_wrap=True,
        )


@app.command("list")
def list_emails(
    shop: Annotated[str | None, typer.Option(help="Only this shop's.")] = None,
    payment: Annotated[str | None, typer.Option(help="Only this payment's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """The newest receipt e-mails: to whom, for which payment or refund, and whether each
    was sent, skipped (and why) or is waiting to be tried again."""

    async def work(ctx: Context) -> list[receipts.ReceiptEmail]:
        shop_id = (await shops.get_shop(ctx, name=shop)).id if shop else None
        return await receipts.list_emails(ctx, shop_id=shop_id, payment_id=payment, limit=limit)

    found = run(work)
    if as_json:
        print_json(
            [
                {
                    "event": each.event_id,
                    "payment": each.payment_id,
                    "refund": each.refund_id,
                    "recipient": each.recipient,
                    "status": each.status,
                    "attempts": each.attempts,
                    "error": each.error,
                    "created_at": timestamp(each.created_at),
                    "sent_at": timestamp(each.sent_at),
                }
                for each in found
            ]
        )
        return
    listed = table(
        id_column("payment"), "refund", "recipient", "status", text_column("why"), "when"
    )
    for each in found:
        listed.add_row(
            each.payment_id,
            each.refund_id or "",
            each.recipient,
            each.status,
            each.error or "",
            (each.sent_at or each.created_at).strftime("%Y-%m-%d %H:%M"),
        )
    show(listed)
