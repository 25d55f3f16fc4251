"""terminals become devices of a kind: every existing row is a kiosk terminal

Revision ID: 0013_device_kinds
Revises: 0012_secrets_at_rest
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_device_kinds"
down_revision: str | None = "0012_secrets_at_rest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "terminals",
        sa.Column(
            "kind", sa.String(length=16), server_default=sa.text("'terminal'"), nullable=False
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("kind")
