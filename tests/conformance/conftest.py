"""Fixtures of the conformance suite: a Kassa with a database of its own, one driver per
provider (with its emulator running), and the merchant's side of each scenario.

The database is the module's own because two of Kassa's jobs run here by hand (reconciliation
and webhook dispatch) take every due row of the database, and other tests leave many behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import RowMapping

from kassa.services.webhooks import sending as webhook_sending
from tests.conformance.drivers import DRIVERS, Account, Driver
from tests.helpers import stored_notifications
from tests.live import LiveServer
from tests.webhooks.receiver import Receiver, merchant, receiver  # noqa: F401 - fixtures

#: Kassa's provider timeout here: short, so an outage costs little time.
PROVIDER_TIMEOUT = 2.0
#: What every scenario's payment is for (100.00 RUB), unless it says otherwise.
AMOUNT = 10000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(*capabilities): the scenario runs only for providers whose `capabilities` "
        "declare each of these",
    )


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    """YooKassa's notifications come through a proxy on 127.0.0.1 that names the sender."""
    live = LiveServer(
        own_database_url, trusted_proxies=["127.0.0.1"], provider_timeout=PROVIDER_TIMEOUT
    ).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module", params=sorted(DRIVERS))
def driver(request: pytest.FixtureRequest, server: LiveServer) -> Iterator[Driver[Any, Any]]:
    with DRIVERS[request.param].running(server) as running:
        yield running


@dataclass
class Shop:
    """The merchant's side of a scenario: a new shop whose only provider is the driver's,
    its API, and its webhook endpoint on the test receiver."""

    server: LiveServer
    driver: Driver[Any, Any]
    account: Account
    api: httpx.Client
    receiver: Receiver

    @property
    def hook_path(self) -> str:
        return f"/{self.account.name}"

    def create(self, **fields: Any) -> dict[str, Any]:
        """A new payment to the provider of `AMOUNT` RUB minor units, unless `fields` say
        otherwise."""
        body = {
            "amount": AMOUNT,
            "currency": "RUB",
            **self.driver.payment_fields(self.account),
            **fields,
        }
        response = self.api.post("/v1/payments", json=body)
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        return document

    def get(self, payment: dict[str, Any]) -> dict[str, Any]:
        response = self.api.get(f"/v1/payments/{payment['id']}")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def events(self, payment: dict[str, Any]) -> list[str]:
        """The types of the payment's events, oldest first."""
        return [event["type"] for event in self.event_objects(payment)]

    def event_objects(self, payment: dict[str, Any]) -> list[dict[str, Any]]:
        params = {"payment": payment["id"], "limit": 100}
        found: list[dict[str, Any]] = self.api.get("/v1/events", params=params).json()["data"]
        return found[::-1]

    def webhooks(self, payment: dict[str, Any]) -> Counter[str]:
        """The types of the payment's events the merchant's endpoint received, once Kassa
        has sent what is due (each verified as signed with the endpoint's secret)."""
        self.server.call(webhook_sending.dispatch(self.server.ctx), timeout=60)
        received = self.receiver.on(self.hook_path)
        assert all(all(r.verified.values()) for r in received)
        objects = [(r.event["type"], r.event["data"]["object"]) for r in received]
        return Counter(
            kind for kind, about in objects if payment["id"] in (about["id"], about.get("payment"))
        )

    def notifications(self) -> list[RowMapping]:
        """The notifications stored for the shop, oldest first (for providers that send
        them to `/hooks/…`)."""
        return stored_notifications(self.server, self.account.name)


@pytest.fixture
def shop(
    request: pytest.FixtureRequest,
    server: LiveServer,
    driver: Driver[Any, Any],
    receiver: Receiver,  # noqa: F811 - the fixture imported above
) -> Iterator[Shop]:
    """A new shop for the scenario, unless the provider does not declare what the
    scenario's `requires` mark names (then the scenario is skipped)."""
    marker = request.node.get_closest_marker("requires")
    capabilities = driver.provider.capabilities
    missing = [name for name in (marker.args if marker else ()) if not getattr(capabilities, name)]
    if missing:
        pytest.skip(f"{driver.provider.name} does not declare {', '.join(missing)}")
    account = driver.connect()
    with account_api(server, account) as api:
        path = f"/{account.name}"
        endpoint = api.post("/v1/webhook_endpoints", json={"url": receiver.url + path})
        assert endpoint.status_code == 201, endpoint.text
        receiver.secrets[path] = [endpoint.json()["secret"]]
        yield Shop(server, driver, account, api, receiver)


def account_api(server: LiveServer, account: Account) -> httpx.Client:
    headers = {"Authorization": f"Bearer {account.key}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)
