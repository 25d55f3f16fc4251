"""The address allow-list of providers that do not sign their notifications."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from pydantic import ValidationError

from kassa.config import Settings
from kassa.domain import NotificationRejected, ProviderAccount
from kassa.providers import PROVIDERS, InboundRequest
from kassa.providers.sandbox import SandboxProvider
from kassa.providers.yookassa import YooKassaProvider
from kassa.services.gateways import Gateways

PUBLISHED = YooKassaProvider.notification_networks
NETWORKS = [ipaddress.ip_network(entry) for entry in PUBLISHED]


def provider() -> SandboxProvider:
    account = ProviderAccount(
        id="pa_1",
        shop_id="shop_1",
        provider="sandbox",
        test=True,
        enabled=True,
        credentials={"secret": "s"},
    )
    return SandboxProvider(
        account,
        http=httpx.AsyncClient(),
        api_url="http://example.invalid",
        public_url="http://kassa.example",
        notification_sources=NETWORKS,
    )


def request(source_ip: str | None) -> InboundRequest:
    return InboundRequest(method="POST", headers={}, body=b"{}", source_ip=source_ip)


@pytest.mark.parametrize(
    "address",
    ["185.71.76.0", "185.71.76.31", "77.75.156.11", "2a02:5180:0:1509::1", "::ffff:185.71.77.5"],
)
def test_published_addresses_are_allowed(address: str) -> None:
    provider().check_source(request(address))


@pytest.mark.parametrize(
    "address",
    # .32 is just past a /27 (not a /24); .12 is next to a single address; 2a02:5180::1 is in
    # the broad /32 some integrators allow, not in the published /64s.
    ["185.71.76.32", "77.75.156.12", "2a02:5180::1", "127.0.0.1", "", None, "not-an-ip"],
)
def test_other_addresses_are_rejected(address: str | None) -> None:
    with pytest.raises(NotificationRejected):
        provider().check_source(request(address))


def test_a_typo_in_a_network_fails_at_start_up() -> None:
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(trusted_proxies=["10.0.0.0/33"])
    with pytest.raises(ValidationError, match="yookassa_extra_sources"):
        Settings(yookassa_extra_sources=["185.71.76"])


def sources(settings: Settings, provider: str = "yookassa") -> list[str]:
    """The networks Kassa accepts `provider`'s notifications from under `settings`."""
    account = ProviderAccount(
        id="pa_1",
        shop_id="shop_1",
        provider=provider,
        test=True,
        enabled=True,
        credentials={},
    )
    return [
        str(network) for network in Gateways(settings).for_account(account).notification_sources
    ]


def test_the_published_networks_by_default() -> None:
    assert Settings().yookassa_notification_sources is None
    assert sources(Settings()) == [str(network) for network in NETWORKS]


def test_extra_sources_extend_the_published_list() -> None:
    settings = Settings(yookassa_extra_sources=["10.1.2.0/24"])
    assert sources(settings) == [*(str(network) for network in NETWORKS), "10.1.2.0/24"]


def test_the_setting_replaces_the_published_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_YOOKASSA_NOTIFICATION_SOURCES", '["192.0.2.0/24"]')
    monkeypatch.setenv("KASSA_YOOKASSA_EXTRA_SOURCES", '["198.51.100.7"]')
    assert sources(Settings()) == ["192.0.2.0/24", "198.51.100.7/32"]
    monkeypatch.setenv("KASSA_YOOKASSA_NOTIFICATION_SOURCES", "[]")
    assert sources(Settings()) == ["198.51.100.7/32"]


def test_providers_that_sign_their_notifications_publish_no_networks() -> None:
    published = {name: cls.notification_networks for name, cls in PROVIDERS.items()}
    assert {name for name, networks in published.items() if networks} == {"yookassa"}
    assert sources(Settings(yookassa_extra_sources=["10.1.2.0/24"]), "cloudpayments") == []
    for networks in published.values():
        for entry in networks:
            ipaddress.ip_network(entry)  # each one a network, written exactly
