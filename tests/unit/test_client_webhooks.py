"""`kassa.client.verify_webhook`, checked against the independent `standardwebhooks` signer
and against signatures computed here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
import standardwebhooks

from kassa.client import WebhookVerificationError, verify_webhook

SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 24).decode()
BODY = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "payment.succeeded",
        "created_at": "2026-11-30T10:00:00Z",
        "data": {"object": {"id": "pay_1", "status": "succeeded"}},
    }
).encode()
NOW = 1_790_000_000


def signature(secret: str, body: bytes = BODY, msg_id: str = "evt_1", ts: int = NOW) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{ts}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(sig: str, ts: int = NOW) -> dict[str, str]:
    return {"Webhook-Id": "evt_1", "Webhook-Timestamp": str(ts), "Webhook-Signature": sig}


def test_a_genuine_delivery_gives_its_event() -> None:
    event = verify_webhook(BODY, headers(signature(SECRET)), SECRET, now=NOW + 10)
    assert (event.id, event.type, event.object["id"]) == ("evt_1", "payment.succeeded", "pay_1")


def test_during_a_rotation_either_secret_verifies() -> None:
    both = f"{signature(OTHER)} {signature(SECRET)}"
    assert verify_webhook(BODY, headers(both), SECRET, now=NOW).id == "evt_1"
    assert verify_webhook(BODY, headers(both), OTHER, now=NOW).id == "evt_1"


@pytest.mark.parametrize(
    ("body", "sig", "ts", "now"),
    [
        (BODY + b" ", signature(SECRET), NOW, NOW),  # body changed
        (BODY, signature(OTHER), NOW, NOW),  # another secret
        (BODY, signature(SECRET).replace("v1,", "v2,"), NOW, NOW),  # unknown version
        (BODY, signature(SECRET), NOW, NOW + 301),  # too old: a replay
        (BODY, signature(SECRET, ts=NOW + 1), NOW, NOW),  # timestamp not the signed one
    ],
)
def test_anything_else_is_refused(body: bytes, sig: str, ts: int, now: int) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers(sig, ts), SECRET, now=now)


def test_missing_headers_and_a_bad_secret_are_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(BODY, {"webhook-id": "evt_1"}, SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="secret"):
        verify_webhook(BODY, headers(signature(SECRET)), "whsec_!!!", now=NOW)


def test_agrees_with_the_standard_webhooks_package() -> None:
    signer = standardwebhooks.Webhook(SECRET)
    sent_at = datetime.fromtimestamp(NOW, UTC)
    sig = signer.sign("evt_1", sent_at, BODY.decode())
    assert verify_webhook(BODY, headers(sig), SECRET, now=NOW).id == "evt_1"
