"""A shop's Telegram bot in the admin UI: its overview (secrets masked, test or live, what
is stuck), buyers searched and paged, a buyer's page with their subscription, purchases and
payments, referrals and promo codes, and the plans and promo codes pages with their forms,
each role's rights, CSRF and the audit log; in English and Russian."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import update

from kassa.domain import Shop
from kassa.services.admin import audit
from kassa.services.bot import buyers, imports, plans, promos, purchases
from kassa.services.bot import settings as bot_settings
from kassa.store.tables import bot_provisioning
from tests.admin.conftest import People, Visitor, text_of
from tests.admin.test_in_a_browser import CHROMIUM, Tab
from tests.admin.test_in_a_browser import browser as browser_fixture
from tests.helpers import make_shop
from tests.live import LiveServer

#: The browser tests' Chromium, for this module's one browser test.
browser = browser_fixture

PANEL_PASSWORD = "panel-pw-never-shown"
TOKEN = "7000000001:AAH-token-never-shown"


@pytest.fixture
def shop(admin_server: LiveServer) -> Shop:
    """A shop whose bot has a Marzban panel, in test mode."""
    made = make_shop(admin_server).shop
    changes = {
        "token": TOKEN,
        "admins": "111,222",
        "panel": "marzban",
        "panel_url": "https://panel.example",
        "panel_user": "admin",
        "panel_password": PANEL_PASSWORD,
    }
    admin_server.call(bot_settings.configure(admin_server.ctx, shop=made, changes=changes))
    return made


def register(server: LiveServer, shop: Shop, name: str, **options: str) -> buyers.Buyer:
    return server.call(
        buyers.register(
            server.ctx,
            shop_id=shop.id,
            telegram_id=secrets.randbelow(10**9) + 1,
            name=name,
            **options,
        )
    )


def audited(server: LiveServer, shop: Shop) -> list[tuple[str, str]]:
    found, _ = server.call(audit.list_entries(server.ctx, limit=100))
    return [(e.action, e.actor.name) for e in found if e.shop_id == shop.id]


def test_the_overview_masks_secrets_and_shows_what_is_stuck(
    admin_server: LiveServer, shop: Shop, viewer: Visitor
) -> None:
    inviter = register(admin_server, shop, "Inviter")
    admin_server.call(buyers.start_trial(admin_server.ctx, shop_id=shop.id, buyer_id=inviter.id))

    async def stick() -> None:
        async with admin_server.ctx.db.write() as conn:
            await conn.execute(
                update(bot_provisioning)
                .where(bot_provisioning.c.buyer_id == inviter.id)
                .values(status="stuck", error="Marzban refuses the admin's password")
            )

    admin_server.call(stick())
    shop_page = viewer.get(f"/admin/shops/{shop.name}")
    assert f'href="/admin/shops/{shop.name}/bot"' in shop_page.text
    page = viewer.get(f"/admin/shops/{shop.name}/bot")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "never-shown" not in page.text
    text = text_of(page.text)
    assert "Telegram bot Test" in text
    assert "token ••••••" in text
    assert "panel_password ••••••" in text
    assert "panel marzban" in text
    assert "admins 111, 222" in text
    assert "Buyers 1 Running subscriptions 1 · 1 of them a trial" in text
    assert "Plans on sale 4" in text
    assert "Stuck: a person must look" in text
    assert "Marzban refuses the admin's password" in text
    assert f"/admin/shops/{shop.name}/bot/buyers/{inviter.id}" in page.text

    no_bot = make_shop(admin_server).shop
    assert "None" in text_of(viewer.get(f"/admin/shops/{no_bot.name}").text)
    missing = viewer.get(f"/admin/shops/{no_bot.name}/bot/buyers")
    assert missing.status_code == 404
    assert "This shop has no Telegram bot" in missing.text
    assert viewer.get("/admin/shops/no-such-shop/bot").status_code == 404


def test_buyers_are_searched_and_paged_and_a_buyer_shown_in_full(
    admin_server: LiveServer, shop: Shop, viewer: Visitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    inviter = register(admin_server, shop, "Olga Inviter")
    invited = register(admin_server, shop, "Pavel", referral_code=inviter.referral_code)
    others = [register(admin_server, shop, f"Other {n}") for n in range(3)]
    plan = next(p for p in admin_server.call(plans.list_plans(admin_server.ctx, shop_id=shop.id)))
    admin_server.call(promos.add(admin_server.ctx, shop_id=shop.id, code="HALF", percent=50))
    purchase = admin_server.call(
        purchases.start(
            admin_server.ctx, shop=shop, buyer_id=invited.id, plan_id=plan.id, promo="half"
        )
    )
    moved = secrets.randbelow(10**9) + 1
    admin_server.call(
        imports.apply(
            admin_server.ctx,
            shop_id=shop.id,
            customers=imports.read(f"{moved},Moved,2027-03-01,old_user_7\n"),
        )
    )

    base = f"/admin/shops/{shop.name}/bot/buyers"
    listing = text_of(viewer.get(base).text)
    assert "Moved" in listing
    assert "Until" in listing
    assert "No subscription" in listing
    for search, expected in (
        (str(invited.telegram_id), ["Pavel"]),
        ("olga", ["Olga Inviter"]),
        (f"ref_{inviter.referral_code}", ["Olga Inviter"]),
        ("100%", []),
        ("²", []),
    ):
        found = viewer.get(base, params={"q": search})
        assert found.status_code == 200
        names = [b.name for b in (inviter, invited, *others) if b.name in text_of(found.text)]
        assert names == expected, search

    monkeypatch.setattr("kassa.web.admin.bot.PAGE_SIZE", 2)
    first = viewer.get(base)
    assert "Older →" in first.text
    older = viewer.get(base, params={"after": others[1].id})
    assert "← Newest" in older.text
    assert "Pavel" in text_of(older.text)
    assert viewer.get(base, params={"after": "pay_nope"}).status_code == 404

    page = viewer.get(f"{base}/{invited.id}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Invited by Olga Inviter" in text
    assert f'href="/admin/payments/{purchase.payment.id}"' in page.text
    assert "1 month 30 days" in text
    assert "Awaiting payment" in text
    assert "HALF 50% off" in text
    assert "No subscription" in text
    inviter_page = text_of(viewer.get(f"{base}/{inviter.id}").text)
    assert "Invited 1: Pavel" in inviter_page
    moved_page = viewer.get(f"{base}/{_buyer_id(admin_server, shop, moved)}")
    assert 'id="panel-user">old_user_7<' in moved_page.text
    assert "not provisioned by Kassa yet" in moved_page.text
    assert viewer.get(f"{base}/buyer_nope").status_code == 404
    other_shop = make_shop(admin_server).shop
    admin_server.call(
        bot_settings.configure(admin_server.ctx, shop=other_shop, changes={"token": "1:x"})
    )
    assert viewer.get(f"/admin/shops/{other_shop.name}/bot/buyers/{invited.id}").status_code == 404


def _buyer_id(server: LiveServer, shop: Shop, telegram_id: int) -> str:
    return server.call(buyers.register(server.ctx, shop_id=shop.id, telegram_id=telegram_id)).id


def test_owners_add_and_disable_plans(
    admin_server: LiveServer,
    *,
    shop: Shop,
    people: People,
    owner: Visitor,
    operator: Visitor,
    viewer: Visitor,
) -> None:
    page = f"/admin/shops/{shop.name}/bot/plans"
    assert "Add a plan" not in operator.get(page).text
    assert 'action="' + page not in viewer.get(page).text
    refused = operator.submit(page, name="Week", days="7", price="49")
    assert refused.status_code == 403

    added = owner.submit(page, name="Week", days="7", price="49.90", traffic_gb="50")
    assert added.status_code == 303
    assert added.headers["location"] == page + "?done=added"
    text = text_of(owner.get(page + "?done=added").text)
    assert "The plan was added" in text
    assert "Week 7 RUB\u00a049.90 40 50 GB" in text

    again = owner.submit(page, name="Week", days="7", price="49.90")
    assert again.status_code == 409
    assert "The shop has a plan with this name already." in text_of(again.text)
    bad = owner.submit(page, name="Bad", days="seven", price="1")
    assert bad.status_code == 422
    assert 'name="days" value="seven"' in bad.text
    assert owner.submit(page, name="Free", days="7", price="0").status_code == 422

    week = next(
        p
        for p in admin_server.call(plans.list_plans(admin_server.ctx, shop_id=shop.id))
        if p.name == "Week"
    )
    confirm = f"{page}/{week.id}/disable"
    assert f'href="{confirm}"' in owner.get(page).text
    assert operator.get(confirm).status_code == 403
    assert "Stop selling the plan?" in owner.get(confirm).text
    no_csrf = owner.post(confirm, data={})
    assert no_csrf.status_code == 403
    disabled = owner.submit(confirm)
    assert disabled.status_code == 303
    assert "Not sold" in text_of(owner.get(page).text)
    again = owner.get(confirm)
    assert again.status_code == 409
    assert "This plan is not sold already." in again.text
    assert owner.get(f"{page}/plan_nope/disable").status_code == 404
    assert owner.submit(page, f"{page}/plan_nope/disable").status_code == 404
    assert [a for a in audited(admin_server, shop) if a[0].startswith("bot.")] == [
        ("bot.plan.disable", people.owner),
        ("bot.plan.add", people.owner),
    ]


def test_operators_add_promo_codes(
    admin_server: LiveServer, shop: Shop, people: People, operator: Visitor, viewer: Visitor
) -> None:
    page = f"/admin/shops/{shop.name}/bot/promo_codes"
    assert "No promo codes yet." in viewer.get(page).text
    assert viewer.submit(page, code="X", kind="days", amount="3").status_code == 403
    added = operator.submit(page, code="summer", kind="days", amount="7", uses="100")
    assert added.status_code == 303
    operator.submit(page, code="half", kind="percent", amount="50", until="2020-01-01")
    text = text_of(operator.get(page).text)
    assert "HALF 50% off 0 Expired" in text
    assert "SUMMER 7 extra days 0 of 100 No end" in text
    for fields, status, says in (
        ({"code": "Summer", "kind": "days", "amount": "1"}, 409, "has this code already"),
        ({"code": "ALL", "kind": "percent", "amount": "100"}, 422, "percent is 1-99"),
        ({"code": "D", "kind": "days", "amount": "1", "until": "31.12.2027"}, 422, "YYYY-MM-DD"),
    ):
        refused = operator.submit(page, **fields)
        assert refused.status_code == status, fields
        assert says in text_of(refused.text)
    assert len(admin_server.call(promos.list_codes(admin_server.ctx, shop_id=shop.id))) == 2
    assert ("bot.promo.add", people.operator) in audited(admin_server, shop)


def test_the_pages_speak_russian(shop: Shop, viewer: Visitor) -> None:
    viewer.cookies.set("kassa_lang", "ru", path="/admin")
    for path, words in (
        ("", ["Телеграм-бот", "Покупатели"]),
        ("/buyers", ["Покупателей пока нет."]),
        ("/plans", ["Тарифы", "В продаже"]),  # noqa: RUF001
        ("/promo_codes", ["Промокодов пока нет."]),
    ):
        text = text_of(viewer.get(f"/admin/shops/{shop.name}/bot{path}").text)
        for word in words:
            assert word in text, (path, word)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_a_buyer_is_found_in_a_browser(
    admin_server: LiveServer, browser: Browser, people: People, shop: Shop
) -> None:
    """From the shop's page to a buyer found by name, within the Content-Security-Policy
    (`Tab` fails on any violation); screenshots of the buyers list and the buyer."""
    inviter = register(admin_server, shop, "Olga Inviter")
    register(admin_server, shop, "Pavel", referral_code=inviter.referral_code)
    admin_server.call(buyers.start_trial(admin_server.ctx, shop_id=shop.id, buyer_id=inviter.id))
    tab = Tab(browser, admin_server, viewport={"width": 1280, "height": 800})
    page = tab.page
    tab.sign_in(people.viewer, at=f"/admin/shops/{shop.name}")
    page.get_by_role("link", name="The shop's bot").click()
    expect(page.locator("#mode")).to_have_text("Test")
    page.get_by_role("navigation", name="Telegram bot").get_by_role("link", name="Buyers").click()
    expect(page.locator("#buyers tbody tr")).to_have_count(2)
    tab.shot("bot-buyers")
    page.get_by_label("Search").fill("olga")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("#buyers tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Trial until")
    rows.first.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text("Olga Inviter")
    expect(page.locator("#invited")).to_contain_text("1: Pavel")
    tab.shot("bot-buyer")
    tab.close()
