"""The database side of providers that keep state of their own.

A provider module (`kassa.providers`) is stateless. Some providers still need Kassa to keep
something for them: an amount reserved per payment so that two open payments never share it
(USDT-TRC20), a watcher's checkpoint, the provider's own transactions (Kaspi). That part lives
here, one module per provider (`services/providers/<name>.py`, with its tables in a migration),
registered in `STATES` with what it adds to the core's work, so that the core never names a
provider:

- `prepare`: called before the provider is asked to create a payment, outside any transaction;
  it may record what the payment needs (idempotently for `request.payment_id`: a retried create
  finds what the first one recorded) and returns the request with `prepared` filled in for the
  provider module to read;
- `jobs`: background jobs it needs (the TRC20 watcher), run by every background loop beside
  the core's, each claiming its own work;
- `panel`: what the admin's payment page shows of its state for one payment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kassa.domain import Payment, ProviderAccount
from kassa.providers import PaymentRequest
from kassa.services.context import Context
from kassa.services.operations.jobs import Job, Service
from kassa.services.providers import tron_usdt


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
class ProviderState:
    """What one provider's state module adds to the core's work (see the module's text)."""

    provider: str
    prepare: Preparer | None = None
    jobs: tuple[Job | Service, ...] = ()
    panel: Callable[[Context, Payment], Awaitable[Panel | None]] | None = None


#: Every provider that keeps state: one line per provider in `_STATES`.
_STATES: tuple[ProviderState, ...] = (
    ProviderState("tron_usdt", tron_usdt.prepare, (tron_usdt.WATCHER,), tron_usdt.panel),
)
STATES: Mapping[str, ProviderState] = MappingProxyType({state.provider: state for state in _STATES})


def provider_jobs() -> tuple[Job | Service, ...]:
    """The background jobs of every provider's state module."""
    return tuple(job for state in STATES.values() for job in state.jobs)


async def prepare(
    ctx: Context, account: ProviderAccount, request: PaymentRequest
) -> PaymentRequest:
    """`request` as the provider's state module prepared it (unchanged for most providers)."""
    state = STATES.get(account.provider)
    if state is None or state.prepare is None:
        return request
    return await state.prepare(ctx, account, request)


async def panels(ctx: Context, payment: Payment) -> list[Panel]:
    """What the admin's payment page shows of the payment's provider's own state."""
    state = STATES.get(payment.provider)
    if state is None or state.panel is None:
        return []
    panel = await state.panel(ctx, payment)
    return [panel] if panel is not None else []


__all__ = ["STATES", "Panel", "ProviderState", "panels", "prepare", "provider_jobs"]
