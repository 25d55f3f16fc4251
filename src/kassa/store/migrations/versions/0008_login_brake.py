"""the sign-in brake: an attempt under it claims its turn, one per failure before it

Revision ID: 0008_login_brake
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_login_brake"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "admin_login_failures",
        sa.Column("claims_after", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
    )
    op.create_index(
        "uq_admin_login_failures_claim",
        "admin_login_failures",
        ["name", "claims_after"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_admin_login_failures_claim", table_name="admin_login_failures")
    op.drop_column("admin_login_failures", "claims_after")
