"""the buyer's screens in the bot: the shop's terms of service, and the percentage code a
buyer entered for their next purchase

A nullable column, which SQLite adds (and drops) in place, and a new table.

Revision ID: 0026_bot_buyer
Revises: 0029_club_sessions
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0026_bot_buyer"
down_revision: str | None = "0029_club_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bot_settings", sa.Column("terms", sa.Text(), nullable=True))
    op.create_table(
        "bot_pending_promos",
        sa.Column("buyer_id", sa.String(length=40), nullable=False),
        sa.Column("promo_id", sa.String(length=40), nullable=False),
        sa.Column("entered_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["bot_buyers.id"],
            name=op.f("fk_bot_pending_promos_buyer_id_bot_buyers"),
        ),
        sa.ForeignKeyConstraint(
            ["promo_id"],
            ["bot_promo_codes.id"],
            name=op.f("fk_bot_pending_promos_promo_id_bot_promo_codes"),
        ),
        sa.PrimaryKeyConstraint("buyer_id", name=op.f("pk_bot_pending_promos")),
    )


def downgrade() -> None:
    op.drop_table("bot_pending_promos")
    op.drop_column("bot_settings", "terms")
