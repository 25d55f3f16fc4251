"""The user's first minutes: `kassa serve --demo` (what `make run` runs) as a real process.

The first run creates the demo shop and prints a test key and the first admin owner's password;
the key creates a payment; the payer presses Pay on the sandbox checkout page; the API then says
`succeeded`, with its events; the owner signs in to the admin UI and finds it. A restart reuses
the data and prints no new key or password unless asked.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.serving import kassa_serve

KEY = re.compile(r"sk_test_[A-Za-z0-9]{32}")
OWNER = re.compile(r"Admin user\s+admin\s+password\s+(\S+)")


@pytest.mark.slow
def test_first_run_pay_and_restart(tmp_path: Path) -> None:
    with kassa_serve(tmp_path) as first:
        assert f"{first.base}/v1" in first.text
        assert f"{first.base}/docs" in first.text
        (key,) = set(KEY.findall(first.text))
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(
            f"{first.base}/v1/payments",
            headers=headers,
            json={"amount": 150000, "currency": "RUB", "description": "Test order"},
        )
        assert created.status_code == 201, created.text
        payment = created.json()
        url = payment["confirmation"]["url"]
        assert url.startswith(f"{first.base}/sandbox/checkout/")
        page = httpx.get(url, headers={"Accept-Language": "ru-RU,ru;q=0.9"})
        assert "1\u00a0500,00\u00a0₽" in page.text  # with no-break spaces
        assert "Оплатить" in page.text
        assert httpx.post(url, data={"action": "pay"}).status_code == 200
        paid = httpx.get(f"{first.base}/v1/payments/{payment['id']}", headers=headers).json()
        assert paid["status"] == "succeeded"
        events = httpx.get(
            f"{first.base}/v1/events", headers=headers, params={"payment": payment["id"]}
        ).json()["data"]
        assert [e["type"] for e in events] == ["payment.succeeded", "payment.created"]
        assert f"{first.base}/admin" in first.text
        (password,) = OWNER.findall(first.text)
        with httpx.Client(base_url=first.base) as browser:
            form = browser.get("/admin/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token
            signed = browser.post(
                "/admin/login",
                data={"name": "admin", "password": password, "csrf_token": token.group(1)},
            )
            assert signed.status_code == 303, signed.text
            assert payment["id"] in browser.get("/admin/payments").text
    assert (tmp_path / "kassa.db").exists()

    with kassa_serve(tmp_path) as second:
        assert not KEY.search(second.text), "a restart must not print a new key"
        assert not OWNER.search(second.text), "the owner's password is printed once"
        assert password not in second.text
        assert "printed on the first run" in second.text
        kept = httpx.get(f"{second.base}/v1/payments/{payment['id']}", headers=headers)
        assert kept.json()["status"] == "succeeded"

    with kassa_serve(tmp_path, "--new-key") as third:
        (new_key,) = set(KEY.findall(third.text))
        assert new_key != key
        listed = httpx.get(
            f"{third.base}/v1/payments", headers={"Authorization": f"Bearer {new_key}"}
        )
        assert [p["id"] for p in listed.json()["data"]] == [payment["id"]]
