"""The values a provider's state module and the core exchange (see `kassa.services.providers`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Payment, ProviderAccount
from kassa.providers import (
    CheckResult,
    HookReply,
    InboundRequest,
    Notification,
    PaymentRequest,
    Verdict,
)
from kassa.services.context import Context
from kassa.services.operations.jobs import Job, Service


@dataclass(frozen=True, slots=True)
class Panel:
    """A provider's panel on the admin's payment page: a title (English, marked with `N_`
    for translation), column headings (the same) and rows of text, one per record."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Shown under the title, e.g. what the rows mean (English, marked with `N_`).
    hint: str | None = None


Preparer = Callable[[Context, ProviderAccount, PaymentRequest], Awaitable[PaymentRequest]]


@dataclass(frozen=True, slots=True)
class Recorded:
    """A verified notification being applied, for a `record` hook: the account that
    verified it, what it says, its stored id, its query and body as received, and the time
    its writes bear."""

    account: ProviderAccount
    notification: Notification
    notification_id: str
    query: str
    body: bytes
    now: datetime


@dataclass(frozen=True, slots=True)
class Received:
    """A notification as Kassa stored it, for an `answer` hook: the request, the verdict, the
    stored row's id (empty when a rejected one was not stored) and, for a check, Kassa's
    answer."""

    request: InboundRequest
    verdict: Verdict
    notification_id: str
    check: CheckResult | None = None


Recorder = Callable[[AsyncConnection, Recorded], Awaitable[None]]
Answerer = Callable[[Context, Received], Awaitable[HookReply | None]]


@dataclass(frozen=True, slots=True)
class ProviderState:
    """What one provider's state module adds to the core's work (see the module's text)."""

    provider: str
    prepare: Preparer | None = None
    jobs: tuple[Job | Service, ...] = ()
    panel: Callable[[Context, Payment], Awaitable[Panel | None]] | None = None
    record: Recorder | None = None
    answer: Answerer | None = None
