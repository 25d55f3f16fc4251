"""The providers Kassa has, as front-ends see them.

Front-ends (the web layer, and next the bot and the club) never import `kassa.providers`
(`make lint` checks it): what they need of providers comes through services. Most of it is what
services do with them; what is left is here: the registry, whose classes describe each provider
(name, title, capabilities, the credential fields of its settings form), and the values a
front-end hands to services or shows (a received request, a notification's verdict, what a
payer page needs)."""

from __future__ import annotations

from kassa.providers import PROVIDERS, provider_class
from kassa.providers.base import InboundRequest, PayerPage, Provider, Verdict

__all__ = ["PROVIDERS", "InboundRequest", "PayerPage", "Provider", "Verdict", "provider_class"]
