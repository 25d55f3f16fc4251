"""The `{type, data}` envelope: what both ends send, and what they refuse to read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kassa.protocol import Frame, FrameError, MessageType


def test_a_frame_round_trips() -> None:
    frame = Frame(MessageType.ACK, {"request_id": "req-1"})
    text = frame.encode()
    assert json.loads(text) == {"type": "ack", "data": {"request_id": "req-1"}}
    assert Frame.decode(text) == frame


def test_values_json_cannot_hold_are_sent_as_text() -> None:
    when = datetime(2025, 1, 2, tzinfo=UTC)
    assert json.loads(Frame("welcome", {"at": when}).encode())["data"]["at"] == str(when)


def test_data_may_be_left_out_and_unknown_types_are_read() -> None:
    assert Frame.decode('{"type": "news"}') == Frame("news", {})


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"type": "ack", "data": {}}', "binary frame"),
        ("not json", "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"data": {}}', "no `type` string"),
        ('{"type": 7, "data": {}}', "no `type` string"),
        ('{"type": "ack", "data": [1]}', "the `data` of a 'ack' message is not an object"),
        ('{"type": "ack", "data": null}', "is not an object"),
    ],
)
def test_malformed_frames_say_what_is_wrong(raw: str | bytes, why: str) -> None:
    with pytest.raises(FrameError, match=why):
        Frame.decode(raw)
