"""A club with something on every page of the club's dashboard, for the admin tests: zones,
PCs (one online, one never connected, one locked out), a customer with money and time, a
tariff, a package, an app launched once, an open shift."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from kassa.domain import Shop
from kassa.domain.devices import AgentKind
from kassa.services.club import apps, clubs, customers, ledger, packages, pcs, pricing, shifts
from kassa.services.club.clubs import Club
from kassa.services.devices import presence, registry
from kassa.services.shops import shops
from tests.live import LiveServer


@dataclass(frozen=True)
class ClubWorld:
    club: Club
    online: str
    offline: str
    locked: str
    customer: str
    #: Who the ledger and the shift say acted in the set-up.
    actor: str

    @property
    def base(self) -> str:
        return f"/admin/clubs/{self.club.name}"

    @property
    def data(self) -> set[str]:
        """What its pages show as data (names)."""
        people = {self.customer, "Ivan", self.actor, "gift"}  # names, actors and reasons
        return {self.club.name, self.online, self.offline, self.locked, *people} | {
            "Standard", "VIP", "Night", "Dota"
        }  # fmt: skip


def a_club(server: LiveServer, shop: Shop | None = None) -> ClubWorld:
    ctx = server.ctx
    suffix = secrets.token_hex(3)

    async def setup() -> ClubWorld:
        owner = shop or await shops.create_shop(ctx, name=f"t-{suffix}")
        club = await clubs.create(
            ctx, shop=owner, name=f"club-{suffix}", currency="KZT", timezone="Asia/Almaty"
        )
        for zone in ("Standard", "VIP"):
            await clubs.add_zone(ctx, club=club, name=zone)
        online, offline, locked = (f"PC-{n}-{suffix}" for n in ("1", "2", "3"))
        for name, zone in ((online, "Standard"), (offline, "Standard"), (locked, "VIP")):
            await pcs.add(ctx, club=club, name=name, zone=zone)
        await presence.mark_connected(
            ctx, (await pcs.get(ctx, club=club, name=online)).device, kind=AgentKind.KASSA,
            version="1.0",
        )  # fmt: skip
        locked_pc = await pcs.get(ctx, club=club, name=locked)
        await registry.set_enabled(ctx, device=locked_pc.device, enabled=False)
        login, actor = f"c{suffix}", f"desk-{suffix}"
        await customers.register(ctx, club=club, login=login, password="secret-1", name="Ivan")
        await ledger.topup(ctx, club=club, login=login, amount=500_00, actor=actor)
        await ledger.correct(ctx, club=club, login=login, seconds=3600, reason="gift", actor=actor)
        await pricing.set_rate(ctx, club=club, zone="Standard", per_minute=10_00)
        await packages.add(ctx, club=club, name="Night", seconds=8 * 3600, price=1500_00)
        await apps.add(ctx, club=club, name="Dota", path="C:/dota.exe", kind="game")
        await apps.log_launch(ctx, club=club, pc=online, app="Dota", customer=login)
        await shifts.open_shift(ctx, club=club, cash=100_00, actor=actor)
        return ClubWorld(club, online, offline, locked, login, actor)

    return server.call(setup())
