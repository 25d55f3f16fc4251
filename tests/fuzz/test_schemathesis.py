"""Schemathesis against the API document with a test API key: no 5xx, and every answer as the
document says (its status, content type, headers and body schema), for schema-made requests
and for requests that break the schema (which must be refused).

Bounded and deterministic: a fixed number of examples per operation, derandomized, on a
server and database of this module's own (the shop it fuzzes gets payments, webhook
endpoints and terminals made up by Schemathesis). Not checked: that every schema-valid
request is accepted (Schemathesis's `positive_data_acceptance`), because Kassa refuses
well-formed requests for reasons no schema states (an unknown currency, an id of another
kind, a provider the shop has no account with) with `422`, as documented.

The operations are read from the app's document when the tests are collected (pytest
parametrizes by them); the first test checks that the running app serves the same document
at `/openapi.json`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from kassa.config import Settings
from kassa.web import create_app
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer

#: Examples per operation and phase: about 20 s per database for the whole document.
EXAMPLES = 15

DOCUMENT = create_app(Settings(database_url="sqlite+aiosqlite://")).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
# The key is sent by the test, so no Authorization is made up (its mutations would be
# "accepted" once the test's own key replaced them).
schema.config.generation.update(deterministic=True, with_security_parameters=False)
schema.config.checks.update(excluded_check_names=["positive_data_acceptance"])


@pytest.fixture(scope="module")
def fuzzed(own_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(own_database_url).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def fuzz_shop(fuzzed: LiveServer) -> ShopSetup:
    return make_shop(fuzzed)


def test_the_document_is_the_running_apps(fuzzed: LiveServer) -> None:
    assert httpx.get(f"{fuzzed.url}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api(case: schemathesis.Case[Any], fuzzed: LiveServer, fuzz_shop: ShopSetup) -> None:
    case.call_and_validate(
        base_url=fuzzed.url, headers={"Authorization": f"Bearer {fuzz_shop.key}"}
    )
