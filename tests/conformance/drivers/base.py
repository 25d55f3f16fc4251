"""What the conformance scenarios need from a provider: a `Driver`.

A driver plays the provider's side of a payment (the payer, the provider's cabinet, its
notifications, an outage of its API) against the provider's emulator, and sets up Kassa shops
with an account of it. The scenarios play the merchant through Kassa's public API and check
what Kassa made of it all. What a provider can do is read from its class (`capabilities`);
a driver says only what the class cannot (`creates_at_provider`, `declined_status`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Generic, Self, TypeVar

import httpx

from kassa.providers import Provider
from kassa.services.payments import reconciliation
from tests.helpers import later
from tests.live import LiveServer


@dataclass(frozen=True)
class Account:
    """A new Kassa shop with a test account of the provider under test, and its test API
    key. Drivers add their handle on the provider's side."""

    name: str
    key: str


@dataclass(frozen=True)
class Reply:
    """Kassa's answer to one notification, as the provider reads it. `taken`: the provider
    counts the notification as delivered and will not send it again (a duplicate is taken
    too; a refusal is not). `raw` is the answer itself, for assertion messages."""

    taken: bool
    raw: object = None


A = TypeVar("A", bound=Account)
N = TypeVar("N")


class Driver(ABC, Generic[A, N]):
    """One provider's side of the scenarios: `A` is its account, `N` what one of its
    notifications is (whatever `send` needs to deliver it, again if need be)."""

    provider: ClassVar[type[Provider]]
    #: Whether creating a payment calls the provider's API. No for a widget or a terminal:
    #: there the payer makes the payment, and Kassa learns of it from the notification.
    creates_at_provider: ClassVar[bool] = True
    #: Whether a payment can be declined at all. Not a transfer on a chain (USDT-TRC20): it
    #: is made or not, and an unpaid payment just expires.
    declines: ClassVar[bool] = True
    #: The status a declined payment ends in, as the provider's notification tells it.
    declined_status: ClassVar[str] = "failed"
    #: The source of the event `find_lost` writes.
    found_by: ClassVar[str] = "reconciliation"

    def __init__(self, server: LiveServer) -> None:
        self.server = server

    @classmethod
    @contextmanager
    def running(cls, server: LiveServer) -> Iterator[Self]:
        """The driver, with what it needs (its emulator) running for the `with` block."""
        yield cls(server)

    # Set-up

    @abstractmethod
    def connect(self) -> A:
        """A new shop with a test account of this provider, ready to take payments."""

    def payment_fields(self, account: A) -> dict[str, Any]:
        """What a payment request needs besides amount and currency to go to this provider."""
        return {}

    # The payer, and the notifications that follow

    @abstractmethod
    def pay(self, account: A, payment: dict[str, Any]) -> None:
        """The payer pays (for a two-stage payment, the money is held); the provider notifies
        Kassa."""

    @abstractmethod
    def pay_silently(self, account: A, payment: dict[str, Any]) -> N:
        """The payer pays as in `pay`, and the provider's notification does not arrive (yet):
        returns it, to deliver later or never."""

    @abstractmethod
    def decline(self, account: A, payment: dict[str, Any]) -> None:
        """The payer's bank declines the payment; the provider notifies Kassa."""

    @abstractmethod
    def send(self, account: A, notice: N, *, copies: int = 1) -> list[Reply]:
        """Deliver `notice` `copies` times (at once, where the provider may do that)."""

    @abstractmethod
    def forge(self, account: A, notice: N) -> N:
        """A notification saying what `notice` says, from someone who is not the provider:
        whatever the provider's proof that a notification is its own, this one fails it."""

    def capture_at_provider(self, account: A, payment: dict[str, Any]) -> N:
        """The held money is taken at the provider (in its cabinet), not through Kassa;
        returns the notification the provider sends about it, not delivered. For providers
        that declare `two_stage`."""
        raise NotImplementedError(f"{self.provider.name} declares two_stage: capture a hold")

    def follow_ups(self, account: A) -> list[Reply]:
        """Deliver what the provider notifies about its own records after Kassa's calls
        (capture, cancel, refund) of this account; by default, nothing."""
        return []

    def find_lost(self, account: A, payment: dict[str, Any], notice: N) -> None:
        """Kassa finds out what became of a payment whose notification never came. An API
        provider's way: the reconcile job asks it (`Provider.fetch`) once the check is due."""
        soon = later(self.server, timedelta(minutes=2))
        # Every due payment of the module's database is asked about, not only this one.
        self.server.call(reconciliation.reconcile_due(soon, limit=10_000))

    def api_down(self, account: A) -> AbstractContextManager[None]:
        """The provider's API fails every call for the `with` block. For providers whose
        API Kassa calls (`creates_at_provider`, `two_stage` or `refunds`)."""
        raise NotImplementedError(f"{self.provider.name} has an API: take it down")


def at_once(copies: int, send: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """`send` called `copies` times in parallel threads; the answers in order."""
    if copies == 1:
        return [send()]
    with ThreadPoolExecutor(max_workers=copies) as pool:
        return list(pool.map(lambda _: send(), range(copies)))
