"""The API document and the API agree: Idempotency-Key rules stated on every POST that takes
one, an empty `starting_after` allowed (from the newest), times outside a sane range refused,
`405` answers whose `Allow` lists every method of the path, and every kind of
confirmation in the payment object."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import create_payment
from tests.live import LiveServer

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    spec: dict[str, Any] = httpx.get(f"{server.url}/openapi.json").json()
    return spec


def test_every_post_states_the_idempotency_key_rules(document: dict[str, Any]) -> None:
    posts = {
        path: op["post"]
        for path, op in document["paths"].items()
        if path.startswith("/v1/") and "post" in op
    }
    assert "/v1/payments" in posts
    assert "/v1/refunds" in posts
    for path, op in posts.items():
        headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path
        key = headers["Idempotency-Key"]
        schema = key["schema"]["anyOf"][0] if "anyOf" in key["schema"] else key["schema"]
        assert (schema["minLength"], schema["maxLength"]) == (1, 255), path
        rules = key["description"]
        for rule in (
            "idempotency_key_reused",  # another request with the key
            "idempotency_key_in_use",  # while the first still runs
            "15 s",
            "KASSA_IDEMPOTENCY_TTL_HOURS (24 by default)",  # how long it lasts
            "Idempotent-Replayed: true",
        ):
            assert rule in rules, (path, rule)


def test_a_key_the_document_refuses_is_refused(api: httpx.Client) -> None:
    body = {"amount": 100, "currency": "RUB"}
    for key in ("k" * 256, "tab\there"):
        answer = api.post("/v1/payments", json=body, headers={"Idempotency-Key": key})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["param"] == "Idempotency-Key"
    assert api.get("/v1/payments").json()["data"] == []


@pytest.mark.parametrize(
    "path", ["/v1/payments", "/v1/refunds", "/v1/events", "/v1/webhook_endpoints"]
)
def test_an_empty_starting_after_lists_from_the_newest(api: httpx.Client, path: str) -> None:
    create_payment(api)
    first = api.get(path, params={"limit": 3})
    empty = api.get(path, params={"limit": 3, "starting_after": ""})
    assert empty.status_code == 200, empty.text
    assert empty.json() == first.json()


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/v1/analytics", {"to": "0"}, "to"),
        ("/v1/analytics", {"from": "0"}, "from"),
        ("/v1/analytics", {"from": "1999-12-31"}, "from"),
        ("/v1/analytics", {"to": "2100-01-01"}, "to"),
        ("/v1/analytics", {"to": "20261122"}, "to"),
        ("/v1/payments", {"created_gte": "0"}, "created_gte"),
        ("/v1/payments", {"created_lt": "1970-01-01T00:00:00Z"}, "created_lt"),
        ("/v1/payments", {"created_gte": "0001-01-01T00:00:00+05:00"}, "created_gte"),
        ("/v1/payments", {"created_lt": "9999-12-31T23:59:59-05:00"}, "created_lt"),
        ("/v1/payments", {"created_lt": "2100-01-01T00:00:00Z"}, "created_lt"),
    ],
)
def test_times_out_of_range_are_refused(
    api: httpx.Client, path: str, params: dict[str, str], param: str
) -> None:
    answer = api.get(path, params=params)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("parameter_invalid", param)


def test_times_in_range_still_work(api: httpx.Client) -> None:
    payment = create_payment(api)
    for since in ("2000-01-01T00:00:00Z", "2000-01-01T00:00:00", "946684800"):
        found = api.get("/v1/payments", params={"created_gte": since}).json()["data"]
        assert [p["id"] for p in found] == [payment["id"]], since
    report = api.get("/v1/analytics", params={"from": "2000-01-01", "to": "2099-12-31"})
    assert report.status_code == 422  # a period over the longest allowed, not a bad day
    assert api.get("/v1/analytics", params={"to": "2099-12-31"}).status_code == 200


def test_405_lists_every_method_of_the_path(
    server: LiveServer, api: httpx.Client, document: dict[str, Any]
) -> None:
    for path, operations in document["paths"].items():
        taken = {method.upper() for method in operations}
        url = path.replace("{", "x_").replace("}", "")
        for method in sorted(set(METHODS) - taken):
            answer = api.request(method, url)
            assert answer.status_code == 405, (method, path, answer.status_code)
            allowed = {m.strip() for m in answer.headers["allow"].split(",")}
            assert allowed - {"HEAD"} == taken, (method, path, answer.headers["allow"])


def test_the_document_lists_every_kind_of_confirmation(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    (typed, none) = schemas["PaymentOut"]["properties"]["confirmation"]["anyOf"]
    assert none == {"type": "null"}
    kinds = {
        "redirect": "RedirectConfirmation",
        "qr": "QrConfirmation",
        "requisites": "RequisitesConfirmation",
        "crypto_transfer": "CryptoTransferConfirmation",
        "invoice_link": "InvoiceLinkConfirmation",
        "widget": "WidgetConfirmation",
        "terminal": "TerminalConfirmation",
    }
    assert typed["discriminator"] == {
        "propertyName": "type",
        "mapping": {kind: f"#/components/schemas/{name}" for kind, name in kinds.items()},
    }
    assert [member["$ref"] for member in typed["oneOf"]] == [
        f"#/components/schemas/{name}" for name in kinds.values()
    ]
    for kind, name in kinds.items():
        assert schemas[name]["properties"]["type"]["const"] == kind
        assert schemas[name]["description"], name
    requisites = schemas["RequisitesConfirmation"]
    assert requisites["required"] == ["type", "amount", "currency"]
    assert requisites["properties"]["amount"]["type"] == "integer"
