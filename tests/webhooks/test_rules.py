"""The pure rules: the retry schedule, signatures, event filters, the outbox cursor's moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from kassa.domain import ParameterInvalid
from kassa.services.events.cursor import GAP_TIMEOUT, Position, Window, next_position
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks.deliveries import RETRY_FOR, next_attempt_at, retry_delay
from kassa.services.webhooks.posting import signed_headers
from kassa.store.keyring import Keyring, key_id, new_key

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEY = new_key()
KEYRING = Keyring([KEY])


def encrypted(secret: str) -> str:
    return KEYRING.encrypt(secret, key_id(KEY))


def test_the_schedule_is_standard_webhooks_then_every_twelve_hours() -> None:
    waits = [retry_delay(n) for n in range(1, 11)]
    assert waits == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
        timedelta(hours=12),
        timedelta(hours=12),
        timedelta(hours=12),
    ]
    assert retry_delay(2, jitter=-1.0) == timedelta(minutes=4, seconds=30)
    assert retry_delay(2, jitter=1.0) == timedelta(minutes=5, seconds=30)


def test_retries_stop_three_days_after_the_delivery_began() -> None:
    attempts = [T0]
    while due := next_attempt_at(began=T0, attempted_at=attempts[-1], failures=len(attempts)):
        attempts.append(due)
    offsets = [a - T0 for a in attempts]
    assert offsets[:8] == list(accumulate([timedelta(0)] + [retry_delay(n) for n in range(1, 8)]))
    assert offsets[7] == timedelta(hours=27, minutes=35, seconds=5)  # the 8th try
    assert len(attempts) == 11
    assert offsets[-1] <= RETRY_FOR < offsets[-1] + timedelta(hours=12)


def test_signatures_match_the_standard_webhooks_package() -> None:
    secret = webhooks.new_secret()
    body = b'{"id":"evt_1","type":"payment.succeeded"}'
    ours = webhooks.sign(secret, msg_id="evt_1", timestamp=1_764_504_000, body=body)
    when = datetime.fromtimestamp(1_764_504_000, tz=UTC)
    assert ours == Webhook(secret).sign("evt_1", when, body.decode())
    assert ours != webhooks.sign(webhooks.new_secret(), msg_id="evt_1", timestamp=1, body=body)


def make_endpoint(filters: list[str]) -> webhooks.Endpoint:
    return webhooks.Endpoint(
        id="we_1",
        shop_id="shop_1",
        test=True,
        url="https://m.example",
        description=None,
        events=webhooks.check_filters(filters),
        enabled=True,
        disabled_reason=None,
        failing_since=None,
        created_at=T0,
        updated_at=T0,
        encrypted_secret=encrypted(webhooks.new_secret()),
        encrypted_previous_secret=None,
        previous_secret_expires_at=None,
    )


@pytest.mark.parametrize(
    ("filters", "wanted", "unwanted"),
    [
        (["*"], ["payment.created", "webhook_endpoint.disabled"], []),
        (["payment.*"], ["payment.created", "payment.refunded"], ["refund.succeeded"]),
        (["payment.succeeded", "refund.*"], ["refund.failed"], ["payment.created"]),
    ],
)
def test_filters(filters: list[str], wanted: list[str], unwanted: list[str]) -> None:
    endpoint = make_endpoint(filters)
    assert all(endpoint.wants(kind) for kind in wanted)
    assert not any(endpoint.wants(kind) for kind in unwanted)


def test_filters_are_checked_and_deduplicated() -> None:
    assert webhooks.check_filters(["payment.*", "payment.*", "*"]) == ("payment.*", "*")
    for bad in (["payments.*"], ["payment"], ["refund.*.*"], []):
        with pytest.raises(ParameterInvalid):
            webhooks.check_filters(bad)


def window(
    seq: int, upto: int, gap: int | None, waiting: tuple[int, datetime] | None = None
) -> Window:
    position = Position(seq, *waiting) if waiting else Position(seq)
    return Window(name="webhooks", position=position, upto=upto, gap=gap)


def test_the_cursor_follows_the_newest_event_when_there_is_no_gap() -> None:
    assert next_position(window(10, 20, None), handled_upto=20, now=T0) == Position(20)
    # A backlog: only as far as the reader got.
    assert next_position(window(10, 20, None), handled_upto=15, now=T0) == Position(15)


def test_the_cursor_waits_at_a_gap_then_steps_over_it() -> None:
    waiting = next_position(window(10, 20, 14), handled_upto=20, now=T0)
    assert waiting == Position(13, 20, T0)
    soon = next_position(window(13, 25, 14, (20, T0)), handled_upto=25, now=T0 + GAP_TIMEOUT / 2)
    assert soon == Position(13, 20, T0)  # still waiting, since T0
    # After the timeout it steps over every gap up to the newest event seen when it began to
    # wait, and waits afresh for the rest (seqs 21-25 may hide another gap).
    late = next_position(window(13, 25, 14, (20, T0)), handled_upto=25, now=T0 + GAP_TIMEOUT)
    assert late == Position(20, 25, T0 + GAP_TIMEOUT)
    # The missing event arrived meanwhile: no gap any more.
    assert next_position(window(13, 25, None, (20, T0)), handled_upto=25, now=T0) == Position(25)


def test_a_gap_beyond_the_handled_events_does_not_hold_the_cursor() -> None:
    assert next_position(window(10, 40, 30), handled_upto=25, now=T0) == Position(25)


def test_the_by_hand_verifier_in_the_docs_accepts_what_kassa_sends() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    snippet = docs.split("By hand, in plain Python:")[1].split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the documented code, as a reader would paste it
    verify = namespace["verify"]

    old, new = webhooks.new_secret(), webhooks.new_secret()
    now = datetime.now(UTC)
    endpoint = replace(
        make_endpoint(["*"]),
        encrypted_secret=encrypted(new),
        encrypted_previous_secret=encrypted(old),
        previous_secret_expires_at=now + timedelta(hours=1),
    )
    body = '{"id":"evt_1","data":{"object":{"description":"Кофе"}}}'.encode()
    headers = signed_headers(endpoint, KEYRING, msg_id="evt_1", body=body, now=now)
    verify(new, body, headers)
    verify(old, body, headers)  # during the rotation's overlap
    with pytest.raises(ValueError, match="no valid signature"):
        verify(webhooks.new_secret(), body, headers)
    with pytest.raises(ValueError, match="no valid signature"):
        verify(new, body + b" ", headers)
    stale = signed_headers(
        endpoint, KEYRING, msg_id="evt_1", body=body, now=now - timedelta(minutes=6)
    )
    with pytest.raises(ValueError, match="too far"):
        verify(new, body, stale)
