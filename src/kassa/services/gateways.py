"""Provider instances for provider accounts, over shared HTTP connection pools."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

import httpx

from kassa.config import Settings, SourceSettings
from kassa.domain import ProviderAccount
from kassa.providers import PROVIDERS, Provider, provider_class
from kassa.providers.base import IPNetwork
from kassa.providers.sandbox import SandboxApi, SandboxProvider

#: The base URL Kassa uses for its own endpoints when it calls them in-process.
INTERNAL_BASE_URL = "http://kassa.internal"


class Gateways:
    """Builds the provider for an account, with the right HTTP client.

    Providers whose API Kassa serves itself (the sandbox acquirer) are reached through `hub`:
    in-process through the ASGI app when this process serves it (`hub_transport`), else over
    HTTP at the public URL (from a CLI command, say). Where this process serves the sandbox
    acquirer, `sandbox_api` answers the sandbox provider's calls in-process instead, without
    HTTP or the app (`kassa.services.payments.sandbox_api.in_process`). Every other provider
    gets the shared outbound client, which verifies TLS certificates.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        hub_transport: httpx.AsyncBaseTransport | None = None,
        sandbox_api: SandboxApi | None = None,
    ) -> None:
        self.public_url = settings.resolved_public_url
        configured = settings.notification_sources
        #: Per provider, the networks it publishes as its notifications' sources, as the
        #: settings replace or extend them.
        self._sources: Mapping[str, Sequence[IPNetwork]] = {
            name: tuple(
                ipaddress.ip_network(entry, strict=False)
                for entry in configured.get(name, SourceSettings()).apply(cls.notification_networks)
            )
            for name, cls in PROVIDERS.items()
        }
        self._sandbox_api = sandbox_api
        timeout = settings.provider_timeout
        self._http = httpx.AsyncClient(timeout=timeout)
        if hub_transport is not None:
            self.hub = httpx.AsyncClient(
                transport=hub_transport, base_url=INTERNAL_BASE_URL, timeout=timeout
            )
        else:
            self.hub = httpx.AsyncClient(base_url=self.public_url, timeout=timeout)

    def for_account(self, account: ProviderAccount) -> Provider:
        """The provider for `account`, pointed at its API (the account's override first)."""
        cls = provider_class(account.provider)
        url = account.api_url or cls.default_api_url
        http, options = self._http, {}
        if cls is SandboxProvider and url == cls.default_api_url and self._sandbox_api:
            options["api"] = self._sandbox_api
        if url.startswith("/"):
            http, url = self.hub, str(self.hub.base_url).rstrip("/") + url
        return cls(
            account,
            http=http,
            api_url=url,
            public_url=self.public_url,
            notification_sources=self._sources.get(account.provider, ()),
            **options,
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.hub.aclose()
