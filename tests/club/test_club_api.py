"""`/v1/club/{club}/…` with a shop's API key: customers, cash top-ups once per
Idempotency-Key, corrections, purchases refused with 402 when the balance does not cover them,
packages, tariffs, apps, the preview; another shop's club is not found."""

from __future__ import annotations

import httpx

from kassa.services.club.clubs import Club
from tests.helpers import make_shop
from tests.live import LiveServer


def error_of(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_staff_actions_through_the_api(api: httpx.Client, club: Club) -> None:
    base = f"/v1/club/{club.name}"
    assert api.get(base).json()["currency"] == "KZT"
    made = api.post(f"{base}/customers", json={"login": "arman", "password": "pw-secret"})
    assert made.status_code == 201, made.text
    assert (made.json()["balance"], made.json()["time_bank"]) == ("0.00", 0)
    again = api.post(f"{base}/customers", json={"login": "arman", "password": "other"})
    assert (again.status_code, error_of(again)) == (409, "customer_exists")

    topup = {"customer": "arman", "amount": "1500", "method": "cash"}
    first = api.post(f"{base}/topups", json=topup, headers={"Idempotency-Key": "till-1"})
    replay = api.post(f"{base}/topups", json=topup, headers={"Idempotency-Key": "till-1"})
    assert first.status_code == replay.status_code == 201, first.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert first.json()["customer"]["balance"] == "1500.00"
    assert first.json()["actor"].startswith("key:")
    floats = api.post(f"{base}/topups", json={"customer": "arman", "amount": 1.5})
    assert floats.status_code == 422

    package = {"name": "1 час", "seconds": 3600, "price": 350}
    assert api.post(f"{base}/packages", json=package).status_code == 201
    tariff = api.post(f"{base}/tariffs", json={"zone": "VIP", "per_minute": "10"})
    assert tariff.json() == {
        "object": "club_tariff",
        "zone": "VIP",
        "per_minute": "10.00",
        "days": None,
        "hours": None,
    }
    preview = api.get(f"{base}/preview", params={"customer": "arman", "package": "1 час"})
    assert (preview.json()["allowed"], preview.json()["balance_after"]) == (True, "1150.00")
    bought = api.post(f"{base}/purchases", json={"customer": "arman", "package": "1 час"})
    assert bought.status_code == 201, bought.text
    assert (bought.json()["kind"], bought.json()["amount"]) == ("purchase", "-350.00")
    corrected = api.post(
        f"{base}/corrections",
        json={"customer": "arman", "amount": "-1150", "seconds": 300, "reason": "miscount"},
    )
    assert corrected.json()["customer"]["balance"] == "0.00"
    broke = api.post(f"{base}/purchases", json={"customer": "arman", "package": "1 час"})
    assert (broke.status_code, error_of(broke)) == (402, "insufficient_funds")
    play = api.get(
        f"{base}/preview", params={"customer": "arman", "zone": "VIP", "minutes": "70"}
    ).json()
    assert [(use["source"], use["seconds"]) for use in play["uses"]] == [
        ("package", 3600),
        ("time_bank", 300),
    ]
    assert play["short"] == 300

    ledger = api.get(f"{base}/customers/arman/ledger").json()["data"]
    assert [entry["kind"] for entry in ledger] == ["correction", "purchase", "topup"]
    app = {"name": "Dota 2", "path": "C:\\Games\\dota2.exe", "kind": "game", "zones": ["VIP"]}
    assert api.post(f"{base}/apps", json=app).status_code == 201
    assert [
        a["name"] for a in api.get(f"{base}/apps", params={"zone": "Standard"}).json()["data"]
    ] == []
    assert [a["name"] for a in api.get(f"{base}/apps", params={"zone": "VIP"}).json()["data"]] == [
        "Dota 2"
    ]
    blocked = api.post(f"{base}/customers/arman/block")
    assert blocked.json()["status"] == "blocked"
    deleted = api.delete(f"{base}/customers/arman")
    assert deleted.json()["status"] == "deleted"
    assert api.get(f"{base}/customers").json()["data"] == []


def test_another_shops_club_is_not_found(server: LiveServer, club: Club) -> None:
    other = make_shop(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {other.key}"}) as api:
        answer = api.get(f"/v1/club/{club.name}/customers")
        assert (answer.status_code, error_of(answer)) == (404, "resource_missing")
        topup = api.post(
            f"/v1/club/{club.name}/topups", json={"customer": "x", "amount": 1, "method": "cash"}
        )
        assert topup.status_code == 404
