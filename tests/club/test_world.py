"""The club's world beyond money: club names unique across Kassa, PCs as devices of kind
`club_pc` (added with their zone in one transaction, their tokens a PC's and not a
terminal's), apps per zone and launch logs."""

from __future__ import annotations

import pytest

from kassa.domain import AuthenticationFailed, Conflict, NotFound
from kassa.domain.devices import DeviceKind
from kassa.services.club import apps, clubs, pcs
from kassa.services.club.clubs import Club
from kassa.services.devices import registry
from tests.club.conftest import customer
from tests.helpers import ShopSetup
from tests.live import LiveServer


def test_a_club_name_is_unique_across_kassa(server: LiveServer, club: Club) -> None:
    from tests.helpers import make_shop

    other = make_shop(server)
    with pytest.raises(Conflict, match="already"):
        server.call(
            clubs.create(
                server.ctx, shop=other.shop, name=club.name, currency="KZT", timezone="Asia/Almaty"
            )
        )
    with pytest.raises(NotFound):
        server.call(clubs.get(server.ctx, name=club.name, shop=other.shop))


def test_pcs_are_devices_of_their_own_kind(server: LiveServer, club: Club, shop: ShopSetup) -> None:
    ctx = server.ctx
    pc, token = server.call(pcs.add(ctx, club=club, name="PC-01", zone="VIP", alias="ПК-1"))
    assert (pc.name, pc.alias, pc.zone, pc.device.kind) == ("PC-01", "ПК-1", "VIP", "club_pc")
    found = server.call(registry.authenticate(ctx, token, kind=DeviceKind.CLUB_PC))
    assert found.id == "PC-01"
    with pytest.raises(AuthenticationFailed):
        server.call(registry.authenticate(ctx, token, kind=DeviceKind.TERMINAL))
    # An unknown zone adds nothing: the device is not left behind without its club.
    with pytest.raises(NotFound, match="no zone"):
        server.call(pcs.add(ctx, club=club, name="PC-02", zone="Lounge"))
    assert [each.name for each in server.call(pcs.list_pcs(ctx, club=club))] == ["PC-01"]
    with pytest.raises(NotFound):
        server.call(
            registry.get_device(ctx, kind=pc.device.kind, shop_id=shop.shop.id, device_id="PC-02")
        )
    # A PC's name is its device id: unique within the shop, across its clubs.
    second = server.call(
        clubs.create(ctx, shop=shop.shop, name=f"{club.name}-2", currency="KZT", timezone="UTC")
    )
    server.call(clubs.add_zone(ctx, club=second, name="VIP"))
    with pytest.raises(Conflict, match="already has a club pc"):
        server.call(pcs.add(ctx, club=second, name="PC-01", zone="VIP"))
    revoked = server.call(pcs.revoke(ctx, club=club, name="PC-01"))
    with pytest.raises(AuthenticationFailed):
        server.call(registry.authenticate(ctx, token, kind=DeviceKind.CLUB_PC))
    assert server.call(registry.authenticate(ctx, revoked.token, kind=DeviceKind.CLUB_PC))


def test_apps_per_zone_and_launch_logs(server: LiveServer, club: Club) -> None:
    ctx = server.ctx
    server.call(
        apps.add(ctx, club=club, name="Dota 2", path=r"C:\dota2.exe", kind="game", zones=("VIP",))
    )
    server.call(apps.add(ctx, club=club, name="Discord", path=r"C:\discord.exe", kind="app"))
    everything = server.call(apps.list_apps(ctx, club=club))
    assert [(app.name, app.kind, app.zones) for app in everything] == [
        ("Dota 2", "game", ("VIP",)),
        ("Discord", "app", ()),
    ]
    standard = server.call(apps.list_apps(ctx, club=club, zone="Standard"))
    assert [app.name for app in standard] == ["Discord"]
    with pytest.raises(NotFound):
        server.call(
            apps.add(ctx, club=club, name="Doom", path="doom.exe", kind="game", zones=("Roof",))
        )
    login = customer(server, club)
    server.call(apps.log_launch(ctx, club=club, pc="PC-01", app="Dota 2", customer=login))
    server.call(apps.log_launch(ctx, club=club, pc="PC-02", app="notepad.exe"))
    logged = server.call(apps.launches(ctx, club=club))
    assert [(each.pc, each.customer, each.app) for each in logged] == [
        ("PC-02", None, "notepad.exe"),
        ("PC-01", login, "Dota 2"),
    ]
