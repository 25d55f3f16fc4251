"""Which addresses webhook deliveries may connect to, and the connect-time guard alone: the
resolver is injected and the network below the guard is httpcore's mock, so these tests show
what is resolved, checked and connected to (no network; none of these addresses is reached).
The guard against a real receiver on loopback is in tests/webhooks/test_destinations.py."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from typing import Any

import httpcore
import httpx
import pytest

from kassa.services.webhooks.destinations import (
    DestinationRefused,
    GuardedBackend,
    GuardedTransport,
    IPAddress,
    refusal,
    saved_host_refusal,
)

#: A public address (documentation ranges are themselves refused): nothing is sent to it.
PUBLIC = "93.184.215.14"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address judged, not bound
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.31.0.1", "private"),
        ("192.168.0.1", "private"),
        ("fd00:ec2::254", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("100.100.100.200", "shared (carrier-grade NAT)"),  # Alibaba Cloud's metadata
        ("192.0.0.192", "reserved"),  # Oracle Cloud's metadata; global to Python 3.11
        ("224.0.0.1", "multicast"),  # global to Python 3.11
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::a00:1", "reserved"),  # local-use NAT64
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "link-local"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),  # Teredo
        ("::7f00:1", "reserved"),  # IPv4-compatible, deprecated
        ("::ffff:0:7f00:1", "reserved"),  # IPv4-translated
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address", [PUBLIC, "8.8.8.8", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("2130706433", "2130706433 is a non-public address (loopback)"),
        ("0x7f.1", "0x7f.1 is a non-public address (loopback)"),
        ("017700000001", "017700000001 is a non-public address (loopback)"),
        ("127.1", "127.1 is a non-public address (loopback)"),
        ("0", "0 is a non-public address (unspecified)"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1 is a non-public address (loopback)"),
        ("[::1]", "[::1] is a non-public address (loopback)"),
        ("localhost", "localhost is a loopback name"),
        ("shop.localhost.", "shop.localhost. is a loopback name"),
        ("shop.example", None),  # a name: its addresses are checked when connecting
        ("1e100.net", None),
        ("8.8.8.8", None),
    ],
)
def test_a_saved_url_is_judged_by_its_host_alone(host: str, refused: str | None) -> None:
    assert saved_host_refusal(host) == refused


class Network(httpcore.AsyncNetworkBackend):
    """Below the guard: records where it is asked to connect, and what is sent there."""

    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []
        self.sent = bytearray()
        self.server_names: list[str | None] = []

    async def connect_tcp(self, host: str, port: int, *args: Any) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        return Stream(self)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Stream(httpcore.AsyncMockStream):
    def __init__(self, network: Network) -> None:
        super().__init__([ANSWER])
        self.network = network

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.network.sent += buffer

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        self.network.server_names.append(server_hostname)
        return self


class Resolver:
    """Answers each look-up of a name with the next of `answers`, as DNS rebinding would."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        return [ipaddress.ip_address(a) for a in self.answers.pop(0)]


def connect(backend: GuardedBackend, host: str = "shop.example") -> None:
    asyncio.run(backend.connect_tcp(host, 443, timeout=5))


def test_every_address_of_a_name_is_checked() -> None:
    network = Network()
    backend = GuardedBackend(Resolver([PUBLIC, "127.0.0.1"]), inner=network)
    with pytest.raises(DestinationRefused, match=r"shop.example resolves to a non-public"):
        connect(backend)
    assert network.connected == []


def test_the_connection_goes_to_the_address_checked_not_to_the_name_again() -> None:
    """A name that resolves to a public address and then to loopback (DNS rebinding) is
    looked up once, and the connection goes to the address that was checked."""
    resolver = Resolver([PUBLIC], ["127.0.0.1"])
    network = Network()
    connect(GuardedBackend(resolver, inner=network))
    assert resolver.asked == ["shop.example"]
    assert network.connected == [(PUBLIC, 443)]


def test_through_httpx_the_guard_refuses_and_keeps_the_host_name_for_http_and_tls() -> None:
    network = Network()

    async def post(url: str, resolver: Resolver) -> httpx.Response:
        transport = GuardedTransport(GuardedBackend(resolver, inner=network))
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.post(url, content=b"{}")

    with pytest.raises(httpx.ConnectError) as refused:
        asyncio.run(post("http://[::ffff:7f00:1]:8000/x", Resolver(["::ffff:127.0.0.1"])))
    assert isinstance(refused.value.__cause__, DestinationRefused)
    assert str(refused.value).startswith("refused: ::ffff:7f00:1 is a non-public address")

    answered = asyncio.run(post("https://shop.example/kassa", Resolver([PUBLIC])))
    assert answered.status_code == 200
    assert network.connected == [(PUBLIC, 443)]
    assert network.server_names == ["shop.example"]  # SNI and the certificate check
    assert b"\r\nHost: shop.example\r\n" in network.sent


def test_the_system_resolver_is_the_default() -> None:
    """`localhost` through the real resolver (the hosts file) is refused."""
    with pytest.raises(DestinationRefused, match="localhost resolves to a non-public"):
        connect(GuardedBackend(inner=Network()), host="localhost")
