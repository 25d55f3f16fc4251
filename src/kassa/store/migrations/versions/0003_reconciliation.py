"""reconciliation: when each open payment is next asked about

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column("next_check_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_payments_next_check", "payments", ["next_check_at"])
    # Payments already open are asked about at the worker's first run.
    op.execute(
        "UPDATE payments SET next_check_at = created_at "
        "WHERE status IN ('pending', 'requires_capture')"
    )


def downgrade() -> None:
    op.drop_index("ix_payments_next_check", table_name="payments")
    op.drop_column("payments", "next_check_at")
