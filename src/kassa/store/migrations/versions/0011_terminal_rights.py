"""a change counter every hub process polls, bumped with every change to a terminal's right
to connect

Revision ID: 0011_terminal_rights
Revises: 0010_notification_storage
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_terminal_rights"
down_revision: str | None = "0010_notification_storage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counters = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
    )
    op.bulk_insert(counters, [{"name": "terminal_rights", "value": 0}])


def downgrade() -> None:
    op.drop_table("change_counters")
