"""`kassa shops fiscal SHOP …`: a shop's fiscal receipt (54-FZ) settings."""

from __future__ import annotations

from typing import Annotated

import typer

from kassa.cli.output import JsonOption, console, print_json, run
from kassa.domain import ParameterInvalid, Shop
from kassa.domain.receipts import PAYMENT_MODES, PAYMENT_SUBJECTS, FiscalSettings
from kassa.services.context import Context
from kassa.services.shops import shops


def fiscal(
    name: Annotated[str, typer.Argument(help="The shop.")],
    *,
    tax_system: Annotated[
        int | None,
        typer.Option(
            help="1 general, 2 simplified (income), 3 simplified (income less expenses), "
            "4 imputed, 5 agricultural, 6 patent."
        ),
    ] = None,
    vat: Annotated[
        int | None,
        typer.Option(
            help="Default VAT code: 1 none, 2 0%, 3 10%, 4 20%, 5 10/110, 6 20/120, 7 5%, "
            "8 7%, 9 5/105, 10 7/107, 11 22%, 12 22/122."
        ),
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help=f"Default payment subject: {', '.join(PAYMENT_SUBJECTS)}.")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help=f"Default payment mode: {', '.join(PAYMENT_MODES)}.")
    ] = None,
    required: Annotated[
        bool | None,
        typer.Option(
            "--required/--optional",
            help="Required: refuse a payment without customer_email or customer_phone.",
        ),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Send no receipts any more.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show or set the shop's fiscal receipt settings. The first time, --tax-system and --vat
    are needed; later options change only what they name."""
    changing = off or any(value is not None for value in (tax_system, vat, subject, mode, required))

    async def work(ctx: Context) -> Shop:
        shop = await shops.get_shop(ctx, name=name)
        if not changing:
            return shop
        if off:
            return await shops.set_fiscal(ctx, shop=shop, fiscal=None)
        current = shop.fiscal.document() if shop.fiscal else {}
        wanted = {
            "tax_system_code": tax_system,
            "vat_code": vat,
            "payment_subject": subject,
            "payment_mode": mode,
            "receipts_required": required,
        }
        merged = {**current, **{key: value for key, value in wanted.items() if value is not None}}
        if "tax_system_code" not in merged or "vat_code" not in merged:
            raise ParameterInvalid(
                "The shop has no fiscal settings yet: give --tax-system and --vat"
            )
        return await shops.set_fiscal(ctx, shop=shop, fiscal=FiscalSettings(**merged))

    shop = run(work)
    if as_json:
        print_json(shop.fiscal.document() if shop.fiscal else None)
    elif shop.fiscal is None:
        console.print(f"Shop [bold]{shop.name}[/] sends no fiscal receipts")
    else:
        console.print(f"Shop [bold]{shop.name}[/] sends fiscal receipts:", soft_wrap=True)
        for key, value in shop.fiscal.document().items():
            console.print(f"  {key} = {value}")
