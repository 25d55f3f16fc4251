"""Files a provider asks the merchant's site to serve, to prove the merchant owns it (1Plat's
`/1plat.txt`), served by Kassa from its provider accounts' settings.

A provider declares them (`Provider.public_files`: a path and the credential field holding the
file's text); nothing here names a provider. One Kassa may serve several shops, each with its
own account of the provider: the file holds the value of every enabled account (live or test)
that set one, each once, one per line, in sorted order, so that each account's proof is there.
With one account it is exactly that account's value.
"""

from __future__ import annotations

from sqlalchemy import select

from kassa.providers import PROVIDERS
from kassa.services.context import Context
from kassa.store import records
from kassa.store.tables import provider_accounts


def public_paths() -> list[str]:
    """Every path some provider asks to be served."""
    return sorted({path for cls in PROVIDERS.values() for path in cls.public_files})


async def public_file(ctx: Context, path: str) -> str | None:
    """The text of the file at `path`, or `None` if no enabled account sets it."""
    fields = {
        cls.name: cls.public_files[path] for cls in PROVIDERS.values() if path in cls.public_files
    }
    if not fields:
        return None
    query = select(provider_accounts).where(
        provider_accounts.c.provider.in_(sorted(fields)),
        provider_accounts.c.enabled.is_(True),
    )
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    accounts = [records.provider_account(row, ctx.keyring) for row in rows]
    values = {
        value.strip()
        for account in accounts
        if (value := account.credentials.get(fields[account.provider], "")).strip()
    }
    return "".join(f"{value}\n" for value in sorted(values)) or None
