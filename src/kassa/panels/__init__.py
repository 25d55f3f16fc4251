"""VPN panels a shop's subscriptions are provisioned on: one adapter per panel, behind `Panel`.

Like a provider, a panel adapter is stateless: its settings and an injected `httpx.AsyncClient`
in, `Access` out. It never touches the database; services decide when to call it and keep
what it answers.
"""

from kassa.panels.base import Access, Panel, PanelDown, PanelError, PanelRefused, PanelUser

__all__ = ["Access", "Panel", "PanelDown", "PanelError", "PanelRefused", "PanelUser"]
