"""The settings a bot's panel adapter is built with: its secrets opened and, for Remnawave,
its major version as the owner gave it (`panel_version`), as Kassa detected it before
(`panel_version_detected`), or else asked of the panel now (`GET /api/system/metadata`) and
kept with the bot's settings, so that the panel is asked once, not at every provisioning.

`kassa bot configure` forgets a detected version when the bot moves to another panel (a new
`panel_url` or `panel`) or `panel_version` is set (`panel_version=`, empty, asks again: after
an upgrade of the panel, say).
"""

from __future__ import annotations

import logging

import httpx

from kassa import panels
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context

log = logging.getLogger(__name__)


async def for_adapter(
    ctx: Context, settings: bot_settings.BotSettings, http: httpx.AsyncClient
) -> dict[str, str]:
    """`panel` and the panel's settings, secrets opened, with Remnawave's `panel_version`
    set. Detecting it is a call to the panel: `PanelDown` or `PanelRefused` as any call."""
    opened = {"panel": settings.panel, **bot_settings.panel_settings_in_clear(ctx, settings)}
    detected = opened.pop(bot_settings.DETECTED_VERSION, "")
    if settings.panel != "remnawave" or opened.get("panel_version", "").strip():
        return opened
    if not detected:
        detected = await panels.detect_version(opened, http=http)
        kept = await bot_settings.remember_version(
            ctx, shop_id=settings.shop_id, panel_url=opened.get("panel_url", ""), version=detected
        )
        if kept:
            log.info("bot of shop %s: its Remnawave panel is %s.x", settings.shop_id, detected)
    return {**opened, "panel_version": detected}
