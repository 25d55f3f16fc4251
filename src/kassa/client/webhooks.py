"""Verifying Kassa's webhook deliveries (the Standard Webhooks scheme), for merchants' apps.

Kassa signs `"{webhook-id}.{webhook-timestamp}.{body}"` with HMAC-SHA256 under the endpoint's
secret (`whsec_<base64 key>`) and sends `webhook-signature: v1,<base64>` — several,
space-separated, while a secret is being rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from kassa.client.errors import WebhookVerificationError
from kassa.client.models import Event

#: How far a delivery's timestamp may be from now, in seconds (a replay is refused after it).
TOLERANCE = 300


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> Event:
    """The event a delivery carries, once its signature and timestamp check out; else
    `WebhookVerificationError`. Pass the body exactly as received (bytes), before any
    JSON parsing."""
    body = payload.encode() if isinstance(payload, str) else payload
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        webhook_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        signatures = lowered["webhook-signature"].split()
    except (KeyError, ValueError):
        raise WebhookVerificationError(
            "webhook-id, webhook-timestamp or webhook-signature is missing or malformed"
        ) from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("The delivery's timestamp is too far from now")
    key = _key(secret)
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if not any(
        version == "v1" and hmac.compare_digest(signature, expected)
        for version, _, signature in (item.partition(",") for item in signatures)
    ):
        raise WebhookVerificationError("No webhook-signature matches the body")
    try:
        return Event.from_api(json.loads(body))
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookVerificationError(f"The signed body is not an event: {exc}") from exc


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise WebhookVerificationError("The secret is not a whsec_… webhook secret") from None
