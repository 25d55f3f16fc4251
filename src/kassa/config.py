"""Settings, read from `KASSA_*` environment variables; every one has an embedded default."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """The settings' word on where one provider's notifications may come from: `replace`
    instead of the networks the provider publishes (`None`: keep those), plus `extra`."""

    replace: Sequence[str] | None = None
    extra: Sequence[str] = ()

    def apply(self, published: Sequence[str]) -> tuple[str, ...]:
        """The networks to accept, given the ones the provider publishes."""
        return (*(published if self.replace is None else self.replace), *self.extra)


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where receipt e-mails go, from `KASSA_SMTP_URL`. Its repr leaves out the password."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: `tls`: TLS from the start (smtps://); `starttls`: required; `auto`: if offered.
    security: Literal["tls", "starttls", "auto"] = "auto"

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """`smtp://user:password@host:port[?starttls=required]` or `smtps://…`; the user
        and password percent-encoded. The port defaults to 25, or 465 for smtps."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("an SMTP URL is smtp://[user:password@]host[:port] or smtps://…")
        starttls = parse_qs(parts.query).get("starttls", ["auto"])[-1]
        if starttls not in {"auto", "required"}:
            raise ValueError("an SMTP URL's starttls is auto or required")
        security: Literal["tls", "starttls", "auto"] = (
            "tls" if parts.scheme == "smtps" else "starttls" if starttls == "required" else "auto"
        )
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            security=security,
        )


class Settings(BaseSettings):
    """Kassa's configuration. `KASSA_DATABASE_URL=…` overrides `database_url`, and so on."""

    model_config = SettingsConfigDict(env_prefix="KASSA_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the embedded SQLite database lives.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite+aiosqlite:///<data_dir>/kassa.db. "
        "PostgreSQL: postgresql+asyncpg://user@host/db.",
    )
    database_pool_size: int = Field(
        20,
        ge=1,
        le=1000,
        description="Database connections each process keeps: on PostgreSQL up to twice as "
        "many more while busy (so each process may hold three times this; `kassa serve "
        "--workers N` is N processes), on SQLite its readers.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="The key Kassa encrypts the secrets it stores with (provider credentials, "
        "webhook signing secrets...), or several separated by commas, the newest first; "
        "`kassa secrets generate` makes one. Required when several hosts share one database. "
        "Default: the key file <data_dir>/secret.key, made on first start.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        None,
        description="The URL payers and providers reach Kassa at (checkout pages, notification "
        "URLs); default http://<host>:<port>.",
    )
    max_body_bytes: int = Field(1_048_576, description="Largest request body accepted.")
    api_rate_limit: float = Field(100.0, description="Requests per second per API key.")
    api_rate_burst: int = Field(200, description="Requests an API key may burst above the rate.")
    idempotency_ttl_hours: int = Field(24, description="How long Idempotency-Key replays last.")
    payment_expires_in: int = Field(
        86_400, description="Default seconds from creation until an unpaid payment expires."
    )
    provider_timeout: float = Field(15.0, description="Seconds to wait for a provider's API.")
    background: bool = Field(True, description="Run the background loop inside `kassa serve`.")
    consumers: str = Field(
        "",
        description="Event consumers for the background loop to run besides Kassa's own: "
        "comma-separated module:attribute import paths, e.g. myshop.fulfil:consumer.",
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org",
        description="The Bot API server the shops' bots call (`kassa bot`): Telegram's, or a "
        "local telegram-bot-api server.",
    )
    smtp_url: SecretStr | None = Field(
        None,
        description="The SMTP server receipt e-mails go through: smtp://user:password@host:port "
        "(STARTTLS when the server offers it; ?starttls=required insists on it) or "
        "smtps://… (TLS from the start). Unset: no e-mails are sent, and each one due is "
        "recorded as skipped. Each shop sets its sender: `kassa shops email SHOP ADDRESS`.",
    )
    trusted_proxies: list[str] = Field(
        [],
        description="Addresses or networks of reverse proxies in front of Kassa; only from them "
        "are X-Forwarded-For and X-Forwarded-Proto believed. JSON list, e.g. "
        '["127.0.0.1", "10.0.0.0/8"].',
    )
    club_legacy_api: str | None = Field(
        None,
        description="The club whose LoVHub launchers are served LoVHub's launcher API "
        "(/api/login, /api/buy_package, …: docs/club.md, Moving LoVHub PCs over). Unset: the API "
        "is not there. It has no authentication: only KASSA_CLUB_LEGACY_NETWORKS may call it.",
    )
    club_legacy_networks: list[str] = Field(
        [],
        description="The networks (the club's LAN) allowed to call LoVHub's launcher API; the "
        'rest get 403. JSON list, e.g. ["192.168.1.0/24"]. Empty: nobody.',
    )
    club_legacy_test: bool = Field(
        False,
        description="LoVHub's /api/create_payment makes test payments (the sandbox) rather "
        "than live ones.",
    )
    yookassa_notification_sources: list[str] | None = Field(
        None,
        description="Networks YooKassa sends notifications from, replacing the ones it publishes "
        "(which Kassa knows: docs/providers/yookassa.md). Default: the published ones.",
    )
    yookassa_extra_sources: list[str] = Field(
        [], description="Networks to accept YooKassa notifications from besides the published ones."
    )
    rejected_notification_limit: int = Field(
        60,
        ge=1,
        description="Rejected provider notifications (bad signature, unknown shop…) kept per "
        "source address per minute, in a burst of as many; past that they are answered 429 "
        "and not stored. Verified notifications are never limited.",
    )
    rejected_notification_retention_days: int = Field(
        30, ge=1, description="Days a rejected provider notification is kept, then deleted."
    )
    club_pc_event_retention_days: int = Field(
        90,
        ge=1,
        description="Days a club PC's journalled event (minutes played, launches, locks and "
        "unlocks) is kept after the hub received it, then deleted.",
    )
    tron_transfer_retention_days: int = Field(
        90,
        ge=1,
        description="Days a USDT-TRC20 transfer the watcher recorded is kept after it saw it, "
        "then deleted, once no payment needs it: it matched no payment, or its payment has "
        "ended (paid, expired, canceled…). A pending payment's transfers are kept.",
    )
    log_level: str = "info"
    admin_session_idle_minutes: int = Field(
        60, ge=1, description="An admin session ends after this many minutes without a request."
    )
    admin_session_max_hours: int = Field(
        12, ge=1, description="An admin session ends this many hours after signing in, at most."
    )
    admin_login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed sign-ins for one user name from one client address within the "
        "window before that pair (only) is paused.",
    )
    admin_login_max_failures_per_client: int = Field(
        20,
        ge=1,
        description="Failed sign-ins from one client address, any names, within the window "
        "before that address is paused.",
    )
    admin_login_window_minutes: int = Field(
        15, ge=1, description="The window failed sign-ins are counted in, in minutes."
    )
    admin_login_brake_after: int = Field(
        10,
        ge=1,
        description="Failed sign-ins for one user name from all addresses within the window "
        "after which each further attempt for it waits (the brake; never a lock-out).",
    )
    admin_login_brake_seconds: float = Field(
        1.0,
        gt=0,
        description="The brake's first wait, in seconds; it doubles with each further failure.",
    )
    admin_login_brake_max_seconds: float = Field(
        60.0, gt=0, description="The longest the brake makes an attempt wait, in seconds."
    )
    webhook_secret_overlap: int = Field(
        86_400,
        ge=0,
        description="Seconds a webhook endpoint's old secret keeps signing next to the new one "
        "after a rotation, unless the rotation says otherwise.",
    )
    webhooks_allow_private: bool = Field(
        False,
        description="Let webhook endpoints be on loopback, private, link-local and other "
        "non-public addresses. For development and tests only: with it, anyone holding an API "
        "key can make Kassa call the services of its own network and read their answers.",
    )

    terminal_token_secret: str | None = Field(
        None,
        description="The key terminal tokens (JWT, HS256) are signed with; by default one Kassa "
        "generates and keeps in its database, shared by every hub process.",
    )
    terminal_token_days: int = Field(365, ge=1, description="How long a terminal token lasts.")
    terminal_operation_timeout: float = Field(
        45.0, gt=0, description="Seconds an operation relayed to a terminal is waited for."
    )
    legacy_send_unauthenticated: bool = Field(
        False,
        description="Let `POST /send` (the field's kiosk backends) in without an API key, as the "
        "ws-gateway server did. Only behind a network that keeps everybody else out.",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'kassa.db'}"

    @property
    def secret_key_file(self) -> Path:
        """Where the keys are kept when `KASSA_SECRET_KEY` is not set."""
        return self.data_dir / "secret.key"

    @property
    def smtp_server(self) -> SmtpServer | None:
        """The SMTP server of `smtp_url`, if one is set (an empty one is not). A bad URL
        raises `ValueError` here, when it is used (a validator's error would quote the
        password)."""
        url = self.smtp_url.get_secret_value() if self.smtp_url else ""
        return SmtpServer.parse(url) if url else None

    @field_validator(
        "trusted_proxies",
        "club_legacy_networks",
        "yookassa_notification_sources",
        "yookassa_extra_sources",
    )
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        """Every entry must be an IP address or network, so a typo fails at start-up."""
        for entry in value or ():
            ipaddress.ip_network(entry, strict=False)
        return value

    @property
    def notification_sources(self) -> dict[str, SourceSettings]:
        """Per provider, how the settings change the networks its notifications may come from
        (each provider declares the ones it publishes)."""
        return {
            "yookassa": SourceSettings(
                self.yookassa_notification_sources, self.yookassa_extra_sources
            )
        }

    @property
    def resolved_public_url(self) -> str:
        """The public base URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
