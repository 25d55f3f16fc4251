"""Kassa's error tree.

Every error carries a machine-readable `code`, a human `message` and, where one input is to
blame, the `param`. A raise may give a more precise code than its class's (`token_expired` for
an `AuthenticationFailed`). Nothing here knows HTTP: the web layer (`kassa.web.errors`) maps
each class to the status shown below. `tests/unit/test_error_tree.py` keeps this drawing true:
every class, its parent, its code and its status.

    class                            code                     HTTP
    KassaError                       kassa_error              400  base of every error
    ├── InvalidRequest               invalid_request          422  the input is wrong
    │   ├── ParameterInvalid         parameter_invalid        422  one parameter is wrong
    │   ├── AmountInvalid            amount_invalid           422  not a valid amount
    │   ├── CurrencyUnsupported      currency_unsupported     422  unknown or not offered
    │   ├── MethodUnsupported        method_unsupported       422  not offered by the provider
    │   └── ProviderNotConfigured    provider_not_configured  422  no enabled account
    ├── AuthenticationFailed         authentication_failed    401  no or bad credentials
    ├── PermissionDenied             permission_denied        403  known caller, not allowed
    ├── NotFound                     resource_missing         404  no such object for the caller
    ├── Conflict                     conflict                 409  clashes with the current state
    │   ├── InvalidState             invalid_state            409  not in the object's status
    │   │   ├── PaymentInvalidState  payment_invalid_state    409  not in the payment's status
    │   │   └── TransitionRejected   invalid_state            409  a move outside the table
    │   ├── IdempotencyKeyReused     idempotency_key_reused   409  the key had another request
    │   ├── IdempotencyKeyInUse      idempotency_key_in_use   409  the key's request still runs
    │   └── TerminalUnavailable      terminal_offline         409  no agent connected, or disabled
    ├── InsufficientFunds            insufficient_funds       402  a club balance does not cover it
    ├── RateLimited                  rate_limited             429  wait `retry_after` seconds
    ├── OperationTimedOut            timeout                  504  a terminal did not answer
    └── ProviderError                provider_error           502  the provider did not do it
        ├── ProviderUnavailable      provider_unavailable     502  no answer: outcome unknown
        ├── ProviderDeclined         provider_declined        402  the provider answered no
        ├── NotSupported             operation_unsupported    422  the provider cannot do that
        └── NotificationRejected     notification_rejected    400  unreadable or not authentic
            └── SignatureInvalid     signature_invalid        400  failed the authenticity check
"""

from __future__ import annotations


class KassaError(Exception):
    """Base of every error Kassa reports to a caller."""

    code = "kassa_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(KassaError):
    """The request is well-formed but its content cannot be accepted."""

    code = "invalid_request"


class ParameterInvalid(InvalidRequest):
    """One parameter has a wrong value."""

    code = "parameter_invalid"


class AmountInvalid(InvalidRequest):
    """An amount is not a valid number of minor units for its currency."""

    code = "amount_invalid"

    def __init__(self, message: str, *, param: str | None = "amount") -> None:
        super().__init__(message, param=param)


class CurrencyUnsupported(InvalidRequest):
    """The currency is not in Kassa's table, or not offered by the provider."""

    code = "currency_unsupported"

    def __init__(self, currency: str, *, reason: str | None = None) -> None:
        super().__init__(reason or f"Currency {currency!r} is not supported", param="currency")
        self.currency = currency


class MethodUnsupported(InvalidRequest):
    """The provider does not offer this payment method."""

    code = "method_unsupported"


class ProviderNotConfigured(InvalidRequest):
    """The shop has no enabled account with this provider for the key's mode."""

    code = "provider_not_configured"


class AuthenticationFailed(KassaError):
    """Missing, malformed, unknown or revoked credentials."""

    code = "authentication_failed"


class PermissionDenied(KassaError):
    """The caller is known but may not do this."""

    code = "permission_denied"


class NotFound(KassaError):
    """The object does not exist, or belongs to another shop or mode."""

    code = "resource_missing"


class Conflict(KassaError):
    """The request clashes with the current state of an object."""

    code = "conflict"


class InvalidState(Conflict):
    """The operation is not allowed in the object's current status."""

    code = "invalid_state"


class PaymentInvalidState(InvalidState):
    """The payment's status does not allow the operation asked for (capture, cancel, refund)."""

    code = "payment_invalid_state"


class TransitionRejected(InvalidState):
    """A status change that the transition table does not allow; it is never applied."""

    def __init__(self, source: str, target: str) -> None:
        super().__init__(f"A payment cannot go from {source} to {target}", param=None)
        self.source = source
        self.target = target


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was already used with a different request."""

    code = "idempotency_key_reused"


class IdempotencyKeyInUse(Conflict):
    """Another request with the same Idempotency-Key is still being processed."""

    code = "idempotency_key_in_use"


class InsufficientFunds(KassaError):
    """A club customer's balance (or time bank) does not cover a charge; nothing was taken."""

    code = "insufficient_funds"


class RateLimited(KassaError):
    """Too many requests; `retry_after` says how many seconds to wait."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderError(KassaError):
    """The provider did not carry out the operation."""

    code = "provider_error"


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed (timeout, network, 5xx): outcome unknown."""

    code = "provider_unavailable"


class ProviderDeclined(ProviderError):
    """The provider answered and refused; `provider_code` and `provider_message` are its own."""

    code = "provider_declined"

    def __init__(
        self, message: str, *, provider_code: str | None = None, provider_message: str | None = None
    ) -> None:
        super().__init__(message)
        self.provider_code = provider_code
        self.provider_message = provider_message


class NotSupported(ProviderError):
    """The provider has no such operation (e.g. refunds on a provider that cannot refund)."""

    code = "operation_unsupported"


class NotificationRejected(ProviderError):
    """A notification cannot be read or is not authentic; it changes nothing."""

    code = "notification_rejected"


class SignatureInvalid(NotificationRejected):
    """A notification failed the provider's authenticity check."""

    code = "signature_invalid"


class TerminalUnavailable(Conflict):
    """The terminal cannot take an operation now: no agent is connected, or it is disabled."""

    code = "terminal_offline"


class OperationTimedOut(KassaError):
    """A terminal did not answer operation `request_id` in time; its outcome is unknown."""

    code = "timeout"

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message)
        self.request_id = request_id
