"""Every admin page in Russian, with a bit of everything on it (paid, held, refunded and
pending payments, notifications of each verdict, a webhook delivery, a terminal with its
counters, the audit log): no English words are left for a Russian reader.

What a page shows as data rather than as words is left out of the check: code (`<code>`,
`<pre>`), and what the page marks `translate="no"` (as the HTML standard has it, for
browsers' translators too): header names, the body of a notification, a provider's own
diagnostics. A test below checks that every GET page of the admin UI is visited."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select, update

from kassa.domain import CURRENCY_EXPONENTS, Role, Shop
from kassa.services.admin import users as admins
from kassa.services.bot import buyers, imports, promos, purchases
from kassa.services.bot import plans as bot_plans
from kassa.services.bot import settings as bot_settings
from kassa.services.callers import Caller
from kassa.services.club import clubs
from kassa.services.context import utcnow
from kassa.services.devices import terminals
from kassa.services.shops import keys, shops
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from kassa.store.tables import events, notifications
from kassa.store.tables import terminals as terminals_table
from tests.admin.club_world import a_club
from tests.admin.conftest import Visitor, new_user, signed_in
from tests.admin.test_broadcast_pages import sent_broadcast
from tests.admin.test_inbox import pending
from tests.admin.test_webhooks import NOWHERE
from tests.helpers import checkout, create_payment, make_shop, stored_notifications
from tests.live import LiveServer

#: Words that are the same in a Russian page: names, and abbreviations Russian uses as is.
NAMES = frozenset(
    {"Kassa", "RU", "EN", "API", "CSV", "URL", "JSON", "HTTP", "HTTPS", "IANA", "UTC", "ID"}
    | {"YooKassa", "CloudPayments", "TipTopPay", "Public", "shopId", "HMAC", "curl", "make", "run"}
    | {"Plat", "x-shop", "x-secret"}  # 1Plat ("1" is not a letter) and its API's headers
    # Crypto Pay, the menu of @CryptoBot its token is found in, its testnet's host, "true"
    | {"Crypto", "Pay", "My", "Apps", "testnet-pay", "crypt", "bot", "true"}
    # Kaspi, its API's headers and values (qr, link), pay.kaspi.kz, PEM files, basic auth
    | {"Kaspi", "Api-Key", "DeviceToken", "PEM", "QR", "qr", "link", "pay", "kaspi", "kz"}
    | {"basic", "auth"}
    | {"USDT-TRC", "TRON", "TronGrid", "TRON-PRO-API-KEY"}  # USDT-TRC20, its network, API, header
    | {"Telegram", "Stars", "BotFather"}  # Telegram Stars, and the bot its token comes from
    | set(CURRENCY_EXPONENTS)
)
#: Tags whose content is code or data, not words.
DATA_TAGS = frozenset({"code", "pre", "kbd", "samp", "script", "style"})
#: Attributes people read (or hear) besides the text.
READ_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt", "data-label")
VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "source", "wbr"})


class Words(HTMLParser):
    """The text a reader gets from a page, without code and what is marked translate=no."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipping: list[str] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if self.skipping or tag in DATA_TAGS or named.get("translate") == "no":
            if tag not in VOID:
                self.skipping.append(tag)
            return
        self.found += [value for name, value in attrs if name in READ_ATTRIBUTES and value]
        if tag == "input" and named.get("type") in ("submit", "button") and named.get("value"):
            self.found.append(str(named["value"]))

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.found.append(data)


def english_words(html: str, data: frozenset[str]) -> list[str]:
    """Latin words on the page that are neither names nor the test's own data."""
    parser = Words()
    parser.feed(html)
    text = " ".join(parser.found)
    for value in sorted(data, key=len, reverse=True):  # "t-ab1" must not leave "t-ab12"'s "2"
        text = text.replace(value, " ")
    # Data: URLs, paths and zones, e-mail and IPv6 addresses, ids, keys, masked secrets.
    text = re.sub(r"\S*[/@•]\S*|\S*:\S*:\S*|\b\w*_\w*\b|\S+…", " ", text)
    words = re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]", text)
    return sorted({w for w in words if w not in NAMES})


@dataclass(frozen=True)
class Everything:
    shop: str
    data: frozenset[str]
    pages: list[str]


@pytest.fixture(scope="module")
def everything(admin_server: LiveServer) -> Everything:
    """A shop with something on every page, and the pages to look at."""
    shop = make_shop(admin_server)
    with httpx.Client(
        base_url=admin_server.url, headers={"Authorization": f"Bearer {shop.key}"}, timeout=30
    ) as api:
        paid = create_payment(api, amount=150000, description="Заказ 1", customer="ivan")
        held = create_payment(api, amount=5000, capture=False, description="Заказ 2")
        waiting = create_payment(api, amount=990, description="Заказ 3")
        checkout(admin_server, paid, "pay")
        checkout(admin_server, held, "authorize")
        refunded = api.post("/v1/refunds", json={"payment": paid["id"], "amount": 50000})
        assert refunded.status_code < 300, refunded.text
    stranger = f"gone-{secrets.token_hex(3)}"
    httpx.post(f"{admin_server.url}/hooks/sandbox/{stranger}", content=b"{}")
    waiting_notification = pending(admin_server, shop, waiting)

    endpoint, _ = admin_server.call(
        webhooks.create_endpoint(
            admin_server.ctx,
            caller=Caller.system(shop=shop.shop, test=True),
            url=NOWHERE,
            events=["*"],
        )
    )
    (delivery,) = admin_server.call(
        webhook_sending.resend(
            admin_server.ctx,
            caller=Caller.system(),
            event_id=admin_server.call(first_event(admin_server, paid["id"])),
            endpoint_id=endpoint.id,
        )
    )

    kiosk = f"KIOSK_{secrets.token_hex(3)}"
    admin_server.call(terminals.add_terminal(admin_server.ctx, shop=shop.shop, terminal_id=kiosk))

    async def seen() -> None:
        async with admin_server.ctx.db.write() as conn:
            await conn.execute(
                update(terminals_table)
                .where(terminals_table.c.id == kiosk)
                .values(
                    last_seen_at=utcnow() - timedelta(minutes=5),
                    agent_kind="kassa",
                    agent_version="1.0",
                    health={"payments": {"ok": True, "latency_ms": 12}, "printer": {"ok": False}},
                    stats={
                        "requests": 12,
                        "successes": 11,
                        "failures": 1,
                        "reconnects": 2,
                        "uptime_seconds": 7300,
                    },
                )
            )

    admin_server.call(seen())
    buyer, bot_data = with_a_bot(admin_server, shop.shop)
    plan = admin_server.call(bot_plans.list_plans(admin_server.ctx, shop_id=shop.shop.id))[0]
    key_id = admin_server.call(keys.list_keys(admin_server.ctx, shop=shop.shop))[0].id
    broadcast = sent_broadcast(admin_server, shop.shop.id, "Новые серверы")
    club = a_club(admin_server, shop.shop)
    base = f"/admin/payments/{held['id']}"
    pages = [
        "/admin",
        f"/admin?shop={shop.name}&mode=test",
        "/admin?days=13",
        f"/admin/payments?shop={shop.name}",
        f"/admin/payments?shop={shop.name}&from=nonsense",
        "/admin/payments?q=nothing-matches-this",
        f"/admin/payments/{paid['id']}",
        f"/admin/payments/{paid['id']}?done=refund",
        f"/admin/payments/{paid['id']}/refund",
        base,
        f"{base}/capture",
        f"{base}/cancel",
        f"/admin/payments/{waiting['id']}/refresh",
        "/admin/payments/pay_nothing_here",
        f"/admin/notifications?shop={shop.name}",
        "/admin/notifications?provider=sandbox&verdict=rejected",
        "/admin/notifications?verdict=nonsense",
        f"/admin/notifications/{waiting_notification}",
        f"/admin/notifications/{waiting_notification}/reprocess",
        *[f"/admin/notifications/{n}" for n in notification_ids(admin_server, stranger, shop.name)],
        f"/admin/webhooks?shop={shop.name}",
        f"/admin/webhooks/{endpoint.id}",
        f"/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/resend",
        "/admin/shops",
        f"/admin/shops/{shop.name}",
        f"/admin/shops/{shop.name}/keys/{key_id}/revoke",
        f"/admin/terminals?shop={shop.name}",
        f"/admin/terminals/{shop.name}/{kiosk}",
        f"/admin/terminals/{shop.name}/{kiosk}/revoke",
        f"/admin/shops/{shop.name}/bot",
        f"/admin/shops/{shop.name}/bot/buyers",
        f"/admin/shops/{shop.name}/bot/buyers?q=nothing-matches-this",
        f"/admin/shops/{shop.name}/bot/buyers/{buyer}",
        f"/admin/shops/{shop.name}/bot/buyers/buyer_nothing_here",
        f"/admin/shops/{shop.name}/bot/plans?done=added",
        f"/admin/shops/{shop.name}/bot/plans/{plan.id}/disable",
        f"/admin/shops/{shop.name}/bot/promo_codes?done=added",
        "/admin/clubs",
        club.base,
        f"{club.base}/customers",
        f"{club.base}/customers?q=nothing-matches-this",
        f"{club.base}/customers/{club.customer}?done=topup",
        f"{club.base}/prices?done=rate",
        f"{club.base}/apps",
        f"{club.base}/shifts?done=opened",
        f"{club.base}/topups",
        f"{club.base}/pcs/{club.online}?done=sent",
        f"{club.base}/pcs/{club.online}?login={club.customer}&length=minutes&minutes=90",
        "/admin/audit",
        "/admin/users",
        f"/admin/broadcasts?shop={shop.name}",
        f"/admin/broadcasts/{broadcast.id}",
    ]
    return Everything(
        shop=shop.name,
        data=frozenset({shop.name, kiosk, "ivan", stranger, *bot_data, *club.data}),
        pages=pages,
    )


def with_a_bot(server: LiveServer, shop: Shop) -> tuple[str, set[str]]:
    """Give `shop` a bot with a Marzban panel, a buyer who invited another, bought a plan
    with a promo code and took the trial, and a customer moved over; the buyer's id and
    what the pages show of them as data (the plans' names, the payment's customer)."""
    ctx = server.ctx
    changes = {"token": "1:secret", "panel": "marzban", "panel_password": "secret"}
    server.call(bot_settings.configure(ctx, shop=shop, changes=changes))
    telegram_id = secrets.randbelow(10**9) + 1
    inviter = server.call(buyers.register(ctx, shop_id=shop.id, telegram_id=telegram_id))
    invited = server.call(
        buyers.register(
            ctx, shop_id=shop.id, telegram_id=telegram_id + 1, referral_code=inviter.referral_code
        )
    )
    server.call(buyers.start_trial(ctx, shop_id=shop.id, buyer_id=invited.id))
    server.call(promos.add(ctx, shop_id=shop.id, code="HALF", percent=50, max_uses=5))
    server.call(promos.add(ctx, shop_id=shop.id, code="WEEK", days=7))
    plan = server.call(bot_plans.list_plans(ctx, shop_id=shop.id))[0]
    server.call(purchases.start(ctx, shop=shop, buyer_id=invited.id, plan_id=plan.id, promo="HALF"))
    customers = imports.read(f"{telegram_id + 2},,2026-01-01,old_user\n")
    server.call(imports.apply(ctx, shop_id=shop.id, customers=customers))
    names = {each.name for each in server.call(bot_plans.list_plans(ctx, shop_id=shop.id))}
    return invited.id, names | {f"tg:{invited.id}"}  # the purchase's customer


async def first_event(server: LiveServer, payment_id: str) -> str:
    query = select(events.c.id).where(events.c.payment_id == payment_id).order_by(events.c.seq)
    async with server.ctx.db.read() as conn:
        return str((await conn.execute(query)).scalars().first())


async def shop_refs(server: LiveServer) -> set[str]:
    """The shop names notifications were sent to, existing or not."""
    async with server.ctx.db.read() as conn:
        found = await conn.execute(select(notifications.c.shop_ref).distinct())
        return {str(ref) for ref in found.scalars()}


def notification_ids(server: LiveServer, *shop_refs: str) -> list[str]:
    return [str(row["id"]) for ref in shop_refs for row in stored_notifications(server, ref)]


def test_every_admin_page_speaks_russian(admin_server: LiveServer, everything: Everything) -> None:
    owner = signed_in(admin_server, new_user(admin_server, Role.OWNER))
    owner.cookies.set("kassa_lang", "ru", path="/admin")
    # Other tests' shops and users are on the lists too: their names are data.
    names = {shop.name for shop in admin_server.call(shops.list_shops(admin_server.ctx))}
    names |= {user.name for user in admin_server.call(admins.list_users(admin_server.ctx))}
    names |= admin_server.call(shop_refs(admin_server))
    names |= {club.name for club in admin_server.call(clubs.list_clubs(admin_server.ctx))}
    data = everything.data | names
    found = {}
    try:
        for page in everything.pages:
            response = owner.get(page)
            assert response.status_code in (200, 404, 409, 422), (page, response.status_code)
            assert 'lang="ru"' in response.text
            words = english_words(response.text, data)
            if words:
                found[page] = words
    finally:
        owner.close()
    with Visitor(admin_server, **{"Accept-Language": "ru"}) as stranger:
        words = english_words(stranger.get("/admin/login").text, data)
        if words:
            found["/admin/login"] = words
    viewer = signed_in(admin_server, new_user(admin_server, Role.VIEWER))
    viewer.cookies.set("kassa_lang", "ru", path="/admin")
    try:
        refused = viewer.get("/admin/users")
        assert refused.status_code == 403
        words = english_words(refused.text, data | {owner_name(viewer)})
        if words:
            found["/admin/users (a viewer)"] = words
    finally:
        viewer.close()
    assert found == {}, "\n".join(f"{page}: {' '.join(words)}" for page, words in found.items())


def owner_name(client: Visitor) -> str:
    match = re.search(r'<span class="who">([^ <]+)', client.get("/admin").text)
    assert match
    return match.group(1)


def test_every_page_of_the_admin_ui_is_looked_at(
    admin_server: LiveServer, everything: Everything
) -> None:
    """A new page must be added to the pages above, so that it is checked too."""
    routes = {
        route.path
        for route in admin_server.app.routes
        if isinstance(route, APIRoute)
        and route.path.startswith("/admin")
        and "GET" in (route.methods or ())
        and not route.path.endswith((".csv", ".json", "/language"))
    }
    looked_at = {
        next(
            (r for r in routes if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", r), path)),
            path,
        )
        for path in (page.split("?")[0] for page in everything.pages)
    } | {"/admin/login"}
    assert sorted(routes - looked_at) == []
