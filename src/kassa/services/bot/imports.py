"""Moving a running bot's customers over (`kassa bot import SHOP FILE.csv`): buyers and the
end dates of their subscriptions from a CSV file of `telegram_id,name,ends_at` and,
optionally, `panel_username` and `language`.

The file is read whole and checked first: any bad line refuses the import, every problem
reported with its line number, and nothing is written. Then one transaction applies it:

- a buyer not known yet is created (one already known keeps their name and language);
- a subscription not there yet is made to end at `ends_at` (a paid one); one that ends
  earlier is moved to `ends_at`; one that ends later (renewed since, say) is left alone;
- `panel_username` links the subscription to the customer's user on the panel, so that
  provisioning (a renewal) extends that user instead of making `tg_<telegram id>`.

Nothing is sent to the panel or to the buyers: they have their access already. Each step is
a conditional write (an insert that ignores the row already there, an update only of an
earlier end), so importing the same file again, even twice at once, changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import ParameterInvalid, new_id
from kassa.services.bot import activation, buyers
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import bot_buyers, bot_subscriptions

COLUMNS = ("telegram_id", "name", "ends_at", "panel_username", "language")
REQUIRED = 3
#: What both panels accept in a username (Marzban: 3-32 of letters, digits and `_-@.`;
#: Remnawave: 3-36 of letters, digits and `_-`).
PANEL_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{3,36}")
DIGITS = re.compile(r"[0-9]{1,19}")
#: How many problems an error names before it says how many more there are.
PROBLEMS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Customer:
    """A line of the file, checked."""

    line: int
    telegram_id: int
    name: str
    ends_at: datetime
    panel_username: str | None
    language: str | None


@dataclass(slots=True)
class Outcome:
    """What an import did (or, dry, would do)."""

    lines: int = 0
    buyers_created: int = 0
    subscriptions_created: int = 0
    subscriptions_moved: int = 0
    panel_users_linked: int = 0
    unchanged: int = 0
    dry_run: bool = False
    problems: list[str] = field(default_factory=list)


def _when(value: str) -> datetime:
    """An ISO date (midnight UTC) or date and time (UTC unless it names its offset)."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _customer(line: int, cells: dict[str, str]) -> Customer:
    """One line's values, or `ValueError` saying what is wrong with it."""
    telegram_id = cells["telegram_id"]
    if not DIGITS.fullmatch(telegram_id) or not 0 < int(telegram_id) <= buyers.MAX_TELEGRAM_ID:
        raise ValueError(f"telegram_id {telegram_id[:32]!r} is not a Telegram user id")
    try:
        ends_at = _when(cells["ends_at"])
    except ValueError:
        raise ValueError(
            f"ends_at {cells['ends_at'][:40]!r} is not an ISO date such as 2027-01-31 "
            "or 2027-01-31T12:00:00"
        ) from None
    username = cells.get("panel_username") or None
    if username is not None and not PANEL_USERNAME.fullmatch(username):
        raise ValueError(
            f"panel_username {username[:40]!r} is not a panel's user name "
            "(3-36 letters, digits, _ - . @)"
        )
    language = cells.get("language") or None
    if language is not None and language not in bot_settings.LANGUAGES:
        raise ValueError(f"language is {' or '.join(bot_settings.LANGUAGES)}, not {language!r}")
    if len(cells["name"]) > 255:
        raise ValueError("name is longer than 255 characters")
    return Customer(line, int(telegram_id), cells["name"], ends_at, username, language)


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """The file's rows, each with the number of the line it ends on (a quoted value may
    span lines)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise ParameterInvalid(
            f"nothing was imported; line {reader.line_num + 1} is not CSV: {exc}", param="file"
        ) from None


def _columns(header: list[str]) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    unknown = [name for name in columns if name not in COLUMNS]
    missing = [name for name in COLUMNS[:REQUIRED] if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        raise ParameterInvalid(
            f"line 1: the columns are {', '.join(COLUMNS[:REQUIRED])} and optionally "
            f"{', '.join(COLUMNS[REQUIRED:])}, each once",
            param="file",
        )
    return columns


def read(text: str) -> list[Customer]:
    """The file's customers; `ParameterInvalid` naming every bad line if there is one. A first
    line that starts with `telegram_id` names the columns (in any order); otherwise they
    are in the order of `COLUMNS`."""
    columns = list(COLUMNS)
    problems: list[str] = []
    customers: list[Customer] = []
    seen: dict[int, int] = {}
    for number, row in _rows(text):
        if number == 1 and row and row[0].strip().lower() == "telegram_id":
            columns = _columns(row)
            continue
        if not any(cell.strip() for cell in row):
            continue
        if not REQUIRED <= len(row) <= len(columns):
            problems.append(f"line {number}: {len(row)} values, not {REQUIRED}-{len(columns)}")
            continue
        cells = {name: cell.strip() for name, cell in zip(columns, row, strict=False)}
        try:
            customer = _customer(number, cells)
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if customer.telegram_id in seen:
            problems.append(
                f"line {number}: telegram_id {customer.telegram_id} is on line "
                f"{seen[customer.telegram_id]} too"
            )
            continue
        seen[customer.telegram_id] = number
        customers.append(customer)
    if problems:
        more = len(problems) - PROBLEMS_SHOWN
        shown = problems[:PROBLEMS_SHOWN] + ([f"… and {more} more"] if more > 0 else [])
        raise ParameterInvalid(
            "nothing was imported; fix these lines:\n" + "\n".join(shown), param="file"
        )
    if not customers:
        raise ParameterInvalid("the file has no customers", param="file")
    return customers


class _DryRun(Exception):
    """Rolls a dry run's transaction back once it has counted what it would do."""


async def apply(
    ctx: Context, *, shop_id: str, customers: list[Customer], dry_run: bool = False
) -> Outcome:
    """Import `customers` into the shop's bot in one transaction (rolled back if `dry_run`).
    `ParameterInvalid` if a customer's subscription is linked to another panel user."""
    await bot_settings.get(ctx, shop_id=shop_id)  # the shop has a bot
    outcome = Outcome(lines=len(customers), dry_run=dry_run)
    try:
        async with ctx.db.write() as conn:
            for customer in customers:
                await _import(conn, ctx.clock(), shop_id, customer, outcome)
            if outcome.problems:
                raise ParameterInvalid(
                    "nothing was imported; fix these lines:\n" + "\n".join(outcome.problems),
                    param="file",
                )
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return outcome


async def _import(
    conn: AsyncConnection, now: datetime, shop_id: str, customer: Customer, outcome: Outcome
) -> None:
    created = await conn.execute(
        insert_ignoring_conflict(
            conn.dialect.name, bot_buyers, index_elements=["shop_id", "telegram_id"]
        ),
        {
            "id": new_id("buyer"),
            "shop_id": shop_id,
            "telegram_id": customer.telegram_id,
            "name": customer.name,
            "language": customer.language,
            "referral_code": buyers.new_referral_code(),
            "invited_by": None,
            "created_at": now,
        },
    )
    buyer_id = (
        await conn.execute(
            select(bot_buyers.c.id).where(
                bot_buyers.c.shop_id == shop_id, bot_buyers.c.telegram_id == customer.telegram_id
            )
        )
    ).scalar_one()
    subscribed = await conn.execute(
        insert_ignoring_conflict(conn.dialect.name, bot_subscriptions, index_elements=["buyer_id"]),
        {
            "buyer_id": buyer_id,
            "shop_id": shop_id,
            "ends_at": customer.ends_at,
            "status": buyers.PAID,
            "panel_username": customer.panel_username,
            "updated_at": now,
        },
    )
    moved = linked = 0
    if subscribed.rowcount == 0:
        subs = bot_subscriptions.c
        moved = (
            await conn.execute(
                update(bot_subscriptions)
                .where(subs.buyer_id == buyer_id, subs.ends_at < customer.ends_at)
                .values(ends_at=customer.ends_at, status=buyers.PAID, updated_at=now)
            )
        ).rowcount
        if customer.panel_username is not None:
            linked = await _link(conn, buyer_id, customer, outcome)
    outcome.buyers_created += created.rowcount
    outcome.subscriptions_created += subscribed.rowcount
    outcome.subscriptions_moved += moved
    outcome.panel_users_linked += linked + (subscribed.rowcount if customer.panel_username else 0)
    if not (created.rowcount or subscribed.rowcount or moved or linked):
        outcome.unchanged += 1


async def _link(conn: AsyncConnection, buyer_id: str, customer: Customer, outcome: Outcome) -> int:
    """Link the existing subscription to the customer's panel user, unless it has a panel
    user already, another one (a problem of the line: Kassa will not move a customer from
    one panel user to another)."""
    subs = bot_subscriptions.c
    linked: int = (
        await conn.execute(
            update(bot_subscriptions)
            .where(
                subs.buyer_id == buyer_id,
                subs.panel_username.is_(None),
                subs.panel_user_id.is_(None),
            )
            .values(panel_username=customer.panel_username)
        )
    ).rowcount
    if linked == 0:
        current: Any = (
            await conn.execute(select(subs.panel_username).where(subs.buyer_id == buyer_id))
        ).scalar()
        current = current or activation.panel_username(customer.telegram_id)
        if current != customer.panel_username:
            outcome.problems.append(
                f"line {customer.line}: the subscription of {customer.telegram_id} has the "
                f"panel user {current!r} already"
            )
    return linked
