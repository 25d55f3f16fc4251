"""Remnawave's major version, detected from the panel unless `panel_version` is given: asked
once (`GET /api/system/metadata`) by the provisioning job, kept with the bot's settings (shown
by `kassa bot show`, not a secret), and asked again when the bot moves to another panel or
`panel_version=` is emptied. On the emulators of both majors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from kassa.cli import app
from kassa.domain import Shop
from kassa.services.bot import activation
from kassa.services.bot import settings as bot_settings
from kassa.store.tables import bot_provisioning
from tests.bot.conftest import bot_shop, buy, buyer, consume, ends_at, rows
from tests.emulators import remnawave as emulator
from tests.emulators.remnawave import RemnawaveEmulator
from tests.live import LiveServer

METADATA = ("GET", "/api/system/metadata")


@pytest.fixture(scope="module")
def panels() -> Iterator[dict[int, RemnawaveEmulator]]:
    """A Remnawave panel of each major version."""
    with emulator.running(2) as two, emulator.running(3) as three:
        yield {2: two, 3: three}


def on(hub: LiveServer, panel: RemnawaveEmulator) -> Shop:
    return bot_shop(hub, panel="remnawave", panel_url=panel.url, panel_token=panel.token)


def sell(hub: LiveServer, shop: Shop) -> str:
    """A month bought, activated and provisioned by two workers at once; the panel's user."""
    who = buyer(hub, shop)
    buy(hub, shop, who)
    consume(hub)

    async def both() -> None:
        await asyncio.gather(activation.provision_due(hub.ctx), activation.provision_due(hub.ctx))

    hub.call(both())
    assert ends_at(hub, who) is not None
    return f"tg_{who.telegram_id}"


def detected(hub: LiveServer, shop: Shop) -> str | None:
    settings = hub.call(bot_settings.get(hub.ctx, shop_id=shop.id))
    return settings.panel_settings.get(bot_settings.DETECTED_VERSION)


def shown(own_database_url: str, shop: Shop) -> dict[str, object]:
    """`kassa bot show SHOP --json`."""
    runner = CliRunner(env={"KASSA_DATABASE_URL": own_database_url})
    result = runner.invoke(app, ["bot", "show", shop.name, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("major", [2, 3])
def test_the_version_is_asked_once_kept_and_shown(
    hub: LiveServer, panels: dict[int, RemnawaveEmulator], own_database_url: str, major: int
) -> None:
    panel = panels[major]
    shop = on(hub, panel)
    asked = panel.paths().count(METADATA)
    username = sell(hub, shop)
    assert panel.user(username)["status"] == "ACTIVE"
    assert detected(hub, shop) == str(major)
    sell(hub, shop)
    assert panel.paths().count(METADATA) == asked + 1
    document = shown(own_database_url, shop)
    assert document["panel_version_detected"] == str(major)
    assert document["panel_token"] == bot_settings.MASK
    assert "panel_version" not in document  # not given


def test_a_new_panel_url_or_an_emptied_version_is_asked_again(
    hub: LiveServer, panels: dict[int, RemnawaveEmulator]
) -> None:
    shop = on(hub, panels[3])
    sell(hub, shop)
    assert detected(hub, shop) == "3"
    moved = {"panel_url": panels[2].url, "panel_token": panels[2].token}
    hub.call(bot_settings.configure(hub.ctx, shop=shop, changes=moved))
    assert detected(hub, shop) is None
    asked = panels[2].paths().count(METADATA)
    username = sell(hub, shop)
    assert detected(hub, shop) == "2"
    assert "uuid" in panels[2].user(username)  # a 2.x user, named by its uuid
    assert panels[2].paths().count(METADATA) == asked + 1

    # Changing anything else keeps it; emptying panel_version asks again.
    hub.call(bot_settings.configure(hub.ctx, shop=shop, changes={"trial_days": "5"}))
    assert detected(hub, shop) == "2"
    hub.call(bot_settings.configure(hub.ctx, shop=shop, changes={"panel_version": ""}))
    assert detected(hub, shop) is None
    sell(hub, shop)
    assert detected(hub, shop) == "2"


def test_a_given_version_is_not_asked(
    hub: LiveServer, panels: dict[int, RemnawaveEmulator]
) -> None:
    shop = bot_shop(
        hub,
        panel="remnawave",
        panel_url=panels[3].url,
        panel_token=panels[3].token,
        panel_version="3",
    )
    asked = panels[3].paths().count(METADATA)
    sell(hub, shop)
    assert panels[3].paths().count(METADATA) == asked
    assert detected(hub, shop) is None


def test_a_panel_down_at_detection_is_retried_and_nothing_is_kept(hub: LiveServer) -> None:
    with emulator.running(3) as panel:
        shop = on(hub, panel)
        panel.down = True
        who = buyer(hub, shop)
        purchase = buy(hub, shop, who)
        consume(hub)
        hub.call(activation.provision_due(hub.ctx))
    (row,) = rows(hub, bot_provisioning, bot_provisioning.c.id == purchase.id)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert detected(hub, shop) is None
