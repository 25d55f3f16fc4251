"""fiscal receipts (54-FZ): a payment's lines and its customer's e-mail and phone, the
receipt's status on payments and refunds, and each shop's fiscal settings

Only nullable columns are added, which SQLite does in place (no batch rebuild), so the
configuration triggers on `shops` (0014) stay as they are.

Revision ID: 0017_receipts
Revises: 0014_configuration_version
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_receipts"
down_revision: str | None = "0014_configuration_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("shops", sa.Column("fiscal", sa.JSON(), nullable=True))
    op.add_column("payments", sa.Column("customer_email", sa.String(length=254), nullable=True))
    op.add_column("payments", sa.Column("customer_phone", sa.String(length=16), nullable=True))
    op.add_column("payments", sa.Column("items", sa.JSON(), nullable=True))
    op.add_column("payments", sa.Column("receipt", sa.JSON(), nullable=True))
    op.add_column("payments", sa.Column("receipt_status", sa.String(length=24), nullable=True))
    op.add_column("refunds", sa.Column("receipt_status", sa.String(length=24), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place when nothing indexes or references it.
    op.drop_column("refunds", "receipt_status")
    for column in ("receipt_status", "receipt", "items", "customer_phone", "customer_email"):
        op.drop_column("payments", column)
    op.drop_column("shops", "fiscal")
