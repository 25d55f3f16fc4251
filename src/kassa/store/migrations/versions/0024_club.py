"""the computer club's world: clubs, zones, PCs (devices of kind club_pc), member groups,
customers, their ledger, tariffs, packages and holdings, apps and launch logs (issue 19,
part "world")

Revision ID: 0024_club
Revises: 0021_bot_updates
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0024_club"
down_revision: str | None = "0021_bot_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clubs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("lease_max", sa.Integer(), server_default=sa.text("(300)"), nullable=False),
        sa.Column("offline_policy", sa.String(length=16), server_default="lock", nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_clubs_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clubs")),
        sa.UniqueConstraint("name", name=op.f("uq_clubs_name")),
    )
    with op.batch_alter_table("clubs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clubs_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "club_apps",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("icon", sa.Text(), nullable=True),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["club_id"], ["clubs.id"], name=op.f("fk_club_apps_club_id_clubs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_apps")),
        sa.UniqueConstraint("club_id", "name", name=op.f("uq_club_apps_club_id_name")),
    )
    op.create_table(
        "club_groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_groups_club_id_clubs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_groups")),
        sa.UniqueConstraint("club_id", "name", name=op.f("uq_club_groups_club_id_name")),
    )
    op.create_table(
        "club_zones",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_zones_club_id_clubs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_zones")),
        sa.UniqueConstraint("club_id", "name", name=op.f("uq_club_zones_club_id_name")),
    )
    op.create_table(
        "club_customers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("group_id", sa.String(length=40), nullable=True),
        sa.Column("balance", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("time_bank", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("blocked_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_customers_club_id_clubs")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["club_groups.id"], name=op.f("fk_club_customers_group_id_club_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_customers")),
        sa.UniqueConstraint("club_id", "login", name=op.f("uq_club_customers_club_id_login")),
    )
    op.create_table(
        "club_packages",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("zone_id", sa.String(length=40), nullable=True),
        sa.Column("window_starts", sa.Integer(), nullable=True),
        sa.Column("window_ends", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_packages_club_id_clubs")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["club_zones.id"], name=op.f("fk_club_packages_zone_id_club_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_packages")),
        sa.UniqueConstraint("club_id", "name", name=op.f("uq_club_packages_club_id_name")),
    )
    op.create_table(
        "club_pcs",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("zone_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["club_id"], ["clubs.id"], name=op.f("fk_club_pcs_club_id_clubs")),
        sa.ForeignKeyConstraint(
            ["shop_id", "device_id"],
            ["terminals.shop_id", "terminals.id"],
            name=op.f("fk_club_pcs_shop_id_terminals"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["club_zones.id"], name=op.f("fk_club_pcs_zone_id_club_zones")
        ),
        sa.PrimaryKeyConstraint("shop_id", "device_id", name=op.f("pk_club_pcs")),
    )
    with op.batch_alter_table("club_pcs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_club_pcs_club_id"), ["club_id"], unique=False)

    op.create_table(
        "club_tariffs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("zone_id", sa.String(length=40), nullable=False),
        sa.Column("per_minute", sa.BigInteger(), nullable=False),
        sa.Column("weekdays", sa.String(length=7), nullable=True),
        sa.Column("starts", sa.Integer(), nullable=True),
        sa.Column("ends", sa.Integer(), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_tariffs_club_id_clubs")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["club_zones.id"], name=op.f("fk_club_tariffs_zone_id_club_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_tariffs")),
    )
    with op.batch_alter_table("club_tariffs", schema=None) as batch_op:
        batch_op.create_index("ix_club_tariffs_zone", ["zone_id"], unique=False)

    op.create_table(
        "club_holdings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("package_id", sa.String(length=40), nullable=False),
        sa.Column("seconds_left", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_holdings_club_id_clubs")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["club_customers.id"],
            name=op.f("fk_club_holdings_customer_id_club_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["club_packages.id"],
            name=op.f("fk_club_holdings_package_id_club_packages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_holdings")),
    )
    with op.batch_alter_table("club_holdings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_club_holdings_customer", ["customer_id", "seconds_left"], unique=False
        )

    op.create_table(
        "club_launches",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column("app_name", sa.String(length=128), nullable=False),
        sa.Column("at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["club_apps.id"], name=op.f("fk_club_launches_app_id_club_apps")
        ),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_launches_club_id_clubs")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["club_customers.id"],
            name=op.f("fk_club_launches_customer_id_club_customers"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_club_launches")),
    )
    with op.batch_alter_table("club_launches", schema=None) as batch_op:
        batch_op.create_index("ix_club_launches_club", ["club_id", "seq"], unique=False)

    op.create_table(
        "club_ledger",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("club_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=160), nullable=True),
        sa.Column("package_id", sa.String(length=40), nullable=True),
        sa.Column("holding_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name=op.f("fk_club_ledger_club_id_clubs")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["club_customers.id"],
            name=op.f("fk_club_ledger_customer_id_club_customers"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_club_ledger")),
        sa.UniqueConstraint(
            "club_id", "idempotency_key", name=op.f("uq_club_ledger_club_id_idempotency_key")
        ),
        sa.UniqueConstraint("id", name=op.f("uq_club_ledger_id")),
    )
    with op.batch_alter_table("club_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_club_ledger_customer", ["customer_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("club_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_club_ledger_customer")

    op.drop_table("club_ledger")
    with op.batch_alter_table("club_launches", schema=None) as batch_op:
        batch_op.drop_index("ix_club_launches_club")

    op.drop_table("club_launches")
    with op.batch_alter_table("club_holdings", schema=None) as batch_op:
        batch_op.drop_index("ix_club_holdings_customer")

    op.drop_table("club_holdings")
    with op.batch_alter_table("club_tariffs", schema=None) as batch_op:
        batch_op.drop_index("ix_club_tariffs_zone")

    op.drop_table("club_tariffs")
    with op.batch_alter_table("club_pcs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_club_pcs_club_id"))

    op.drop_table("club_pcs")
    op.drop_table("club_packages")
    op.drop_table("club_customers")
    op.drop_table("club_zones")
    op.drop_table("club_groups")
    op.drop_table("club_apps")
    with op.batch_alter_table("clubs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clubs_shop_id"))

    op.drop_table("clubs")
