"""The shop pages: creating shops, configuring provider accounts (secrets write-only and
never shown), creating API keys (shown once) and revoking them; each role, each refusal,
each audit entry."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from sqlalchemy import delete

from kassa.domain import ProviderAccount
from kassa.services.admin import audit
from kassa.services.shops import keys, shops
from kassa.store.tables import provider_accounts
from tests.admin.conftest import Visitor, text_of
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer

KEY = re.compile(r"sk_(?:test|live)_[A-Za-z0-9]{32}")


@pytest.fixture
def shop(admin_server: LiveServer) -> ShopSetup:
    return make_shop(admin_server)


def audited(server: LiveServer, object_id: str) -> list[audit.Entry]:
    found, _ = server.call(audit.list_entries(server.ctx, object_id=object_id))
    return found


def accounts(server: LiveServer, shop: ShopSetup) -> dict[tuple[str, bool], ProviderAccount]:
    found = server.call(shops.list_accounts(server.ctx, shop_id=shop.shop.id))
    return {(account.provider, account.test): account for account in found}


def test_every_role_sees_shops_with_secrets_masked(
    admin_server: LiveServer,
    *,
    shop: ShopSetup,
    owner: Visitor,
    operator: Visitor,
    viewer: Visitor,
) -> None:
    for client in (owner, operator, viewer):
        listing = client.get("/admin/shops")
        assert listing.status_code == 200
        assert f'href="/admin/shops/{shop.name}"' in listing.text
        page = client.get(f"/admin/shops/{shop.name}")
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Sandbox" in text
        assert "secret=••••" + shop.secret[-4:] in text
        assert shop.secret not in page.text
        assert shop.key not in page.text
        assert shop.key[:12] in text  # the key's prefix
        is_owner = client is owner
        assert ("Create a shop" in listing.text) == is_owner
        assert ('action="/admin/shops/' in page.text) == is_owner
        assert ("Revoke…" in page.text) == is_owner
    assert viewer.get("/admin/shops/no-such-shop").status_code == 404


def test_an_owner_creates_a_shop(admin_server: LiveServer, owner: Visitor) -> None:
    name = f"t-{secrets.token_hex(4)}"
    made = owner.submit("/admin/shops", name=name, timezone="Asia/Almaty")
    assert made.status_code == 303
    page = owner.get(made.headers["location"])
    assert "The shop was created." in text_of(page.text)
    assert "Asia/Almaty" in page.text
    found = admin_server.call(shops.get_shop(admin_server.ctx, name=name))
    (entry,) = audited(admin_server, found.id)
    assert (entry.action, entry.details["timezone"]) == ("shop.create", "Asia/Almaty")

    again = owner.submit("/admin/shops", name=name, timezone="Europe/Moscow")
    assert again.status_code == 409
    assert "A shop with this name exists already." in text_of(again.text)
    bad = owner.submit("/admin/shops", name="Bad Name!", timezone="Mars/Olympus")
    assert bad.status_code == 422
    assert "Check the name and the time zone." in text_of(bad.text)


def test_secrets_are_write_only_and_blank_keeps_them(
    admin_server: LiveServer, shop: ShopSetup, owner: Visitor
) -> None:
    page = f"/admin/shops/{shop.name}"
    action = f"{page}/providers/yookassa"
    secret_key = f"test_{secrets.token_hex(12)}"
    made = owner.submit(
        page,
        action,
        mode="test",
        enabled="yes",
        cred_shop_id="123456",
        cred_secret_key=secret_key,
        api_url="",
    )
    assert made.status_code == 303
    shown = owner.get(made.headers["location"])
    assert "The provider account was saved." in text_of(shown.text)
    assert secret_key not in shown.text
    assert "••••" + secret_key[-4:] in shown.text
    account = accounts(admin_server, shop)[("yookassa", True)]
    assert account.credentials == {"shop_id": "123456", "secret_key": secret_key}

    # The secret left blank keeps its value; the other settings change.
    changed = owner.submit(
        page,
        action,
        mode="test",
        cred_shop_id="654321",
        cred_secret_key="",
        api_url="http://127.0.0.1:9/yookassa",
    )
    assert changed.status_code == 303
    account = accounts(admin_server, shop)[("yookassa", True)]
    assert account.credentials == {"shop_id": "654321", "secret_key": secret_key}
    assert (account.enabled, account.api_url) == (False, "http://127.0.0.1:9/yookassa")
    assert secret_key not in owner.get(page).text

    entries = audited(admin_server, account.id)
    assert [e.action for e in entries] == ["provider.configure", "provider.configure"]
    assert entries[0].details["credentials_set"] == ["shop_id"]
    assert secret_key not in repr([e.details for e in entries])

    missing = owner.submit(page, f"{page}/providers/yookassa", mode="live", cred_shop_id="1")
    assert missing.status_code == 422
    assert "The YooKassa account was not saved." in text_of(missing.text)
    assert owner.submit(page, f"{page}/providers/nope", mode="test").status_code == 404


def test_a_new_shop_has_the_sandbox_and_a_generated_secret_is_shown_once(
    admin_server: LiveServer, owner: Visitor
) -> None:
    name = f"t-{secrets.token_hex(4)}"
    owner.submit("/admin/shops", name=name, timezone="Europe/Moscow")
    page = f"/admin/shops/{name}"
    shop = admin_server.call(shops.get_shop(admin_server.ctx, name=name))
    (account,) = admin_server.call(shops.list_accounts(admin_server.ctx, shop_id=shop.id))
    assert (account.provider, account.test, account.enabled) == ("sandbox", True, True)
    assert account.credentials["secret"] not in owner.get(page).text
    assert [e.action for e in audited(admin_server, account.id)] == ["provider.configure"]

    # A shop made before every shop got the sandbox: configuring it generates the secret.
    async def forget() -> None:
        async with admin_server.ctx.db.write() as conn:
            await conn.execute(
                delete(provider_accounts).where(provider_accounts.c.id == account.id)
            )

    admin_server.call(forget())
    made = owner.submit(page, f"{page}/providers/sandbox", mode="test", enabled="yes")
    assert made.status_code == 200
    (account,) = admin_server.call(shops.list_accounts(admin_server.ctx, shop_id=shop.id))
    secret = account.credentials["secret"]
    assert secret in made.text
    assert secret not in owner.get(page).text


def test_an_api_key_is_shown_once_and_can_be_revoked(
    admin_server: LiveServer, shop: ShopSetup, owner: Visitor
) -> None:
    page = f"/admin/shops/{shop.name}"
    made = owner.submit(page, f"{page}/keys", mode="live")
    assert made.status_code == 200
    (secret,) = set(KEY.findall(made.text))
    assert secret.startswith("sk_live_")
    assert secret not in owner.get(page).text
    with httpx.Client(base_url=admin_server.url, timeout=30) as api:
        headers = {"Authorization": f"Bearer {secret}"}
        assert api.get("/v1/payments", headers=headers).status_code == 200
        *_, key_id = re.findall(r"/keys/(key_[a-z0-9]+)/revoke", owner.get(page).text)
        (created,) = audited(admin_server, key_id)
        assert (created.action, created.details["mode"]) == ("key.create", "live")
        confirm = owner.get(f"{page}/keys/{key_id}/revoke")
        assert "Revoke the API key?" in text_of(confirm.text)
        revoked = owner.submit(f"{page}/keys/{key_id}/revoke")
        assert revoked.status_code == 303
        assert "The API key was revoked." in text_of(owner.get(revoked.headers["location"]).text)
        assert api.get("/v1/payments", headers=headers).status_code == 401
    assert [e.action for e in audited(admin_server, key_id)] == [
        "key.revoke",
        "key.create",
    ]
    again = owner.get(f"{page}/keys/{key_id}/revoke")
    assert again.status_code == 409
    assert owner.get(f"{page}/keys/key_nope/revoke").status_code == 404


def test_operators_and_viewers_are_refused_every_change(
    admin_server: LiveServer, shop: ShopSetup, operator: Visitor, viewer: Visitor
) -> None:
    page = f"/admin/shops/{shop.name}"
    (key,) = admin_server.call(keys.list_keys(admin_server.ctx, shop=shop.shop))
    for client in (operator, viewer):
        token = client.token(page)
        attempts = [
            ("/admin/shops", {"name": f"t-{secrets.token_hex(4)}", "timezone": "UTC"}),
            (f"{page}/providers/sandbox", {"mode": "test", "cred_secret": "x" * 20}),
            (f"{page}/keys", {"mode": "live"}),
            (f"{page}/keys/{key.id}/revoke", {}),
        ]
        for url, fields in attempts:
            refused = client.post(url, data={"csrf_token": token, **fields})
            assert refused.status_code == 403, url
            assert "Only owners can create shops" in text_of(refused.text)
        assert client.get(f"{page}/keys/{key.id}/revoke").status_code == 403
    assert accounts(admin_server, shop)[("sandbox", True)].credentials == shop.sandbox.credentials
    assert audited(admin_server, key.id) == []


def test_shop_forms_need_the_csrf_token(
    admin_server: LiveServer, shop: ShopSetup, owner: Visitor
) -> None:
    page = f"/admin/shops/{shop.name}"
    for url in ("/admin/shops", f"{page}/keys", f"{page}/providers/sandbox"):
        forged = owner.post(url, data={"csrf_token": "forged", "name": "forged-shop"})
        assert forged.status_code == 403
        assert "This form has expired" in forged.text
    assert KEY.search(owner.get(page).text) is None


def test_the_new_pages_speak_russian(shop: ShopSetup, owner: Visitor) -> None:
    ru = {"Accept-Language": "ru"}
    pages = {
        "/admin/shops": "Создать магазин",
        f"/admin/shops/{shop.name}": "Аккаунты провайдеров",
        "/admin/notifications": "Уведомления",
        "/admin/webhooks": "Вебхуки",
    }
    for url, heading in pages.items():
        page = owner.get(url, headers=ru)
        assert page.status_code == 200, url
        assert heading in text_of(page.text), url
