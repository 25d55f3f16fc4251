"""bot subscriptions: bot settings, plans, buyers, subscriptions, purchases, promo codes,
and the provisioning and message outboxes (issue 18, part "subs")

Revision ID: 0020_subscriptions
Revises: 0019_poll_every
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kassa.store.types

revision: str = "0020_subscriptions"
down_revision: str | None = "0019_poll_every"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_buyers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("referral_code", sa.String(length=32), nullable=False),
        sa.Column("invited_by", sa.String(length=40), nullable=True),
        sa.Column(
            "referral_rewarded_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("trial_used_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["bot_buyers.id"], name=op.f("fk_bot_buyers_invited_by_bot_buyers")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_buyers_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_buyers")),
        sa.UniqueConstraint("referral_code", name=op.f("uq_bot_buyers_referral_code")),
        sa.UniqueConstraint(
            "shop_id", "telegram_id", name=op.f("uq_bot_buyers_shop_id_telegram_id")
        ),
    )
    op.create_table(
        "bot_messages",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_messages_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_messages")),
    )
    with op.batch_alter_table("bot_messages", schema=None) as batch_op:
        batch_op.create_index("ix_bot_messages_unsent", ["shop_id", "sent_at"], unique=False)

    op.create_table(
        "bot_plans",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("traffic_gb", sa.Integer(), nullable=True),
        sa.Column("devices", sa.Integer(), nullable=True),
        sa.Column("referral_days", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_bot_plans_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_plans")),
        sa.UniqueConstraint("shop_id", "name", name=op.f("uq_bot_plans_shop_id_name")),
    )
    op.create_table(
        "bot_promo_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("valid_until", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_promo_codes_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_promo_codes")),
        sa.UniqueConstraint("shop_id", "code", name=op.f("uq_bot_promo_codes_shop_id_code")),
    )
    op.create_table(
        "bot_settings",
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("admins", sa.Text(), server_default="", nullable=False),
        sa.Column("test", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("panel", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("panel_settings", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), server_default="ru", nullable=False),
        sa.Column("link_text", sa.Text(), nullable=True),
        sa.Column("trial_days", sa.Integer(), server_default=sa.text("3"), nullable=False),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_settings_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_bot_settings")),
    )
    op.create_table(
        "bot_promo_uses",
        sa.Column("promo_id", sa.String(length=40), nullable=False),
        sa.Column("buyer_id", sa.String(length=40), nullable=False),
        sa.Column("used_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["bot_buyers.id"], name=op.f("fk_bot_promo_uses_buyer_id_bot_buyers")
        ),
        sa.ForeignKeyConstraint(
            ["promo_id"],
            ["bot_promo_codes.id"],
            name=op.f("fk_bot_promo_uses_promo_id_bot_promo_codes"),
        ),
        sa.PrimaryKeyConstraint("promo_id", "buyer_id", name=op.f("pk_bot_promo_uses")),
    )
    op.create_table(
        "bot_provisioning",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("buyer_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["bot_buyers.id"], name=op.f("fk_bot_provisioning_buyer_id_bot_buyers")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_provisioning_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_provisioning")),
    )
    with op.batch_alter_table("bot_provisioning", schema=None) as batch_op:
        batch_op.create_index("ix_bot_provisioning_due", ["next_attempt_at"], unique=False)

    op.create_table(
        "bot_purchases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("buyer_id", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("promo_id", sa.String(length=40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ends_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("activated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["bot_buyers.id"], name=op.f("fk_bot_purchases_buyer_id_bot_buyers")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["bot_plans.id"], name=op.f("fk_bot_purchases_plan_id_bot_plans")
        ),
        sa.ForeignKeyConstraint(
            ["promo_id"],
            ["bot_promo_codes.id"],
            name=op.f("fk_bot_purchases_promo_id_bot_promo_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_purchases_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_purchases")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_bot_purchases_payment_id")),
    )
    with op.batch_alter_table("bot_purchases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_purchases_buyer_id"), ["buyer_id"], unique=False)

    op.create_table(
        "bot_subscriptions",
        sa.Column("buyer_id", sa.String(length=40), nullable=False),
        sa.Column("shop_id", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("ends_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("panel_user_id", sa.String(length=255), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("updated_at", kassa.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["bot_buyers.id"], name=op.f("fk_bot_subscriptions_buyer_id_bot_buyers")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["bot_plans.id"], name=op.f("fk_bot_subscriptions_plan_id_bot_plans")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_bot_subscriptions_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("buyer_id", name=op.f("pk_bot_subscriptions")),
    )


def downgrade() -> None:
    op.drop_table("bot_subscriptions")
    with op.batch_alter_table("bot_purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_purchases_buyer_id"))

    op.drop_table("bot_purchases")
    with op.batch_alter_table("bot_provisioning", schema=None) as batch_op:
        batch_op.drop_index("ix_bot_provisioning_due")

    op.drop_table("bot_provisioning")
    op.drop_table("bot_promo_uses")
    op.drop_table("bot_settings")
    op.drop_table("bot_promo_codes")
    op.drop_table("bot_plans")
    with op.batch_alter_table("bot_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_bot_messages_unsent")

    op.drop_table("bot_messages")
    op.drop_table("bot_buyers")
