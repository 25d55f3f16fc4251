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
- `jobs`: background jobs it needs (the TRC20 watcher and its pruning), run by every
  background loop beside the core's, each claiming its own work;
- `panel`: what the admin's payment page shows of its state for one payment;
- `record`: called in the transaction that applies a verified notification of the provider,
  before its updates are applied, to keep the provider's own record of it (Kaspi's check/pay
  transactions). It may lock the payment it reads (`FOR UPDATE`), so that what it records
  holds until the transaction ends. A duplicate's transaction is rolled back, and so is what
  it recorded; a provider with a recorder never has its notifications applied in a batch;
- `answer`: the provider's answer to a notification once Kassa has stored it, for a provider
  whose answer must read Kassa's record (Kaspi answers a repeated `pay` with the id it
  answered first); `None` leaves it to the provider's `reply`.
"""

from collections.abc import Mapping
from types import MappingProxyType

from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Payment, ProviderAccount
from kassa.providers import HookReply, PaymentRequest
from kassa.services.context import Context
from kassa.services.operations.jobs import Job, Service
from kassa.services.providers import kaspi, tron_usdt
from kassa.services.providers.state import Panel, ProviderState, Received, Recorded

#: Every provider that keeps state: one line per provider in `_STATES`.
_STATES: tuple[ProviderState, ...] = (
    kaspi.STATE,
    tron_usdt.STATE,
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


def records(provider: str) -> bool:
    """Whether `provider`'s notifications are recorded by its state module as applied."""
    state = STATES.get(provider)
    return state is not None and state.record is not None


async def record(conn: AsyncConnection, recorded: Recorded) -> None:
    """Let the provider's state module record a notification being applied, on `conn`."""
    state = STATES.get(recorded.account.provider)
    if state is not None and state.record is not None:
        await state.record(conn, recorded)


def answers(provider: str) -> bool:
    """Whether `provider`'s state module answers its notifications (`answer`)."""
    state = STATES.get(provider)
    return state is not None and state.answer is not None


async def answer(ctx: Context, provider: str, received: Received) -> HookReply | None:
    """The provider's answer from its state module, or None for its own `reply`."""
    state = STATES.get(provider)
    if state is None or state.answer is None:
        return None
    return await state.answer(ctx, received)


__all__ = [
    "STATES",
    "Panel",
    "ProviderState",
    "Received",
    "Recorded",
    "answer",
    "answers",
    "panels",
    "prepare",
    "provider_jobs",
    "record",
    "records",
]
