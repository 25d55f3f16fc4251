"""Provider instances for provider accounts, over shared HTTP connection pools."""

from __future__ import annotations

import httpx

from kassa.domain import ProviderAccount
from kassa.providers import Provider, provider_class

#: The base URL Kassa uses for its own endpoints when it calls them in-process.
INTERNAL_BASE_URL = "http://kassa.internal"


class Gateways:
    """Builds the provider for an account, with the right HTTP client.

    Providers whose API Kassa serves itself (the sandbox acquirer) are reached through `hub`:
    in-process through the ASGI app when this process serves it, else over HTTP at the public
    URL (from a CLI command, say). Every other provider gets the shared outbound client,
    which verifies TLS certificates.
    """

    def __init__(
        self,
        *,
        public_url: str,
        timeout: float,
        hub_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(timeout=timeout)
        if hub_transport is not None:
            self.hub = httpx.AsyncClient(
                transport=hub_transport, base_url=INTERNAL_BASE_URL, timeout=timeout
            )
        else:
            self.hub = httpx.AsyncClient(base_url=public_url, timeout=timeout)

    def for_account(self, account: ProviderAccount) -> Provider:
        """The provider for `account`, pointed at its API (the account's override first)."""
        cls = provider_class(account.provider)
        url = account.api_url or cls.default_api_url
        if url.startswith("/"):
            return cls(account, http=self.hub, api_url=str(self.hub.base_url).rstrip("/") + url)
        return cls(account, http=self._http, api_url=url)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.hub.aclose()
