"""The Telegram storefront bot's world (`kassa.services.bot`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from kassa.store.tables.base import ID, metadata
from kassa.store.types import Document, UtcDateTime

# Subscriptions sold by a shop's Telegram bot (`kassa.services.bot`, part "subs" of issue 18):
# the bot's settings, plans, buyers, their subscriptions and purchases, promo codes, and two
# outboxes written in the transaction that decides them: the panel provisioning to do and the
# messages the bot process sends.

#: One per shop that has a bot. `token` is a sealed secret; so are `panel_token` and
#: `panel_password` among `panel_settings` (`kassa.services.encryption.PLACES`).
bot_settings = Table(
    "bot_settings",
    metadata,
    Column("shop_id", String(ID), ForeignKey("shops.id"), primary_key=True),
    Column("token", Text, nullable=False),
    #: The owners' Telegram ids, comma-separated.
    Column("admins", Text, nullable=False, server_default=""),
    #: Whether the bot takes payments in the shop's test mode (a new bot does).
    Column("test", Boolean, nullable=False, server_default=text("true")),
    #: marzban, remnawave or none.
    Column("panel", String(16), nullable=False, server_default="none"),
    Column("panel_settings", Document, nullable=False),
    Column("language", String(8), nullable=False, server_default="ru"),
    #: What a buyer gets as the access link when there is no panel (`panel=none`).
    Column("link_text", Text),
    Column("trial_days", Integer, nullable=False, server_default=text("3")),
    #: Telegram's production servers, or its test environment (`/bot<token>/test/…`).
    Column("server", String(16), nullable=False, server_default="production"),
    #: The shop's terms of service, as the bot shows them (`/terms`).
    Column("terms", Text),
    #: The next update to ask Telegram for: every update below it has been handled.
    Column("update_offset", BigInteger),
    #: Whether buyers have an internal balance (top up, renew from it).
    Column("balance", Boolean, nullable=False, server_default=text("false")),
    #: polling (`kassa bot` asks Telegram), or webhook (Telegram posts to `/telegram/{shop}`).
    Column("mode", String(16), nullable=False, server_default="polling"),
    #: The sealed secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token` (webhook).
    Column("webhook_secret", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

bot_plans = Table(
    "bot_plans",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("days", Integer, nullable=False),
    #: In kopecks.
    Column("price", BigInteger, nullable=False),
    #: In whole Stars (XTR).
    Column("stars", Integer, nullable=False),
    Column("traffic_gb", Integer),
    Column("devices", Integer),
    #: Days the inviter gets when someone they invited first buys this plan.
    Column("referral_days", Integer, nullable=False, server_default=text("0")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "name"),
)

#: A Telegram user of a shop's bot.
bot_buyers = Table(
    "bot_buyers",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("telegram_id", BigInteger, nullable=False),
    Column("name", String(255), nullable=False, server_default=""),
    Column("language", String(8)),
    #: What follows `ref_` in the buyer's invitation link.
    Column("referral_code", String(32), nullable=False, unique=True),
    Column("invited_by", String(ID), ForeignKey("bot_buyers.id")),
    #: Set once the inviter got their bonus for this buyer's first paid purchase.
    Column("referral_rewarded_at", UtcDateTime),
    Column("trial_used_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "telegram_id"),
)

#: A buyer's one subscription: until when, and what the panel made of it.
bot_subscriptions = Table(
    "bot_subscriptions",
    metadata,
    Column("buyer_id", String(ID), ForeignKey("bot_buyers.id"), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    #: The plan last bought (its limits go to the panel); null for a trial alone.
    Column("plan_id", String(ID), ForeignKey("bot_plans.id")),
    Column("ends_at", UtcDateTime, nullable=False),
    #: trial or paid (expired is `ends_at` in the past).
    Column("status", String(16), nullable=False),
    Column("panel_user_id", String(255)),
    #: The panel user's name when it is not `tg_<telegram id>` (a customer moved over from a
    #: running bot with `kassa bot import`): provisioning extends that user.
    Column("panel_username", String(64)),
    Column("link", Text),
    Column("updated_at", UtcDateTime, nullable=False),
    #: For the reminders (`kassa.services.bot.reminders`): the subscriptions ending soon.
    Index("ix_bot_subscriptions_ends_at", "ends_at"),
)

#: A plan bought with a payment (the end it gave is computed once, when the payment
#: succeeds), or a top-up of the buyer's balance (credited once, then).
bot_purchases = Table(
    "bot_purchases",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("buyer_id", String(ID), ForeignKey("bot_buyers.id"), nullable=False, index=True),
    #: plan, or topup (no plan, no days).
    Column("kind", String(16), nullable=False, server_default="plan"),
    Column("plan_id", String(ID), ForeignKey("bot_plans.id")),
    #: Written before the payment is created (its id is chosen here), hence no foreign key.
    Column("payment_id", String(ID), nullable=False, unique=True),
    Column("promo_id", String(ID), ForeignKey("bot_promo_codes.id")),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("days", Integer, nullable=False),
    #: pending, then activated (once: the consumer's update is conditional on pending or
    #: failed, the payment not created as far as Kassa knows).
    Column("status", String(16), nullable=False),
    Column("ends_at", UtcDateTime),
    Column("activated_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
)

bot_promo_codes = Table(
    "bot_promo_codes",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("code", String(64), nullable=False),
    #: Extra days, or a percentage off a purchase: one of the two.
    Column("days", Integer),
    Column("percent", Integer),
    Column("max_uses", Integer),
    Column("uses", Integer, nullable=False, server_default=text("0")),
    Column("valid_until", UtcDateTime),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "code"),
)

#: One use of a code per buyer.
bot_promo_uses = Table(
    "bot_promo_uses",
    metadata,
    Column("promo_id", String(ID), ForeignKey("bot_promo_codes.id"), primary_key=True),
    Column("buyer_id", String(ID), ForeignKey("bot_buyers.id"), primary_key=True),
    Column("used_at", UtcDateTime, nullable=False),
)

#: The percentage code a buyer entered in the bot for their next purchase (one per buyer,
#: the latest): pending while the buyer has not used it (`services.bot.promo_entry`).
bot_pending_promos = Table(
    "bot_pending_promos",
    metadata,
    Column("buyer_id", String(ID), ForeignKey("bot_buyers.id"), primary_key=True),
    Column("promo_id", String(ID), ForeignKey("bot_promo_codes.id"), nullable=False),
    Column("entered_at", UtcDateTime, nullable=False),
)

#: A buyer's internal balance (`balance=true`): entries are only ever added, never changed,
#: and the balance is their sum, in kopecks. A credit is a top-up paid (keyed by its
#: purchase), a debit a renewal from the balance (keyed by the tap that asked for it).
bot_balance_entries = Table(
    "bot_balance_entries",
    metadata,
    #: `topup:<purchase id>`, `renew:<buyer id>:<key>`: one entry per cause.
    Column("id", String(160), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("buyer_id", String(ID), ForeignKey("bot_buyers.id"), nullable=False, index=True),
    #: Kopecks: positive for a credit, negative for a debit.
    Column("amount", BigInteger, nullable=False),
    #: topup or renew.
    Column("reason", String(16), nullable=False),
    Column("purchase_id", String(ID), ForeignKey("bot_purchases.id")),
    Column("plan_id", String(ID), ForeignKey("bot_plans.id")),
    Column("created_at", UtcDateTime, nullable=False),
)

#: Panel provisioning to do: the subscription's end changed (`reason`: a purchase, a trial,
#: a promo, a referral bonus). The job sends the subscription's end as it is then.
bot_provisioning = Table(
    "bot_provisioning",
    metadata,
    #: The id of what caused it: at most one row per purchase, trial, promo use or bonus.
    Column("id", String(128), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("buyer_id", String(ID), ForeignKey("bot_buyers.id"), nullable=False),
    Column("reason", String(16), nullable=False),
    #: pending, done, or stuck (given up on, or failing for longer than `STUCK_AFTER`).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime),
    Column("error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_bot_provisioning_due", "next_attempt_at"),
)

#: Messages for the bot process to send, each once (it marks them sent).
bot_messages = Table(
    "bot_messages",
    metadata,
    #: `<kind>:<what it is about>`: at most one message of a kind per cause.
    Column("id", String(160), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    Column("telegram_id", BigInteger, nullable=False),
    #: access (the link), delayed (activation on its way), the reminders (`ends_in_3d`,
    #: `ends_in_1d`, `expired`), the owners' alerts (`alert`, `alert_cleared`).
    Column("kind", String(16), nullable=False),
    #: What the bot renders into the buyer's language (link, ends_at).
    Column("params", Document, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Index("ix_bot_messages_unsent", "shop_id", "sent_at"),
)

#: The owners' alerts that are on: one row per shop and condition (`kassa.services.bot.alerts`),
#: made when the condition starts and deleted when it clears, each with its messages.
bot_alerts = Table(
    "bot_alerts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    #: `<kind>` or `<kind>:<what>` (an endpoint's or terminal's id).
    Column("condition", String(128), nullable=False),
    #: What the start message said (the figures when it started).
    Column("params", Document, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "condition"),
)

#: Updates Telegram posted to a webhook-mode bot (`/telegram/{shop}`): each is handled once,
#: by whoever claims it (a retry while the claim's lease runs is answered 503 and retried).
bot_webhook_updates = Table(
    "bot_webhook_updates",
    metadata,
    Column("shop_id", String(ID), ForeignKey("shops.id"), primary_key=True),
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    #: Until when the claim holds while it is handled; null once handled.
    Column("claimed_until", UtcDateTime),
    Column("received_at", UtcDateTime, nullable=False),
    Index("ix_bot_webhook_updates_received", "received_at"),
)

#: A message the shop's owner sends from the bot (`/broadcast`) to an audience of its buyers:
#: a draft until confirmed, then sending (by the bot process) until done or stopped.
bot_broadcasts = Table(
    "bot_broadcasts",
    metadata,
    #: Derived from the owner's message with the text, so that update handled twice drafts once.
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False),
    #: all, active, expired or trial.
    Column("audience", String(16), nullable=False),
    Column("text", Text, nullable=False),
    #: draft, sending, stopped, done or cancelled (a draft not confirmed).
    Column("state", String(16), nullable=False),
    #: The owner who wrote it, and the message in their chat the progress is edited into.
    Column("owner_chat_id", BigInteger, nullable=False),
    Column("progress_message_id", BigInteger),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Index("ix_bot_broadcasts_shop_state", "shop_id", "state"),
)

#: Who a broadcast goes to, chosen when it is confirmed; each marked once it is sent.
bot_broadcast_recipients = Table(
    "bot_broadcast_recipients",
    metadata,
    Column("broadcast_id", String(ID), ForeignKey("bot_broadcasts.id"), primary_key=True),
    Column("telegram_id", BigInteger, primary_key=True),
    #: pending, sent, blocked (the user blocked the bot: 403) or failed (any other refusal).
    Column("status", String(16), nullable=False),
    Column("sent_at", UtcDateTime),
    Index("ix_bot_broadcast_recipients_status", "broadcast_id", "status"),
)
