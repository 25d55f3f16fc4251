"""encrypt the secrets Kassa stores

Provider credentials' secret fields, webhook endpoints' signing secrets (the previous one
too), the hub's own secrets and the stored Idempotency-Key answers that carried a secret are
encrypted with Kassa's key (`kassa.store.keyring`), which the code that runs the migration
passes in (`kassa migrate`, and every `kassa` command, do). Downgrading decrypts them again.

Revision ID: 0012_secrets_at_rest
Revises: 0011_terminal_rights
Create Date: 2026-12-07
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

import kassa.store.types
from kassa.store.keyring import CHECK_NAME, CHECK_TEXT, PREFIX, Keyring, KeyringError, is_token

revision: str = "0012_secrets_at_rest"
down_revision: str | None = "0011_terminal_rights"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Each provider's secret credentials when this migration was written.
SECRET_CREDENTIALS = {
    "sandbox": ("secret",),
    "yookassa": ("secret_key",),
    "cloudpayments": ("api_secret",),
}
#: What stored answers that showed a secret once hold: a webhook endpoint's (made or
#: rotated), a terminal's token (added, revoked, issued).
SECRET_ANSWERS = ('%"secret":"whsec_%', '%"token":"%')

provider_accounts = sa.table(
    "provider_accounts",
    sa.column("id", sa.String),
    sa.column("provider", sa.String),
    sa.column("credentials", sa.JSON),
)
webhook_endpoints = sa.table(
    "webhook_endpoints",
    sa.column("id", sa.String),
    sa.column("secret", sa.Text),
    sa.column("previous_secret", sa.Text),
)
hub_secrets = sa.table(
    "hub_secrets",
    sa.column("name", sa.String),
    sa.column("value", sa.Text),
    sa.column("created_at", kassa.store.types.UtcDateTime),
)
idempotency_keys = sa.table(
    "idempotency_keys",
    sa.column("shop_id", sa.String),
    sa.column("test", sa.Boolean),
    sa.column("key", sa.String),
    sa.column("response_body", sa.LargeBinary),
)


class _Key:
    """The keyring the migration was given, asked for only when a secret is to be changed."""

    def __init__(self) -> None:
        self._keyring: Keyring | None = context.config.attributes.get("keyring")
        self.used: str | None = None

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise KeyringError(
                "Migration 0012 encrypts the secrets in the database and needs Kassa's key: "
                "run `kassa migrate`, with this Kassa's KASSA_SECRET_KEY or data directory"
            )
        return self._keyring

    def encrypt(self, value: str) -> str:
        if is_token(value):
            return value
        if self.used is None:
            self.used = self.keyring.newest_id
        return self.keyring.encrypt(value, self.used)

    def decrypt(self, value: str) -> str:
        return self.keyring.decrypt(value) if is_token(value) else value


def _answers_like(bind: sa.Connection, patterns: Iterable[str]) -> sa.ColumnElement[bool]:
    """Stored answers (bytes) that match one of the LIKE `patterns`."""
    body = idempotency_keys.c.response_body
    if bind.dialect.name == "sqlite":  # its LIKE never matches a blob: read it as text
        return sa.or_(*(sa.cast(body, sa.Text).like(pattern) for pattern in patterns))
    return sa.or_(
        *(body.op("LIKE")(sa.literal(pattern.encode(), sa.LargeBinary)) for pattern in patterns)
    )


def _change(
    bind: sa.Connection,
    change: Callable[[str], str],
    credentials: Callable[[str, Mapping[str, str]], Iterable[str]],
    answers: sa.ColumnElement[bool],
) -> None:
    """Apply `change` to every stored secret: the `credentials` named of each account, the
    webhook secrets, the hub's secrets, and the bodies of the stored `answers`."""
    for account in bind.execute(sa.select(provider_accounts)).mappings().all():
        document = dict(account["credentials"])
        names = list(credentials(account["provider"], document))
        changed = {
            name: change(value) if name in names else value for name, value in document.items()
        }
        if changed != document:
            bind.execute(
                provider_accounts.update()
                .where(provider_accounts.c.id == account["id"])
                .values(credentials=changed)
            )
    for endpoint in bind.execute(sa.select(webhook_endpoints)).mappings().all():
        previous = endpoint["previous_secret"]
        bind.execute(
            webhook_endpoints.update()
            .where(webhook_endpoints.c.id == endpoint["id"])
            .values(
                secret=change(endpoint["secret"]),
                previous_secret=None if previous is None else change(previous),
            )
        )
    for secret in bind.execute(sa.select(hub_secrets)).mappings().all():
        bind.execute(
            hub_secrets.update()
            .where(hub_secrets.c.name == secret["name"])
            .values(value=change(secret["value"]))
        )
    stored = idempotency_keys.c
    for answer in bind.execute(sa.select(idempotency_keys).where(answers)).mappings().all():
        bind.execute(
            idempotency_keys.update()
            .where(
                stored.shop_id == answer["shop_id"],
                stored.test == answer["test"],
                stored.key == answer["key"],
            )
            .values(response_body=change(answer["response_body"].decode()).encode())
        )


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        for name, nullable in (("secret", False), ("previous_secret", True)):
            batch.alter_column(
                name,
                type_=sa.Text(),
                existing_type=sa.String(length=128),
                existing_nullable=nullable,
            )
    with op.batch_alter_table("hub_secrets") as batch:
        batch.alter_column(
            "value", type_=sa.Text(), existing_type=sa.String(length=255), existing_nullable=False
        )

    key = _Key()
    bind = op.get_bind()
    _change(
        bind,
        key.encrypt,
        lambda provider, _: SECRET_CREDENTIALS.get(provider, ()),
        _answers_like(bind, SECRET_ANSWERS),
    )
    if key.used is not None:
        # The database's current key (see kassa.services.encryption) is the one used here.
        bind.execute(
            hub_secrets.insert().values(
                name=CHECK_NAME,
                value=key.keyring.encrypt(CHECK_TEXT, key.used),
                created_at=datetime.now(UTC),
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(hub_secrets.delete().where(hub_secrets.c.name == CHECK_NAME))
    key = _Key()
    _change(
        bind,
        key.decrypt,
        lambda _, document: document,
        _answers_like(bind, [PREFIX + "%"]),
    )

    with op.batch_alter_table("hub_secrets") as batch:
        batch.alter_column(
            "value", type_=sa.String(length=255), existing_type=sa.Text(), existing_nullable=False
        )
    with op.batch_alter_table("webhook_endpoints") as batch:
        for name, nullable in (("secret", False), ("previous_secret", True)):
            batch.alter_column(
                name,
                type_=sa.String(length=128),
                existing_type=sa.Text(),
                existing_nullable=nullable,
            )
