"""Card payments at a shop's own terminals (kiosks), through the edge agent.

Nothing is sent anywhere at create time: the provider describes the `payment` operation
(`{kiosk_id, order_id, sum}`, the card gateway's request as documented in
../shared/reference/kiosk-protocols.md, a 3rd-party contract), and Kassa queues it in the
transaction that records the payment. The terminal's agent delivers it to the gateway when
it is connected; the gateway's answer comes back over the same connection and settles the
payment (`kassa.services.devices.operations`).

`order_id` is Kassa's payment id: unique, so the gateway's own duplicate check ("Payment
already exists") protects against a second charge too. The gateway's contract offers no way
to ask about a payment or to cancel one (NOT FOUND in its public material), so reconciliation
and expiry cannot ask it; the agent's journal answers status queries instead.
"""

from __future__ import annotations

from typing import ClassVar

from kassa.domain import ParameterInvalid
from kassa.domain.terminals import check_terminal_id, payment_body, payment_deadline
from kassa.domain.translatable import N_
from kassa.providers.base import (
    OperationRequest,
    PaymentRequest,
    Provider,
    ProviderPayment,
    TerminalConfirmation,
)


class TerminalProvider(Provider):
    name = "terminal"
    title = N_("Payment terminal")
    #: Kassa itself relays the payment to the terminal; there is no API to call.
    default_api_url = "/terminals"
    methods: ClassVar[frozenset[str]] = frozenset({"card"})
    #: The gateway reports `currency_code` 643 and amounts in kopecks: roubles only.
    currencies: ClassVar[frozenset[str] | None] = frozenset({"RUB"})
    #: A payment reaches a kiosk only when it names the terminal (or this provider): adding a
    #: terminal to a shop must not change where its other payments go.
    named_only = True

    async def create(self, request: PaymentRequest) -> ProviderPayment:
        if not request.terminal:
            raise ParameterInvalid(
                'A terminal payment names its terminal: "terminal": "KIOSK_001"',
                param="terminal",
            )
        terminal = check_terminal_id(request.terminal)
        assert request.created_at is not None
        assert request.expires_at is not None
        return ProviderPayment(
            provider_payment_id=None,
            confirmation=TerminalConfirmation(terminal),
            operation=OperationRequest(
                terminal=terminal,
                kind="payment",
                body=payment_body(
                    kiosk_id=terminal, order_id=request.payment_id, amount=request.amount
                ),
                deadline=payment_deadline(request.created_at, request.expires_at),
            ),
        )
