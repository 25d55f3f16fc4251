"""Whether this process can serve: the database answers and has the schema the code expects
(`/readyz`)."""

from __future__ import annotations

from sqlalchemy import text

from kassa.services.context import Context


async def schema_revision(ctx: Context) -> str | None:
    """The migration the database is at (`None` if it was never migrated); raises whatever
    the driver raises when the database does not answer."""
    async with ctx.db.read() as conn:
        revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    return None if revision is None else str(revision)
