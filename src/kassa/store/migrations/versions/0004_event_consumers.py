"""event consumers: what each has handled, and what it failed on

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consumer_receipts",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("handled_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_consumer_receipts_event_id_events")
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_consumer_receipts")),
    )
    op.create_table(
        "consumer_failures",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("first_failed_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("retry_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_consumer_failures_event_id_events")
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_consumer_failures")),
    )
    op.create_index(
        "ix_consumer_failures_due", "consumer_failures", ["consumer", "retry_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_consumer_failures_due", table_name="consumer_failures")
    op.drop_table("consumer_failures")
    op.drop_table("consumer_receipts")
