"""the bot's stored update offset and its Telegram server (production or test)

Nullable or defaulted columns, which SQLite adds (and drops) in place.

Revision ID: 0021_bot_updates
Revises: 0020_subscriptions
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_bot_updates"
down_revision: str | None = "0020_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bot_settings", sa.Column("update_offset", sa.BigInteger(), nullable=True))
    op.add_column(
        "bot_settings",
        sa.Column("server", sa.String(16), nullable=False, server_default="production"),
    )


def downgrade() -> None:
    op.drop_column("bot_settings", "server")
    op.drop_column("bot_settings", "update_offset")
