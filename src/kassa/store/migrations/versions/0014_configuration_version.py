"""a counter every process polls, bumped by triggers with every change to shops, API keys and
provider accounts, so that each process's cache of them is dropped within a second

Triggers rather than code in each writer: they catch every writer, a CLI command in another
process, a future service, a person at `psql` or `sqlite3`. A later migration that rebuilds
one of these tables (SQLite's batch mode copies it to a new table) must create its triggers
again: `tests/test_configuration_cache.py` checks them at head.

Revision ID: 0014_configuration_version
Revises: 0013_device_kinds
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_configuration_version"
down_revision: str | None = "0013_device_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("shops", "api_keys", "provider_accounts")
BUMP = "UPDATE change_counters SET value = value + 1 WHERE name = 'configuration'"
FUNCTION = "kassa_configuration_changed"


def upgrade() -> None:
    counters = sa.table("change_counters", sa.column("name"), sa.column("value"))
    op.bulk_insert(counters, [{"name": "configuration", "value": 0}])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite has only row triggers, one event each.
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(
                    f"CREATE TRIGGER {table}_{event}_configuration AFTER {event.upper()} "
                    f"ON {table} BEGIN {BUMP}; END"
                )
        return
    op.execute(
        f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_configuration AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_{event}_configuration")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_configuration ON {table}")
        op.execute(f"DROP FUNCTION {FUNCTION}()")
    op.execute("DELETE FROM change_counters WHERE name = 'configuration'")
