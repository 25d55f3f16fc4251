"""`kassa simulate`: send a running Kassa the notification a provider would send.

The notification is built by the provider module itself, in the provider's real format and
signed with the shop's configured credentials, and sent over HTTP to the hook URL the provider
would call, so a user can check their set-up end to end (URL, proxy, secrets, allow-lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from kassa.domain import ParameterInvalid, PermissionDenied
from kassa.providers import Provider, Verdict
from kassa.services.context import Context
from kassa.services.notifications import inbox
from kassa.services.notifications.inbox import InboxFilter
from kassa.services.payments import lifecycle as payments
from kassa.services.shops import shops


@dataclass(frozen=True, slots=True)
class Delivery:
    """What was sent where, and how Kassa answered."""

    method: str
    url: str
    status_code: int
    answer: str
    #: Why Kassa rejected it, from the notification it stored (Kassa tells the sender only
    #: that it was not accepted); `None` if it was not rejected, or was stored elsewhere.
    reason: str | None = None


async def simulate(
    ctx: Context, *, provider: str, event: str, payment_id: str, base_url: str
) -> Delivery:
    """Send Kassa at `base_url` the `event` notification `provider` would send about a test
    payment. Live payments are refused: a simulated success must never pay a real order."""
    payment = await payments.find_payment(ctx, payment_id=payment_id)
    if payment.provider != provider:
        raise ParameterInvalid(
            f"Payment {payment.id} was made through {payment.provider}, not {provider}",
            param="provider",
        )
    if not payment.test:
        raise PermissionDenied(f"Payment {payment.id} is a live payment; simulate only tests")
    gateway = await payments.gateway_for(ctx, payment)
    if event not in gateway.simulated_events:
        known = ", ".join(gateway.simulated_events) or "none"
        raise ParameterInvalid(
            f"{gateway.title} has no event {event!r} to simulate; its events: {known}",
            param="event",
        )
    shop = await shops.get_shop(ctx, shop_id=payment.shop_id)
    notification = gateway.simulate(payment, event)
    url = f"{base_url.rstrip('/')}/hooks/{provider}/{shop.name}"
    if notification.kind:
        url += f"/{notification.kind}"
    if notification.query:
        url += f"?{notification.query}"
    headers = {**notification.headers, **_forwarded_for(ctx, gateway)}
    request: dict[str, Any] = {"headers": headers, "content": notification.body or None}
    sent_at = ctx.clock()
    async with httpx.AsyncClient(timeout=ctx.settings.provider_timeout) as http:
        response = await http.request(notification.method, url, **request)
    rejected = InboxFilter(
        provider=provider,
        shop_ref=shop.name,
        verdict=Verdict.REJECTED.value,
        received_gte=sent_at - CLOCK_SKEW,
    )
    found = (await inbox.inbox(ctx, rejected, limit=1)).items
    reason = found[0].reason if found and response.status_code >= 300 else None
    return Delivery(notification.method, url, response.status_code, response.text, reason)


#: How far the running Kassa's clock may be behind this one's when the notification it
#: rejected is looked up.
CLOCK_SKEW = timedelta(seconds=2)


def _forwarded_for(ctx: Context, gateway: Provider) -> dict[str, str]:
    """For a provider trusted by its address: claim one of its addresses the way a reverse
    proxy would, when Kassa is configured to believe one (KASSA_TRUSTED_PROXIES)."""
    if not gateway.notification_sources or not ctx.settings.trusted_proxies:
        return {}
    network = gateway.notification_sources[0]
    address = network[1] if network.num_addresses > 1 else network[0]
    return {"x-forwarded-for": str(address)}
