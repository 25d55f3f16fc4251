"""The Marzban adapter against the Marzban emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kassa.panels import MarzbanPanel, PanelDown, PanelRefused, PanelUser, build
from tests.emulators.marzban import PASSWORD, MarzbanEmulator, running

END = datetime(2031, 5, 17, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def marzban() -> Iterator[MarzbanEmulator]:
    with running() as emulator:
        yield emulator


def settings(emulator: MarzbanEmulator, **changes: str) -> dict[str, str]:
    values = {
        "panel": "marzban",
        "panel_url": emulator.url + "/",
        "panel_user": emulator.admin,
        "panel_password": PASSWORD,
    }
    return values | changes


def run(emulator: MarzbanEmulator, work: Any, **changes: str) -> Any:
    """`work(panel)` with a panel built from the settings, on a fresh client."""

    async def main() -> Any:
        async with httpx.AsyncClient(timeout=5) as http:
            panel = await build(settings(emulator, **changes), http=http)
            assert isinstance(panel, MarzbanPanel)
            return await work(panel)

    return asyncio.run(main())


def test_a_new_user_is_created_with_the_absolute_end(marzban: MarzbanEmulator) -> None:
    user = PanelUser("tg_1001", END, telegram_id=1001, traffic_limit_bytes=50 * 2**30)
    access = run(marzban, lambda panel: panel.provision(user))
    stored = marzban.user("tg_1001")
    assert stored["expire"] == int(END.timestamp())
    assert stored["data_limit"] == 50 * 2**30
    assert stored["proxies"] == {"vless": {}}
    assert stored["status"] == "active"
    assert access.panel_user_id == "tg_1001"
    assert access.expires_at == END
    assert access.link == marzban.url + stored["subscription_url"]


def test_extending_sets_the_absolute_end_and_twice_changes_nothing(
    marzban: MarzbanEmulator,
) -> None:
    run(marzban, lambda panel: panel.provision(PanelUser("tg_1002", END)))
    later = END + timedelta(days=30)

    async def twice(panel: MarzbanPanel) -> list[Any]:
        return [await panel.provision(PanelUser("tg_1002", later)) for _ in range(2)]

    first, second = run(marzban, twice)
    assert first == second
    assert marzban.user("tg_1002")["expire"] == int(later.timestamp())
    assert len([u for u in marzban.users if u == "tg_1002"]) == 1


def test_an_expired_user_given_a_future_end_is_active_again(marzban: MarzbanEmulator) -> None:
    run(marzban, lambda panel: panel.provision(PanelUser("tg_1003", END)))
    marzban.users["tg_1003"]["status"] = "expired"
    run(marzban, lambda panel: panel.provision(PanelUser("tg_1003", END + timedelta(days=1))))
    assert marzban.user("tg_1003")["status"] == "active"


def test_a_user_created_meanwhile_is_linked(marzban: MarzbanEmulator) -> None:
    marzban.race_next_create = True
    before = len(marzban.calls)
    access = run(marzban, lambda panel: panel.provision(PanelUser("tg_1009", END)))
    assert marzban.user("tg_1009")["expire"] == int(END.timestamp())
    assert access.expires_at == END
    assert marzban.calls[before:] == [
        ("POST", "/api/admin/token"),
        ("PUT", "/api/user/tg_1009"),
        ("POST", "/api/user"),
        ("PUT", "/api/user/tg_1009"),
    ]


def test_find(marzban: MarzbanEmulator) -> None:
    run(marzban, lambda panel: panel.provision(PanelUser("tg_1004", END)))
    found = run(marzban, lambda panel: panel.find("tg_1004"))
    assert found is not None
    assert found.expires_at == END
    assert run(marzban, lambda panel: panel.find("tg_nobody")) is None


def test_a_user_without_an_end_is_found_refused(marzban: MarzbanEmulator) -> None:
    run(marzban, lambda panel: panel.provision(PanelUser("tg_1011", END)))
    marzban.users["tg_1011"]["expire"] = None
    with pytest.raises(PanelRefused) as refused:
        run(marzban, lambda panel: panel.find("tg_1011"))
    assert refused.value.code == "no_expire"


def test_an_expired_token_is_renewed_once(marzban: MarzbanEmulator) -> None:
    async def across_expiry(panel: MarzbanPanel) -> Any:
        await panel.provision(PanelUser("tg_1005", END))
        logins = marzban.logins
        marzban.expire_tokens()
        access = await panel.provision(PanelUser("tg_1005", END + timedelta(days=3)))
        assert marzban.logins == logins + 1
        return access

    access = run(marzban, across_expiry)
    assert access.expires_at == END + timedelta(days=3)


def test_a_token_refused_right_after_login_is_refused_not_retried_forever(
    marzban: MarzbanEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(marzban, "tokens", _Forgetful())
    before = marzban.logins
    with pytest.raises(PanelRefused) as refused:
        run(marzban, lambda panel: panel.find("tg_1006"))
    assert refused.value.code == "401"
    assert marzban.logins == before + 2


def test_a_wrong_password_is_refused_without_naming_it(marzban: MarzbanEmulator) -> None:
    with pytest.raises(PanelRefused) as refused:
        run(marzban, lambda panel: panel.find("tg_1"), panel_password="wrong-horse-battery")
    assert refused.value.code == "401"
    assert "wrong-horse-battery" not in str(refused.value)


def test_a_refusal_carries_marzban_s_status(marzban: MarzbanEmulator) -> None:
    with pytest.raises(PanelRefused) as refused:
        run(
            marzban,
            lambda panel: panel.provision(PanelUser("tg_1007", END)),
            panel_proxies="wireguard",
        )
    assert refused.value.code == "400"
    assert "tg_1007" not in marzban.users


def test_down_is_panel_down(marzban: MarzbanEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(marzban, "down", True)
    with pytest.raises(PanelDown):
        run(marzban, lambda panel: panel.provision(PanelUser("tg_1008", END)))


def test_unreachable_is_panel_down() -> None:
    async def main() -> None:
        async with httpx.AsyncClient(timeout=2) as http:
            panel = MarzbanPanel(
                {"panel_url": "http://127.0.0.1:9", "panel_user": "a", "panel_password": "b"},
                http=http,
            )
            await panel.find("tg_1")

    with pytest.raises(PanelDown) as down:
        asyncio.run(main())
    assert "127.0.0.1" not in str(down.value)


def test_missing_settings_are_named() -> None:
    with pytest.raises(PanelRefused, match="panel_password"):
        MarzbanPanel({"panel_url": "http://x", "panel_user": "a"}, http=httpx.AsyncClient())


class _Forgetful(set[str]):
    """A token store that forgets every token as soon as it is issued."""

    def add(self, element: str) -> None:
        pass


def test_concurrent_provisions_of_one_new_user_make_one_user(marzban: MarzbanEmulator) -> None:
    async def together(panel: MarzbanPanel) -> list[Any]:
        user = PanelUser("tg_1010", END)
        return list(await asyncio.gather(*(panel.provision(user) for _ in range(5))))

    accesses = run(marzban, together)
    assert {access.expires_at for access in accesses} == {END}
    assert len({access.link for access in accesses}) == 1
    assert marzban.user("tg_1010")["expire"] == int(END.timestamp())
