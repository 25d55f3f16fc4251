"""The computer club's world (`kassa.services.club`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from kassa.store.tables.base import ID, metadata
from kassa.store.types import Document, SequenceKey, UtcDateTime

# Issue 19, part "world": clubs, their zones and PCs, customers with a ledger of money and
# time, tariffs, packages and the packages customers hold, apps and launch logs. Sessions and
# leases, shifts and online top-ups come later and join these tables.

#: A club of a shop. Its `name` is what `{club}` means in URLs and settings.
clubs = Table(
    "clubs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("shop_id", String(ID), ForeignKey("shops.id"), nullable=False, index=True),
    Column("name", String(64), nullable=False, unique=True),
    #: Amounts of the club (balances, prices, rates) are in this currency's minor units.
    Column("currency", String(8), nullable=False),
    #: Windows and time-of-day prices are read in this IANA zone.
    Column("timezone", String(64), nullable=False),
    #: The longest lease a PC is given past its last heartbeat, in seconds.
    Column("lease_max", Integer, nullable=False, server_default=text("300")),
    #: lock (at lease end) or continue (to the paid time, reconciled afterwards).
    Column("offline_policy", String(16), nullable=False, server_default="lock"),
    Column("created_at", UtcDateTime, nullable=False),
    #: The language of its PCs' screens: ru or en.
    Column("language", String(8), nullable=False, server_default="ru"),
    #: The mode its PCs' online top-ups are made in: test (the sandbox) or live.
    Column("test", Boolean, nullable=False, server_default=text("false")),
    #: The argon2 hash of the staff PIN that unlocks its PCs' staff panel; null: none set.
    Column("staff_pin_hash", Text),
)

club_zones = Table(
    "club_zones",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("club_id", "name"),
)

#: A PC of a club: a device of kind `club_pc` (`terminals`, whose core gives it tokens,
#: revocation, enabling and presence; the device's `name` is the alias staff see, its id the
#: PC's name), placed in a club and a zone here.
club_pcs = Table(
    "club_pcs",
    metadata,
    Column("shop_id", String(ID), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False, index=True),
    Column("zone_id", String(ID), ForeignKey("club_zones.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["shop_id", "device_id"], ["terminals.shop_id", "terminals.id"]),
)

#: Member groups: a discount on per-minute rates.
club_groups = Table(
    "club_groups",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("discount_percent", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("club_id", "name"),
)

#: A club's customer. `balance` (minor units) and `time_bank` (seconds) are running sums of
#: the customer's `club_ledger` entries, changed only by adding an entry's amount in the
#: transaction that writes it (`kassa audit` checks they equal the sums).
club_customers = Table(
    "club_customers",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    #: Unique within the club, and never reused, even once the customer is deleted.
    Column("login", String(64), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("name", String(128), nullable=False, server_default=""),
    Column("phone", String(32)),
    Column("group_id", String(ID), ForeignKey("club_groups.id")),
    Column("balance", BigInteger, nullable=False, server_default=text("0")),
    Column("time_bank", BigInteger, nullable=False, server_default=text("0")),
    Column("blocked_at", UtcDateTime),
    #: Deleted customers keep their row and their ledger; they can no longer be charged.
    Column("deleted_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("club_id", "login"),
)

#: Every change of a customer's balance or time bank, never edited.
club_ledger = Table(
    "club_ledger",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("club_customers.id"), nullable=False),
    #: topup, purchase, session_charge, refund, correction.
    Column("kind", String(16), nullable=False),
    #: Signed, in the club currency's minor units.
    Column("amount", BigInteger, nullable=False),
    #: Signed seconds of the time bank.
    Column("seconds", BigInteger, nullable=False),
    #: How money came in: cash or card at the desk, online (a payment).
    Column("method", String(16)),
    #: Who did it: `cli`, `key:<API key id>`, an admin user's name.
    Column("actor", String(64), nullable=False),
    Column("reason", Text),
    #: For entries that must happen once (`payment:<id>`, a client's Idempotency-Key):
    #: a second entry with the same key is refused by the unique constraint.
    Column("idempotency_key", String(160)),
    #: The package bought (a purchase), the holding it made.
    Column("package_id", String(ID)),
    Column("holding_id", String(ID)),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("club_id", "idempotency_key"),
    Index("ix_club_ledger_customer", "customer_id", "seq"),
)

#: A zone's per-minute rate, on some weekdays and at some times of day (null: always).
club_tariffs = Table(
    "club_tariffs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("zone_id", String(ID), ForeignKey("club_zones.id"), nullable=False),
    #: Minor units per started minute.
    Column("per_minute", BigInteger, nullable=False),
    #: Weekday numbers (Monday 0) as digits, "01234"; null: every day.
    Column("weekdays", String(7)),
    #: Minutes after local midnight; both null: all day.
    Column("starts", Integer),
    Column("ends", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_club_tariffs_zone", "zone_id"),
)

#: Fixed time for a fixed price; maybe only in one zone, maybe bought and used only in a
#: window of the day (a night pass, 23:00-08:00).
club_packages = Table(
    "club_packages",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("zone_id", String(ID), ForeignKey("club_zones.id")),
    Column("window_starts", Integer),
    Column("window_ends", Integer),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("club_id", "name"),
)

#: A package a customer bought, and the time left in it.
club_holdings = Table(
    "club_holdings",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("club_customers.id"), nullable=False),
    Column("package_id", String(ID), ForeignKey("club_packages.id"), nullable=False),
    Column("seconds_left", BigInteger, nullable=False),
    #: A window package's time ends with the window it was bought in.
    Column("expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_club_holdings_customer", "customer_id", "seconds_left"),
)

#: The Games and Apps catalogue.
club_apps = Table(
    "club_apps",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("name", String(64), nullable=False),
    #: The executable on the PC (C:\Games\Dota 2\dota2.exe).
    Column("path", Text, nullable=False),
    #: game or app.
    Column("kind", String(8), nullable=False),
    Column("icon", Text),
    #: The ids of the zones it is offered in; empty: every zone.
    Column("zones", Document, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("club_id", "name"),
)

#: An app started on a PC.
club_launches = Table(
    "club_launches",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("customer_id", String(ID), ForeignKey("club_customers.id")),
    Column("app_id", String(ID), ForeignKey("club_apps.id")),
    #: As the PC named it (an app not in the catalogue is logged too).
    Column("app_name", String(128), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_club_launches_club", "club_id", "seq"),
)

# Issue 19, part "money": online top-ups through the shop's providers, and shifts.

#: A top-up paid online: a Kassa payment of the club's shop whose `payment.succeeded` event
#: credits the customer once (the `club-topups` consumer; its ledger entry is keyed
#: `payment:<payment id>`).
club_topups = Table(
    "club_topups",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("club_customers.id"), nullable=False),
    Column("payment_id", String(ID), nullable=False, unique=True),
    #: In the club currency's minor units.
    Column("amount", BigInteger, nullable=False),
    Column("provider", String(32)),
    #: pending, credited, failed (no payment was made), unclaimed (paid for a customer
    #: deleted since: the money is to be given back by hand).
    Column("status", String(16), nullable=False),
    #: Who asked for it: `key:<API key id>`, `cli`, an admin user's name.
    Column("actor", String(64), nullable=False),
    #: The ledger entry that credited it.
    Column("entry_id", String(ID)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("credited_at", UtcDateTime),
    Index("ix_club_topups_club", "club_id", "created_at"),
)

#: A shift at a club's desk: opened with the cash in the drawer, closed with the cash counted
#: and the Z report (`report`, minor units and seconds) recorded. One open shift per club: the
#: partial unique index refuses a second.
club_shifts = Table(
    "club_shifts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("opening_cash", BigInteger, nullable=False),
    Column("closed_at", UtcDateTime),
    Column("closed_by", String(64)),
    Column("counted_cash", BigInteger),
    Column("expected_cash", BigInteger),
    #: Counted less expected: below zero, cash is missing.
    Column("difference", BigInteger),
    Column("report", Document),
    Index("ix_club_shifts_club", "club_id", "opened_at"),
    Index(
        "uq_club_shifts_open",
        "club_id",
        unique=True,
        sqlite_where=text("closed_at IS NULL"),
        postgresql_where=text("closed_at IS NULL"),
    ),
)

# Issue 19, part "sessions": sessions on the server's ledger, their leases, and what each PC
# last reported over its link.

#: A customer's session on a PC. The server owns its time: `paid_until` is the end of the
#: time charged to it (`club_session_charges`), `lease_expires_at` what its PC was last told
#: it may play until (`min(paid_until, renewal + lease_max)`), `lease_seq` that lease's number.
club_sessions = Table(
    "club_sessions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("shop_id", String(ID), nullable=False),
    #: The PC (a device id of the shop); moving the customer changes it.
    Column("device_id", String(64), nullable=False),
    Column("customer_id", String(ID), ForeignKey("club_customers.id"), nullable=False),
    #: active, paused, ended.
    Column("state", String(16), nullable=False),
    #: Extended by itself, a block at a time, while the customer can pay (no time was asked).
    Column("open_ended", Boolean, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("paid_until", UtcDateTime, nullable=False),
    #: Seconds of play charged so far (the offset of the next charge).
    Column("charged_seconds", BigInteger, nullable=False),
    #: While paused: the paid seconds left when it was paused.
    Column("paused_left", BigInteger),
    Column("lease_expires_at", UtcDateTime, nullable=False),
    Column("lease_seq", BigInteger, nullable=False),
    Column("ended_at", UtcDateTime),
    #: staff, time_up, lease_expired, reconciled.
    Column("end_reason", String(32)),
    #: When the PC's agent said it locked for this session (its report, for reconciling).
    Column("agent_ended_at", UtcDateTime),
    Column("actor", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(
        "uq_club_sessions_live_pc",
        "shop_id",
        "device_id",
        unique=True,
        sqlite_where=text("state != 'ended'"),
        postgresql_where=text("state != 'ended'"),
    ),
    Index(
        "uq_club_sessions_live_customer",
        "customer_id",
        unique=True,
        sqlite_where=text("state != 'ended'"),
        postgresql_where=text("state != 'ended'"),
    ),
    Index("ix_club_sessions_club", "club_id", "state"),
    #: The floor's rounds look for active sessions that have run out.
    Index("ix_club_sessions_due", "state", "paid_until"),
)

#: One charge of a session: `seconds` of play from `offset` (seconds after the session's
#: first charged second), paid source by source in the fixed order (`uses`), with its ledger
#: entry. The primary key makes each offset charged once.
club_session_charges = Table(
    "club_session_charges",
    metadata,
    Column("session_id", String(ID), ForeignKey("club_sessions.id"), primary_key=True),
    Column("offset", BigInteger, primary_key=True, autoincrement=False),
    Column("seconds", BigInteger, nullable=False),
    Column("entry_id", String(ID), nullable=False),
    #: [{kind, seconds, amount, holding_id}] as `kassa.domain.club.Use`.
    Column("uses", Document, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

#: What a PC last reported over its link, by the server's clock, and what the server makes of
#: its silence: online, stale (no heartbeat for a while), offline.
club_pc_states = Table(
    "club_pc_states",
    metadata,
    Column("shop_id", String(ID), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("heartbeat_at", UtcDateTime),
    Column("heartbeat_seq", BigInteger, nullable=False, server_default=text("0")),
    #: The latest heartbeat's data: {state, session, app, lease_left}.
    Column("reported", Document, nullable=False),
    Column("liveness", String(16), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
)

# Issue 20: the club PC agent's journal of local events, and its staff PIN's wrong attempts.

#: An event a PC's agent journalled (`kassa.protocol.club_pc.PcEvent`), stored once: a replay
#: of one already held is ignored by the unique (shop, device, event id).
club_pc_events = Table(
    "club_pc_events",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("shop_id", String(ID), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    #: The agent's id of the event (a UUID).
    Column("event_id", String(64), nullable=False),
    #: The agent's number of the event, growing by one per event of the PC.
    Column("pc_seq", BigInteger, nullable=False),
    #: tick, launch, lock, unlock.
    Column("kind", String(16), nullable=False),
    #: When it happened, as the agent reckoned the server's time.
    Column("at", UtcDateTime, nullable=False),
    Column("session_id", String(ID)),
    Column("app", String(128)),
    Column("reason", String(64)),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "device_id", "event_id"),
    Index("ix_club_pc_events_pc", "shop_id", "device_id", "pc_seq"),
    #: For their deletion past `KASSA_CLUB_PC_EVENT_RETENTION_DAYS`.
    Index("ix_club_pc_events_received_at", "received_at"),
)

#: A limited attempt at a PC (`kassa.services.club.pc_limits`): a staff PIN (`kind` pin) or a
#: customer's sign-in (`kind` sign_in, with the `login` tried), recorded before its secret is
#: checked and kept if it was wrong, counted across every hub process to hold a PC (and a
#: login) to so many wrong ones a window.
club_pc_failures = Table(
    "club_pc_failures",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("club_id", String(ID), ForeignKey("clubs.id"), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("login", String(64)),
    Column("failed_at", UtcDateTime, nullable=False),
    Index("ix_club_pc_failures_pc", "club_id", "kind", "device_id", "failed_at"),
    Index("ix_club_pc_failures_login", "club_id", "kind", "login", "failed_at"),
)
