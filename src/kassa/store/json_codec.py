"""How JSON columns are written and read.

Every notification stores its headers and every event its object as a JSON document, so the
encoder is on the hot path: orjson takes a few microseconds where the standard library took
tens (`bench/ingest.py`). Whatever orjson refuses (integers beyond 64 bits, non-finite floats
written earlier) goes through `json` instead, so nothing that could be stored before fails now.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """`value` as JSON text (keys that are not strings become strings, as `json` does)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    """The value of JSON `text`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
