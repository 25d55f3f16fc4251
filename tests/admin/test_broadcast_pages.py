"""The bots' broadcasts in the admin UI: the list with audience, counts and state, and a
broadcast's page with its text, in English and Russian."""

from __future__ import annotations

import secrets

from kassa.services.bot import broadcasts, buyers
from kassa.services.bot.broadcasts import Broadcast
from tests.admin.conftest import Visitor
from tests.helpers import make_shop
from tests.live import LiveServer


def sent_broadcast(server: LiveServer, shop_id: str, text: str) -> Broadcast:
    """A broadcast to three buyers of the shop: one reached, one who blocked the bot."""
    ids = [secrets.randbelow(10**9) + 1 for _ in range(3)]
    for telegram_id in ids:
        server.call(buyers.register(server.ctx, shop_id=shop_id, telegram_id=telegram_id))
    drafted = server.call(
        broadcasts.draft(
            server.ctx, shop_id=shop_id, audience="all", text=text, chat_id=42, message_id=7
        )
    )
    server.call(
        broadcasts.start(
            server.ctx, shop_id=shop_id, broadcast_id=drafted.id, progress_message_id=8
        )
    )
    for telegram_id, status in zip(ids, (broadcasts.SENT, broadcasts.BLOCKED), strict=False):
        server.call(
            broadcasts.mark(
                server.ctx, broadcast_id=drafted.id, telegram_id=telegram_id, status=status
            )
        )
    return server.call(broadcasts.get(server.ctx, broadcast_id=drafted.id))


def test_the_list_and_a_broadcasts_page(admin_server: LiveServer, viewer: Visitor) -> None:
    shop = make_shop(admin_server).shop
    broadcast = sent_broadcast(admin_server, shop.id, "New <servers> in Almaty")
    listed = viewer.get(f"/admin/broadcasts?shop={shop.name}")
    assert listed.status_code == 200
    assert f"/admin/broadcasts/{broadcast.id}" in listed.text
    row = listed.text.split('id="broadcasts"')[1]
    assert "Everyone" in row
    assert "Being sent" in row
    assert [cell in row for cell in (">1</td>", ">0</td>")] == [True, True]
    page = viewer.get(f"/admin/broadcasts/{broadcast.id}")
    assert page.status_code == 200
    assert "3: sent 1, blocked the bot 1, failed 0, waiting 1" in page.text
    assert "New &lt;servers&gt; in Almaty" in page.text  # escaped
    assert f"/admin/broadcasts?shop={shop.name}" in viewer.get(f"/admin/shops/{shop.name}").text
    assert viewer.get("/admin/broadcasts/bcast_nothing").status_code == 404
    assert viewer.get("/admin/broadcasts?shop=no-such-shop").status_code == 404


def test_in_russian(admin_server: LiveServer, viewer: Visitor) -> None:
    shop = make_shop(admin_server).shop
    broadcast = sent_broadcast(admin_server, shop.id, "Привет")
    viewer.cookies.set("kassa_lang", "ru", path="/admin")
    assert "Рассылки ботов" in viewer.get("/admin/broadcasts").text
    page = viewer.get(f"/admin/broadcasts/{broadcast.id}").text
    assert "отправлено 1, заблокировали бота 1" in page
