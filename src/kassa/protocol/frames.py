"""The envelope every message travels in: one text frame holding `{"type": …, "data": {…}}`.

Both ends build frames with `Frame.encode` and read them with `Frame.decode`, so what counts as
a well-formed frame is decided once: a JSON object whose `type` is a string and whose `data`,
when present, is an object (absent, it is `{}`). Unknown types are not an error here: each end
ignores the types it does not know, so either can be upgraded first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: The largest frame either end accepts (docs/terminal-protocol.md, "Messages").
MAX_FRAME_BYTES = 2**20


class FrameError(ValueError):
    """A frame that is not a `{type, data}` JSON object; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One message: its type (a `MessageType`, or a type this end does not know) and data."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        """The frame's text: compact JSON; values JSON cannot hold (a datetime) as strings."""
        return json.dumps(
            {"type": self.type, "data": self.data}, separators=(",", ":"), default=str
        )

    @classmethod
    def decode(cls, raw: str | bytes) -> Frame:
        """The frame in `raw`, or `FrameError` saying why it is not one."""
        if not isinstance(raw, str):
            raise FrameError("a binary frame; messages are text frames")
        try:
            message = json.loads(raw)
        except ValueError as exc:
            raise FrameError(f"not JSON: {exc}") from None
        if not isinstance(message, dict):
            raise FrameError(f"a JSON {type(message).__name__}, not an object")
        kind = message.get("type")
        if not isinstance(kind, str):
            raise FrameError("no `type` string")
        data = message.get("data", {})
        if not isinstance(data, dict):
            raise FrameError(f"the `data` of a {kind!r} message is not an object")
        return cls(kind, data)
