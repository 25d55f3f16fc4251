"""`/v1/bot/plans` and `/v1/bot/promo_codes`: a shop's bot's plans and promo codes through
the API, with the API's errors, Idempotency-Key replays, and the rule that a live bot's are
changed with a live key only."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from kassa.services.bot import settings as bot_settings
from kassa.services.shops import keys
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer


def with_bot(server: LiveServer, shop: ShopSetup, **changes: str) -> None:
    settings = {"token": f"123:{secrets.token_hex(8)}", **changes}
    server.call(bot_settings.configure(server.ctx, shop=shop.shop, changes=settings))


def client(server: LiveServer, key: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def test_plans_listed_added_and_disabled(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    with_bot(server, shop)
    seeded = api.get("/v1/bot/plans")
    assert seeded.status_code == 200, seeded.text
    assert [(p["name"], p["price"], p["stars"]) for p in seeded.json()["data"]] == [
        ("1 month", 10_000, 75),
        ("3 months", 24_900, 185),
        ("6 months", 44_900, 340),
        ("12 months", 99_000, 745),
    ]
    body = {"name": "Week", "days": 7, "price": 3_990, "traffic_gb": 50, "devices": 2}
    added = api.post("/v1/bot/plans", json=body, headers={"Idempotency-Key": "week"})
    assert added.status_code == 201, added.text
    week = added.json()
    assert week["object"] == "bot_plan"
    assert week["id"].startswith("plan_")
    assert (week["currency"], week["stars"], week["active"]) == ("RUB", 30, True)
    again = api.post("/v1/bot/plans", json=body, headers={"Idempotency-Key": "week"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == week

    twin = api.post("/v1/bot/plans", json=body)
    assert twin.status_code == 409
    assert twin.json()["error"]["code"] == "conflict"

    disabled = api.post(f"/v1/bot/plans/{week['id']}/disable")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False
    assert api.post(f"/v1/bot/plans/{week['id']}/disable").json()["active"] is False
    listed = {p["name"]: p["active"] for p in api.get("/v1/bot/plans").json()["data"]}
    assert listed == {
        "Week": False,
        "1 month": True,
        "3 months": True,
        "6 months": True,
        "12 months": True,
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "Zero", "days": 0, "price": 100}, "days"),
        ({"name": "Float", "days": 30, "price": 99.5}, "price"),
        ({"name": "", "days": 30, "price": 100}, "name"),
        ({"name": "Extra", "days": 30, "price": 100, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_plan_is_refused_and_nothing_is_added(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, body: dict[str, object], param: str
) -> None:
    with_bot(server, shop)
    refused = api.post("/v1/bot/plans", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["param"] == param
    assert len(api.get("/v1/bot/plans").json()["data"]) == 4


def test_a_shop_without_a_bot_or_a_plan_of_another_shop(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    for path in ("/v1/bot/plans", "/v1/bot/promo_codes"):
        missing = api.get(path)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "resource_missing"
    with_bot(server, shop)
    other = make_shop(server)
    with_bot(server, other)
    with client(server, other.key) as theirs:
        their_plan = theirs.get("/v1/bot/plans").json()["data"][0]["id"]
    answer = api.post(f"/v1/bot/plans/{their_plan}/disable")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "resource_missing"


def test_promo_codes_added_and_listed(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    with_bot(server, shop)
    assert api.get("/v1/bot/promo_codes").json() == {
        "object": "list",
        "data": [],
        "has_more": False,
    }
    days = api.post(
        "/v1/bot/promo_codes",
        json={"code": "summer", "days": 7, "max_uses": 100, "valid_until": "2027-08-31"},
    )
    assert days.status_code == 201, days.text
    assert days.json() | {"id": "", "created_at": ""} == {
        "id": "",
        "object": "bot_promo_code",
        "code": "SUMMER",
        "days": 7,
        "percent": None,
        "max_uses": 100,
        "uses": 0,
        "valid_until": "2027-08-31T00:00:00Z",
        "active": True,
        "created_at": "",
    }
    percent = api.post("/v1/bot/promo_codes", json={"code": "HALF", "percent": 50})
    assert percent.status_code == 201, percent.text
    listed = api.get("/v1/bot/promo_codes").json()["data"]
    assert [each["code"] for each in listed] == ["HALF", "SUMMER"]

    for body, code in (
        ({"code": "Summer", "days": 3}, "conflict"),
        ({"code": "BOTH", "days": 3, "percent": 10}, "parameter_invalid"),
        ({"code": "NONE"}, "parameter_invalid"),
        ({"code": "ALL", "percent": 100}, "parameter_invalid"),
        ({"code": "OLD", "days": 1, "valid_until": "1999-01-01"}, "parameter_invalid"),
    ):
        refused = api.post("/v1/bot/promo_codes", json=body)
        assert refused.status_code in (409, 422), refused.text
        assert refused.json()["error"]["code"] == code, body
    assert len(api.get("/v1/bot/promo_codes").json()["data"]) == 2


def test_a_live_bot_is_changed_with_a_live_key_only(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    with_bot(server, shop, test="false")
    _, live_key = server.call(keys.create_key(server.ctx, shop=shop.shop, live=True))
    plan = {"name": "Day", "days": 1, "price": 1_000}
    assert len(api.get("/v1/bot/plans").json()["data"]) == 4  # a test key reads them
    for path, body in (("/v1/bot/plans", plan), ("/v1/bot/promo_codes", {"code": "X", "days": 1})):
        refused = api.post(path, json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "live_key_required"
    with client(server, live_key) as live:
        assert live.post("/v1/bot/plans", json=plan).status_code == 201
        assert live.post("/v1/bot/promo_codes", json={"code": "X", "days": 1}).status_code == 201
    assert api.get("/v1/bot/plans").json()["data"][0]["name"] == "Day"


def test_the_same_code_added_twice_at_once_is_added_once(
    server: LiveServer, shop: ShopSetup
) -> None:
    with_bot(server, shop)
    body = {"code": f"TWICE{secrets.token_hex(2)}", "days": 3}

    def add(_: int) -> int:
        with client(server, shop.key) as api:
            return api.post("/v1/bot/promo_codes", json=body).status_code

    with ThreadPoolExecutor(4) as pool:
        answers = sorted(pool.map(add, range(4)))
    assert answers == [201, 409, 409, 409]
    with client(server, shop.key) as api:
        assert len(api.get("/v1/bot/promo_codes").json()["data"]) == 1
