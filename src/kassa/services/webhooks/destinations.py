"""Where webhook deliveries may go: public addresses only, unless `webhooks_allow_private`.

Whoever holds an API key (a test key too) chooses an endpoint's URL, and the first KiB of each
answer comes back through the deliveries API. Unguarded, any key could make Kassa call its own
admin pages, a database's HTTP port or a cloud metadata service (169.254.169.254,
fd00:ec2::254) and read what they answer. So:

- **When an endpoint is saved**, a URL whose host is written as a non-public address, in any
  spelling the C library's resolver accepts (`2130706433`, `0x7f.1`, `017700000001`, `127.1`,
  `[::ffff:127.0.0.1]`, `0.0.0.0`), or is `localhost`, is refused (`url_not_allowed`). That is
  an early, clear error, not the guard: a name can resolve to anything, and change.
- **When a delivery connects**, the delivery client's network backend (`GuardedBackend`, under
  httpx's transport) resolves the host itself, refuses the connection unless *every* address
  is public, and connects to an address it checked, never to the name again: a name resolving
  to 127.0.0.1, or to a public address at the check and a private one a moment later (DNS
  rebinding), cannot get through. TLS still checks the certificate against the URL's host
  name, and the `Host` header is the URL's.
- Redirects are never followed (`kassa.services.webhooks.posting`).

An IPv6 address that carries an IPv4 one is judged by that IPv4 address too: IPv4-mapped
(`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`); Teredo and the deprecated
IPv4-compatible form (`::a.b.c.d`) are refused outright. Python's own tables (`is_global`,
`is_private`) vary between versions and miss some ranges (multicast, 192.0.0.0/24), so the
refused ranges below are also listed explicitly.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves a host name and port to the addresses to connect to.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

#: Refused whatever Python's tables say (they differ between versions): (network, what it is).
_REFUSED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::1/128", "loopback"),
        ("::/128", "unspecified"),
        ("::/96", "reserved"),  # the deprecated IPv4-compatible ::a.b.c.d
        ("::ffff:0:0:0/96", "reserved"),  # IPv4-translated (RFC 2765)
        ("64:ff9b:1::/48", "reserved"),  # local-use NAT64 (RFC 8215)
        ("100::/64", "reserved"),  # discard-only
        ("2001::/32", "reserved"),  # Teredo
        ("fc00::/7", "private"),  # unique local: fd00:ec2::254 is EC2's metadata service
        ("fe80::/10", "link-local"),
        ("fec0::/10", "reserved"),  # site-local, deprecated
        ("ff00::/8", "multicast"),
    )
)
#: NAT64's well-known prefix: the last 32 bits are the IPv4 address reached (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class DestinationRefused(httpcore.ConnectError):
    """A delivery's host is, or resolves to, an address Kassa may not connect to. As a
    `httpcore.ConnectError` it reaches the caller as an `httpx.ConnectError` (whose
    `__cause__` it is) with the same message."""


def refusal(address: IPAddress) -> str | None:
    """What kind of non-public address `address` is ("loopback", "private", …), or None if
    Kassa may connect to it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal(address.ipv4_mapped)
        for carried in _carried_ipv4(address):
            if (kind := refusal(carried)) is not None:
                return kind
    for network, kind in _REFUSED:
        if address.version == network.version and address in network:
            return kind
    return None if address.is_global else "reserved"


def _carried_ipv4(address: ipaddress.IPv6Address) -> Iterable[ipaddress.IPv4Address]:
    """The IPv4 addresses a NAT64 or 6to4 address leads to."""
    if address in _NAT64:
        yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        yield address.sixtofour


def literal_address(host: str) -> IPAddress | None:
    """`host` (as `httpx.URL.host` gives it) as an address, if it is written as one: IPv6,
    or IPv4 in any form `inet_aton` reads (`127.1`, `0x7f.1`, `017700000001`, `2130706433`),
    which are the forms the resolver turns into addresses without asking DNS."""
    bare = host.removeprefix("[").removesuffix("]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not bare or any(char.isspace() for char in bare):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def saved_host_refusal(host: str) -> str | None:
    """Why an endpoint whose URL has this host may not be saved, or None. Only what the host
    says by itself: the name's addresses are checked at every connection."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is a loopback name"
    address = literal_address(name)
    if address is None:
        return None
    kind = refusal(address)
    return None if kind is None else f"{host} is a non-public address ({kind})"


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The host's addresses, from the system's resolver (hosts file, DNS), in its order."""
    found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = (ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in found)
    return list(dict.fromkeys(addresses))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the check: it resolves each host once, refuses unless
    every address is public, then connects to those addresses (in order, the first that
    answers). TLS is started by httpcore afterwards with the URL's host name as SNI and for
    the certificate check, so only the TCP connection goes by address."""

    def __init__(
        self,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.resolver(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout:g} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            kind = refusal(address)
            if kind is not None:
                literal = literal_address(host) is not None
                where = f"{host} is" if literal else f"{host} resolves to"
                raise DestinationRefused(
                    f"refused: {where} a non-public address ({kind}); Kassa delivers only "
                    "to public addresses (KASSA_WEBHOOKS_ALLOW_PRIVATE allows others, for "
                    "development)"
                )
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("refused: deliveries do not go to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport whose connections go through `GuardedBackend`.

    httpx does not take a network backend as an argument, so the connection pool it builds
    is replaced by the same pool with the guarded backend (`_pool` is what every
    `AsyncHTTPTransport` sends through; the tests of refused destinations fail if that ever
    changes)."""

    def __init__(self, backend: GuardedBackend | None = None) -> None:
        ssl_context = httpx.create_ssl_context()  # certificates verified, as everywhere
        super().__init__(verify=ssl_context)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            # httpx's default limits
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend or GuardedBackend(),
        )


def delivery_transport(*, allow_private: bool) -> httpx.AsyncBaseTransport:
    """The transport deliveries go out through: guarded, unless private destinations are
    allowed (development and tests)."""
    return httpx.AsyncHTTPTransport() if allow_private else GuardedTransport()
