"""webhook attempts are recorded in flight before they are sent: their state

Revision ID: 0009_webhook_attempt_state
Revises: 0008_login_brake
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_webhook_attempt_state"
down_revision: str | None = "0008_login_brake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every attempt recorded so far was recorded with its answer: `done`.
    op.add_column(
        "webhook_attempts",
        sa.Column("state", sa.String(length=16), server_default=sa.text("'done'"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.drop_column("state")
