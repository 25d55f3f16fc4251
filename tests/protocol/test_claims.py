"""A device token's claims: written and read back the same, older tokens still read, and
what is wrong with a token said plainly."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kassa.protocol import ClaimsError, DeviceKind, TokenClaims, unverified_payload
from kassa.protocol.claims import REQUIRED

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def jwt_of(payload: Any) -> str:
    def part(data: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


def test_claims_round_trip() -> None:
    claims = TokenClaims(
        device_id="KIOSK_7",
        shop_id="shop_1",
        version=3,
        issued_at=NOW,
        expires_at=NOW + timedelta(days=365),
        token_id="abc",
    )
    payload = claims.to_payload()
    assert TokenClaims.from_payload(payload) == claims
    assert TokenClaims.from_payload(unverified_payload(jwt_of(payload))) == claims


def test_a_terminal_token_is_written_as_the_field_has_always_read_it() -> None:
    claims = TokenClaims("KIOSK_7", "shop_1", 3, NOW, issued_at=NOW, token_id="abc")
    stamp = int(NOW.timestamp())
    assert claims.to_payload() == {
        "kiosk_id": "KIOSK_7",
        "shop": "shop_1",
        "ver": 3,
        "iat": stamp,
        "exp": stamp,
        "jti": "abc",
    }
    assert set(REQUIRED) <= claims.to_payload().keys()


def test_older_tokens_without_kind_or_token_id_are_terminals() -> None:
    claims = TokenClaims.from_payload({"kiosk_id": "K", "shop": "s", "ver": 1, "exp": 2e9})
    assert claims.kind is DeviceKind.TERMINAL
    assert (claims.issued_at, claims.token_id) == (None, None)
    explicit = {"kiosk_id": "K", "shop": "s", "ver": 1, "exp": 2e9, "kind": "terminal"}
    assert TokenClaims.from_payload(explicit) == claims


def test_expiry() -> None:
    claims = TokenClaims("K", "s", 1, expires_at=NOW)
    assert claims.expired(NOW)
    assert not claims.expired(NOW - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"kiosk_id": None}, "no kiosk_id claim"),
        ({"shop": 5}, "the shop claim is not a string"),
        ({"ver": True}, "the ver claim is not a whole number"),
        ({"ver": "1"}, "the ver claim is not a whole number"),
        ({"exp": "soon"}, "the exp claim is not a number of seconds"),
        ({"exp": 1e300}, "the token's exp claim .* is not a time"),
        ({"kind": "toaster"}, "the kind claim 'toaster' is not a device kind"),
    ],
)
def test_claims_that_do_not_make_a_device_token(change: dict[str, Any], why: str) -> None:
    payload = {"kiosk_id": "K", "shop": "s", "ver": 1, "exp": 2e9, **change}
    with pytest.raises(ClaimsError, match=why):
        TokenClaims.from_payload({k: v for k, v in payload.items() if v is not None})


@pytest.mark.parametrize("token", ["", "abc", "a.!!!.c", "a.bm90IGpzb24.c", "a.WzFd.c"])
def test_unreadable_tokens(token: str) -> None:
    with pytest.raises(ClaimsError):
        unverified_payload(token)
