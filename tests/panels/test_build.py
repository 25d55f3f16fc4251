"""`kassa.panels.build`: the adapter a bot's settings name, and Remnawave's major version
asked of the panel when `panel_version` is not given."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from kassa.panels import PANELS, MarzbanPanel, Panel, PanelDown, PanelRefused, RemnawavePanel, build
from tests.emulators import remnawave as emulator_module
from tests.emulators.remnawave import RemnawaveEmulator, running


def built(settings: dict[str, str]) -> Panel:
    async def main() -> Panel:
        async with httpx.AsyncClient(timeout=5) as http:
            return await build(settings, http=http)

    return asyncio.run(main())


def remnawave_settings(emulator: RemnawaveEmulator, **changes: str) -> dict[str, str]:
    values = {"panel": "remnawave", "panel_url": emulator.url, "panel_token": emulator.token}
    return values | changes


def test_the_adapters_by_name() -> None:
    assert PANELS == {"marzban": MarzbanPanel, "remnawave": RemnawavePanel}


@pytest.mark.parametrize(("major", "metadata"), [(2, True), (3, True), (2, False)])
def test_remnawave_s_major_version_is_detected(major: int, metadata: bool) -> None:
    with running(major, metadata=metadata) as emulator:
        panel = built(remnawave_settings(emulator))
        assert isinstance(panel, RemnawavePanel)
        assert panel.version == str(major)
        assert panel.id_field == ("uuid" if major == 2 else "id")
        assert emulator.paths() == [("GET", "/api/system/metadata")]


def test_a_given_version_is_not_asked() -> None:
    with running(3) as emulator:
        panel = built(remnawave_settings(emulator, panel_version="2"))
        assert isinstance(panel, RemnawavePanel)
        assert panel.version == "2"
        assert emulator.calls == []


def test_an_unknown_major_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(emulator_module.VERSIONS, 3, "4.0.1")
    with running(3) as emulator, pytest.raises(PanelRefused) as refused:
        built(remnawave_settings(emulator))
    assert refused.value.code == "version"


def test_detection_on_a_panel_that_is_down_is_panel_down() -> None:
    with running(3) as emulator:
        emulator.down = True
        with pytest.raises(PanelDown):
            built(remnawave_settings(emulator))


@pytest.mark.parametrize(
    "settings",
    [
        {"panel": "xui"},
        {"panel": ""},
        {"panel": "remnawave", "panel_url": "http://x", "panel_token": "t", "panel_version": "4"},
    ],
)
def test_settings_no_adapter_takes_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(PanelRefused) as refused:
        built(settings)
    assert refused.value.code == "settings"
