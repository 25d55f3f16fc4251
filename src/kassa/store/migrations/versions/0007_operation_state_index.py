"""an index of terminal operations by state, for the hub's sweeps

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_terminal_operations_state", "terminal_operations", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_terminal_operations_state", table_name="terminal_operations")
