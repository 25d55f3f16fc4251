"""The admin's payment page shows Kaspi's check/pay transactions of the payment (its state
module's panel), in English and Russian."""

from __future__ import annotations

from tests.admin.conftest import Visitor
from tests.conformance.drivers.kaspi import pay_request, settings
from tests.emulators.kaspi import KaspiEmulator, running
from tests.helpers import make_provider_shop
from tests.live import LiveServer


def test_the_payment_page_lists_kaspis_transactions(
    admin_server: LiveServer, owner: Visitor
) -> None:
    with running() as kaspi:
        shop = make_provider_shop(admin_server, "kaspi", settings(kaspi))
        with shop.api(admin_server) as api:
            created = api.post("/v1/payments", json={"amount": 50000, "currency": "KZT"})
            assert created.status_code == 201, created.text
            payment = created.json()
        hook = f"{admin_server.url}/hooks/kaspi/{shop.name}"
        answer = KaspiEmulator.call(hook, pay_request(payment, "31337")).json()
    assert answer["result"] == 0

    page = owner.get(f"/admin/payments/{payment['id']}")
    assert page.status_code == 200
    assert "Kaspi transactions" in page.text
    assert "31337" in page.text
    assert answer["prv_txn_id"] in page.text
    assert "0 (paid)" in page.text
    russian = owner.get(f"/admin/payments/{payment['id']}", headers={"accept-language": "ru"})
    assert "Транзакции Kaspi" in russian.text
    assert "txn_id Kaspi" in russian.text
