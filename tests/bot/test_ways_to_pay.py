"""The ways a bot's buyer may pay (`paying.methods`): the shop's enabled accounts in the bot's
mode that serve a Telegram buyer — the sandbox (and test Stars on Telegram's test server) in
test mode; live accounts that take rubles (and live Stars on the production server) live;
Stars never for a top-up; never a kiosk terminal."""

from __future__ import annotations

import pytest

from kassa.domain import ProviderNotConfigured, Shop
from kassa.services.bot import paying
from kassa.services.bot import settings as bot_settings
from kassa.services.shops import shops
from tests.bot.conftest import bot_shop
from tests.live import LiveServer

ACCOUNTS: dict[str, dict[str, str]] = {
    "yookassa": {"shop_id": "1", "secret_key": "test_key"},
    "telegram_stars": {"bot_token": "1:token"},
    "kaspi": {"api_key": "key", "device_token": "device"},
    "cryptopay": {"token": "1:crypto"},
    "terminal": {},
}


def connect(hub: LiveServer, shop: Shop, *, test: bool) -> None:
    for provider, credentials in ACCOUNTS.items():
        settings = {**credentials, "test": str(test).lower()}
        if provider == "telegram_stars" and not test:
            settings["test_environment"] = "false"
        hub.call(shops.configure_provider(hub.ctx, shop=shop, provider=provider, settings=settings))


def offered(hub: LiveServer, shop: Shop, *, stars: bool = True) -> list[str]:
    settings = hub.call(bot_settings.get(hub.ctx, shop_id=shop.id))
    found = hub.call(paying.methods(hub.ctx, shop=shop, settings=settings, stars=stars))
    return [method.provider for method in found]


@pytest.mark.parametrize(
    ("changes", "stars", "expected"),
    [
        ({}, True, ["sandbox"]),
        ({"server": "test"}, True, ["sandbox", "telegram_stars"]),
        ({"server": "test"}, False, ["sandbox"]),
        ({"test": "false"}, True, ["cryptopay", "yookassa", "telegram_stars"]),
        ({"test": "false"}, False, ["cryptopay", "yookassa"]),
        ({"test": "false", "server": "test"}, True, ["cryptopay", "yookassa"]),
    ],
)
def test_the_ways_to_pay_follow_the_bots_mode(
    hub: LiveServer, changes: dict[str, str], stars: bool, expected: list[str]
) -> None:
    shop = bot_shop(hub, **changes)
    connect(hub, shop, test=True)
    connect(hub, shop, test=False)
    assert offered(hub, shop, stars=stars) == expected


def test_a_disabled_account_is_not_offered(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    hub.call(
        shops.configure_provider(
            hub.ctx, shop=shop, provider="sandbox", settings={"enabled": "false"}
        )
    )
    assert offered(hub, shop) == []


def test_a_way_to_pay_not_offered_is_refused(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    connect(hub, shop, test=True)
    settings = hub.call(bot_settings.get(hub.ctx, shop_id=shop.id))
    hub.call(paying.check_offered(hub.ctx, shop=shop, settings=settings, provider="sandbox"))
    for provider in ("yookassa", "terminal", "telegram_stars", "nonsense"):
        with pytest.raises(ProviderNotConfigured):
            hub.call(paying.check_offered(hub.ctx, shop=shop, settings=settings, provider=provider))
