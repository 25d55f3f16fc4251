"""how often a payment's provider asked to be polled about it (Kaspi's StatusPollingInterval)

A nullable column, which SQLite adds (and drops) in place.

Revision ID: 0019_poll_every
Revises: 0018_receipt_emails
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_poll_every"
down_revision: str | None = "0018_receipt_emails"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("poll_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("payments", "poll_seconds")
