"""VPN panels a shop's subscriptions are provisioned on: one adapter per panel, behind `Panel`.

Like a provider, a panel adapter is stateless: its settings and an injected `httpx.AsyncClient`
in, `Access` out. It never touches the database; services decide when to call it and keep
what it answers. `build` makes the adapter a bot's settings name.
"""

from collections.abc import Mapping

import httpx

from kassa.panels.base import Access, Panel, PanelDown, PanelError, PanelRefused, PanelUser
from kassa.panels.marzban import MarzbanPanel
from kassa.panels.remnawave import RemnawavePanel, detect_version

#: The adapters by the name `panel=` takes.
PANELS: dict[str, type[Panel]] = {panel.name: panel for panel in (MarzbanPanel, RemnawavePanel)}


async def build(settings: Mapping[str, str], *, http: httpx.AsyncClient) -> Panel:
    """The adapter for `settings["panel"]`; for Remnawave without `panel_version`, the major
    version is asked of the panel (one call: `PanelDown` if it cannot be reached)."""
    name = settings.get("panel", "")
    panel = PANELS.get(name)
    if panel is None:
        raise PanelRefused(f"No panel adapter is named {name[:40]!r}", code="settings")
    if panel is RemnawavePanel and not settings.get("panel_version", "").strip():
        settings = {**settings, "panel_version": await detect_version(settings, http=http)}
    return panel(settings, http=http)


__all__ = [
    "PANELS",
    "Access",
    "MarzbanPanel",
    "Panel",
    "PanelDown",
    "PanelError",
    "PanelRefused",
    "PanelUser",
    "RemnawavePanel",
    "build",
    "detect_version",
]
