"""The one interface every VPN panel adapter implements, and the values that cross it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx


class PanelError(Exception):
    """The panel did not do what it was asked. The message names no secret."""


class PanelDown(PanelError):
    """The panel could not be reached or failed (timeout, network, 5xx): try again later."""


class PanelRefused(PanelError):
    """The panel answered and refused (a 4xx it has no way around): a person must look.
    `code` is the panel's own: Remnawave's error code (`A039`), else the HTTP status."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class PanelUser:
    """What a subscription is on the panel: the user named `username` (Kassa uses
    `tg_<telegram id>`), active until exactly `expires_at` (an absolute time: provisioning
    twice with the same value changes nothing), with its limits (None: unlimited)."""

    username: str
    expires_at: datetime
    telegram_id: int | None = None
    traffic_limit_bytes: int | None = None
    device_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Access:
    """The panel's user as it stands after provisioning: its id on the panel (a username,
    uuid or number, as text), the link the buyer subscribes with, and its end as the panel
    now has it."""

    panel_user_id: str
    link: str
    expires_at: datetime


class Panel(ABC):
    """Base of every panel adapter. `settings` are the bot's panel settings as configured
    (`panel_url`, `panel_token` or `panel_user`/`panel_password`, …)."""

    name: ClassVar[str]

    def __init__(self, settings: Mapping[str, str], *, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    @abstractmethod
    async def provision(self, user: PanelUser) -> Access:
        """Make the panel's user `user.username` exist with exactly `user.expires_at` and the
        limits, creating it or, if it exists, updating it; idempotent."""

    @abstractmethod
    async def find(self, username: str) -> Access | None:
        """The panel's user `username`, or None if the panel has none."""


async def send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP call to a panel; whatever leaves the outcome unknown (timeouts, network errors,
    a connection closed unanswered, 5xx) is `PanelDown`, so nothing typed by httpx leaves
    `panels/`. Messages name neither the URL nor a header: they may carry secrets."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise PanelDown("The panel did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise PanelDown(f"The panel could not be reached ({type(exc).__name__})") from exc
    if response.status_code >= 500:
        raise PanelDown(f"The panel failed with HTTP {response.status_code}")
    return response


def required(settings: Mapping[str, str], *names: str) -> list[str]:
    """The settings `names`, each present and non-empty, else `PanelRefused` naming the first
    missing one (never its value)."""
    values = [settings.get(name, "").strip() for name in names]
    for name, value in zip(names, values, strict=True):
        if not value:
            raise PanelRefused(f"The panel setting {name} is not set", code="settings")
    return values
