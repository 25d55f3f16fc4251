"""JSON columns: orjson's text for what it takes, the standard library's for what it refuses,
so every value that could be stored before still can."""

from __future__ import annotations

import math

from kassa.store import json_codec


def test_documents_round_trip_with_non_ascii_text_and_non_string_keys() -> None:
    document = {"description": "Оплата заказа №7", "amount": 150000, "nested": [True, None]}
    assert json_codec.loads(json_codec.dumps(document)) == document
    assert json_codec.dumps({1: "one"}) == '{"1":"one"}'


def test_what_orjson_refuses_is_written_and_read_by_the_standard_library() -> None:
    huge = {"sun": 2**70}  # beyond 64 bits
    assert json_codec.loads(json_codec.dumps(huge)) == huge
    assert math.isnan(json_codec.loads("NaN"))
