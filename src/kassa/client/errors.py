"""Exceptions the client raises: one per kind of failure, each carrying the API's error code."""

from __future__ import annotations

from typing import Any


class KassaError(Exception):
    """Base of every client error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(KassaError):
    """Kassa could not be reached, or did not answer in time; the outcome is unknown (a create
    retried with the same Idempotency-Key is safe)."""


class WebhookVerificationError(KassaError):
    """A webhook delivery whose signature, timestamp or body does not check out."""


class APIError(KassaError):
    """Kassa answered with an error: `{"error": {"code", "message", "param"}}`."""

    def __init__(
        self, message: str, *, status_code: int, code: str, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.param = param

    def __str__(self) -> str:
        return f"{self.code}: {self.message} (HTTP {self.status_code})"


class InvalidRequestError(APIError):
    """400 or 422: the request is wrong; fix it before retrying."""


class AuthenticationError(APIError):
    """401: the API key is missing, unknown or revoked."""


class PermissionDeniedError(APIError):
    """403: the key may not do this."""


class NotFoundError(APIError):
    """404: no such object for this key."""


class ConflictError(APIError):
    """409: the object's state forbids it, or an Idempotency-Key was reused for another body."""


class RateLimitError(APIError):
    """429: too many requests; the client already waited and retried."""


class ProviderError(APIError):
    """402 or 5xx: the payment provider refused or failed."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: ProviderError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_from(status_code: int, document: Any) -> APIError:
    """The exception for an error answer; tolerant of a body that is not Kassa's envelope
    (a proxy's error page, say)."""
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        error = {}
    code = str(error.get("code") or f"http_{status_code}")
    message = str(error.get("message") or f"Kassa answered HTTP {status_code}")
    param = error.get("param")
    cls = _BY_STATUS.get(status_code, ProviderError if status_code >= 500 else APIError)
    return cls(message, status_code=status_code, code=code, param=param)
