"""an index to delete the USDT-TRC20 transfers past their retention
(KASSA_TRON_TRANSFER_RETENTION_DAYS)

Revision ID: 0033_tron_transfers_seen_at
Revises: 0032_club_pc_limits
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033_tron_transfers_seen_at"
down_revision: str | None = "0032_club_pc_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tron_transfers_seen_at", "tron_transfers", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_tron_transfers_seen_at", table_name="tron_transfers")
