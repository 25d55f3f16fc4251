"""The club PC's HTTP API as its agent calls it: a client with the PC's token, over the real
hub on loopback."""

from __future__ import annotations

from typing import Any

import httpx

from tests.live import LiveServer


def pc_client(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def sign_in(client: httpx.Client, login: str) -> str:
    """The ticket of the customer's sign-in on the client's PC (with the fixtures' password)."""
    answer = client.post("/club/pc/sign_in", json={"login": login, "password": "secret-1"})
    assert answer.status_code == 200, answer.text
    ticket: str = answer.json()["ticket"]
    return ticket


def error_code(answer: httpx.Response) -> str:
    document: dict[str, Any] = answer.json()
    code: str = document["error"]["code"]
    return code
