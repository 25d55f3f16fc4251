"""What limits count a client by: its address, an IPv6 one by its /64 network.

One host commonly has a whole IPv6 /64 to pick addresses from, so counting each IPv6 address
alone would let it rotate through limits at no cost. Used by the sign-in limits
(`kassa.services.admin.logins`) and the limit of rejected provider notifications
(`kassa.web.ratelimit`).
"""

from __future__ import annotations

import ipaddress


def client_key(address: str | None) -> str | None:
    """The key for `address`: an IPv4 address itself (an IPv4-mapped IPv6 one as its IPv4
    address), an IPv6 address its /64 network; None if it is no IP address."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
