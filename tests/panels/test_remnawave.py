"""The Remnawave adapter against the Remnawave emulator (2.x and 3.x) over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kassa.panels import PanelDown, PanelRefused, PanelUser, RemnawavePanel, build
from tests.emulators.remnawave import RemnawaveEmulator, running

END = datetime(2031, 5, 17, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module", params=[2, 3], ids=["2.x", "3.x"])
def remnawave(request: pytest.FixtureRequest) -> Iterator[RemnawaveEmulator]:
    with running(request.param, api_key="caddy-key") as emulator:
        yield emulator


def settings(emulator: RemnawaveEmulator, **changes: str) -> dict[str, str]:
    values = {
        "panel": "remnawave",
        "panel_url": emulator.url,
        "panel_token": emulator.token,
        "panel_api_key": emulator.api_key or "",
        "panel_version": str(emulator.version),
    }
    return {k: v for k, v in (values | changes).items() if v}


def run(emulator: RemnawaveEmulator, work: Any, **changes: str) -> Any:
    """`work(panel)` with a panel built from the settings, on a fresh client."""

    async def main() -> Any:
        async with httpx.AsyncClient(timeout=5) as http:
            panel = await build(settings(emulator, **changes), http=http)
            assert isinstance(panel, RemnawavePanel)
            return await work(panel)

    return asyncio.run(main())


def provision(emulator: RemnawaveEmulator, user: PanelUser, **changes: str) -> Any:
    return run(emulator, lambda panel: panel.provision(user), **changes)


def test_a_new_user_is_created_with_the_absolute_end(remnawave: RemnawaveEmulator) -> None:
    user = PanelUser("tg_2001", END, telegram_id=2001, traffic_limit_bytes=2**30, device_limit=3)
    access = provision(remnawave, user, panel_squads="11111111-2222-3333-4444-555555555555")
    stored = remnawave.user("tg_2001")
    assert stored["expireAt"] == "2031-05-17T12:30:00.000Z"
    assert (stored["telegramId"], stored["trafficLimitBytes"], stored["hwidDeviceLimit"]) == (
        2001,
        2**30,
        3,
    )
    assert [squad["uuid"] for squad in stored["activeInternalSquads"]] == [
        "11111111-2222-3333-4444-555555555555"
    ]
    identity = stored["uuid"] if remnawave.version == 2 else str(stored["id"])
    assert access.panel_user_id == identity
    assert access.link == stored["subscriptionUrl"]
    assert access.expires_at == END


def test_every_call_carries_the_token_the_key_and_the_proxy_headers(
    remnawave: RemnawaveEmulator,
) -> None:
    before = len(remnawave.calls)
    provision(remnawave, PanelUser("tg_2002", END))
    for _, _, headers in remnawave.calls[before:]:
        assert headers["authorization"] == f"Bearer {remnawave.token}"
        assert headers["x-api-key"] == "caddy-key"
        assert headers["x-forwarded-proto"] == "https"
        assert headers["x-forwarded-for"]


def test_extending_sets_the_absolute_end_and_twice_changes_nothing(
    remnawave: RemnawaveEmulator,
) -> None:
    provision(remnawave, PanelUser("tg_2003", END))
    later = END + timedelta(days=30)

    async def twice(panel: RemnawavePanel) -> list[Any]:
        return [await panel.provision(PanelUser("tg_2003", later)) for _ in range(2)]

    before = len(remnawave.calls)
    first, second = run(remnawave, twice)
    assert first == second
    assert first.expires_at == later
    assert remnawave.user("tg_2003")["expireAt"] == "2031-06-16T12:30:00.000Z"
    assert len([u for u in remnawave.users.values() if u["username"] == "tg_2003"]) == 1
    # Read, then the absolute date: never the relative extend action a replay would double.
    assert [(m, p) for m, p, _ in remnawave.calls[before:]] == [
        ("GET", "/api/users/by-username/tg_2003"),
        ("PATCH", "/api/users"),
    ] * 2


def test_an_existing_expired_user_is_active_again(remnawave: RemnawaveEmulator) -> None:
    made = remnawave.add_user("tg_2004", datetime.now(UTC) - timedelta(days=3), status="EXPIRED")
    access = provision(remnawave, PanelUser("tg_2004", END))
    assert remnawave.user("tg_2004")["status"] == "ACTIVE"
    assert access.expires_at == END
    assert access.panel_user_id == (made["uuid"] if remnawave.version == 2 else str(made["id"]))


def test_a019_a_user_created_meanwhile_is_looked_up_and_linked(
    remnawave: RemnawaveEmulator,
) -> None:
    remnawave.race_next_create = True
    before = len(remnawave.calls)
    access = provision(remnawave, PanelUser("tg_2005", END))
    assert [(m, p) for m, p, _ in remnawave.calls[before:]] == [
        ("GET", "/api/users/by-username/tg_2005"),
        ("POST", "/api/users"),
        ("GET", "/api/users/by-username/tg_2005"),
        ("PATCH", "/api/users"),
    ]
    assert remnawave.user("tg_2005")["expireAt"] == "2031-05-17T12:30:00.000Z"
    assert access.expires_at == END


def test_find(remnawave: RemnawaveEmulator) -> None:
    provision(remnawave, PanelUser("tg_2006", END))
    found = run(remnawave, lambda panel: panel.find("tg_2006"))
    assert found is not None
    assert found.expires_at == END
    assert run(remnawave, lambda panel: panel.find("tg_nobody")) is None


def test_a_refusal_carries_remnawave_s_code(remnawave: RemnawaveEmulator) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    provision(remnawave, PanelUser("tg_2007", END))
    with pytest.raises(PanelRefused) as refused:
        provision(remnawave, PanelUser("tg_2007", past))
    assert refused.value.code == "E000"
    assert remnawave.user("tg_2007")["expireAt"] == "2031-05-17T12:30:00.000Z"


def test_a_wrong_token_is_refused_without_naming_it(remnawave: RemnawaveEmulator) -> None:
    with pytest.raises(PanelRefused) as refused:
        provision(remnawave, PanelUser("tg_2008", END), panel_token="not-the-token-42")
    assert refused.value.code == "401"
    assert "not-the-token-42" not in str(refused.value)


def test_without_the_auth_proxy_s_key_it_is_refused(remnawave: RemnawaveEmulator) -> None:
    with pytest.raises(PanelRefused) as refused:
        provision(remnawave, PanelUser("tg_2009", END), panel_api_key="")
    assert refused.value.code == "403"


def test_down_is_panel_down(remnawave: RemnawaveEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remnawave, "down", True)
    with pytest.raises(PanelDown):
        provision(remnawave, PanelUser("tg_2010", END))


def test_the_proxy_gate_drops_a_request_without_the_headers() -> None:
    """The gate as the panel has it (the adapter always sends the headers, so the request
    is made by hand): the connection closes unanswered, which the adapter calls down."""
    with running(3) as emulator:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{emulator.url}/api/users/by-username/tg_1", timeout=5)
        headers = {"X-Forwarded-For": "10.0.0.1", "X-Forwarded-Proto": "http"}
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{emulator.url}/api/users/by-username/tg_1", headers=headers, timeout=5)
        assert emulator.dropped == 2
        assert emulator.calls == []
        headers["X-Forwarded-Proto"] = "https"
        answer = httpx.get(f"{emulator.url}/api/users/by-username/tg_1", headers=headers)
        assert answer.status_code == 401


def test_a_closed_connection_is_panel_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kassa.panels.remnawave.PROXY_HEADERS", {})
    with running(3) as emulator, pytest.raises(PanelDown):
        provision(emulator, PanelUser("tg_2011", END))
    assert emulator.dropped == 1


def test_concurrent_provisions_of_one_new_user_make_one_user(
    remnawave: RemnawaveEmulator,
) -> None:
    async def together(panel: RemnawavePanel) -> list[Any]:
        user = PanelUser("tg_2012", END)
        return list(await asyncio.gather(*(panel.provision(user) for _ in range(5))))

    accesses = run(remnawave, together)
    assert {(a.panel_user_id, a.link, a.expires_at) for a in accesses} == {
        (accesses[0].panel_user_id, accesses[0].link, END)
    }
    assert len([u for u in remnawave.users.values() if u["username"] == "tg_2012"]) == 1
