"""the panel user a bot's subscription is linked to when it is not `tg_<telegram id>`: a
customer moved over from a running bot (`kassa bot import`) keeps their panel user

A nullable column, which SQLite adds (and drops) in place.

Revision ID: 0025_bot_admin
Revises: 0024_club
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_bot_admin"
down_revision: str | None = "0024_club"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "bot_subscriptions", sa.Column("panel_username", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("bot_subscriptions", "panel_username")
