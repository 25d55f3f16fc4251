"""routing_config.yaml, as ws_client 1.0.2 wrote it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kassa.agent.routing import PAYMENT_TIMEOUT, Route, RoutingError, load_routing

GATEWAY = "http://localhost:8080/payment"


def test_payment_goes_to_the_gateway_without_a_file() -> None:
    routing = load_routing(None, GATEWAY)
    assert routing.resolve("payment") == Route(GATEWAY, PAYMENT_TIMEOUT)
    assert routing.resolve("fiscal") is None
    assert routing.kinds() == ["payment"]


def test_the_field_format(tmp_path: Path) -> None:
    path = tmp_path / "routing_config.yaml"
    path.write_text(
        "routes:\n"
        "  payment:\n    url: http://127.0.0.1:8011/api/v1/dcpayment/payment\n    timeout: 35\n"
        "  fiscal:\n    url: http://127.0.0.1:8011/api/v1/fiscal\n"
        "default:\n  url: http://127.0.0.1:8011/other\n  timeout: 5\n"
    )
    routing = load_routing(path, GATEWAY)
    assert routing.resolve("payment") == Route("http://127.0.0.1:8011/api/v1/dcpayment/payment", 35)
    assert routing.resolve("fiscal") == Route("http://127.0.0.1:8011/api/v1/fiscal", 30)
    assert routing.resolve("print") == Route("http://127.0.0.1:8011/other", 5)
    assert routing.kinds() == ["fiscal", "payment"]
    assert list(routing.all()) == ["payment", "fiscal", "default"]
    assert routing.resolve("payment") is not None
    assert Route("http://127.0.0.1:8011/api/v1/fiscal", 1).origin == "http://127.0.0.1:8011/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n", "mapping"),
        ("routes: [a]\n", "must map"),
        ("routes:\n  payment: http://x\n", "must be {url, timeout}"),
        ("routes:\n  payment: {url: ftp://x}\n", "http:// or https://"),
        ("routes:\n  payment: {url: 'http://x', timeout: 0}\n", "above 0"),
        ("routes: {payment: {url: 'http://x'}\n", "not valid YAML"),
    ],
)
def test_mistakes_are_explained(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "routing_config.yaml"
    path.write_text(text)
    with pytest.raises(RoutingError, match=message):
        load_routing(path, GATEWAY)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RoutingError, match="cannot read"):
        load_routing(tmp_path / "nope.yaml", GATEWAY)


def test_status_urls(tmp_path: Path) -> None:
    status = "http://127.0.0.1:8011/api/v1/dcpayment/payment/{order_id}"
    path = tmp_path / "routing_config.yaml"
    path.write_text(f"routes:\n  payment: {{url: '{GATEWAY}', status_url: '{status}'}}\n")
    route = load_routing(path, GATEWAY).resolve("payment")
    assert route == Route(GATEWAY, 30, status_url=status)
    assert route.status_url_for({"order_id": "pay 1/2"}).endswith("/payment/pay%201%2F2")
    assert load_routing(None, GATEWAY).resolve("payment") == Route(GATEWAY, PAYMENT_TIMEOUT)
    default = load_routing(None, GATEWAY, status).resolve("payment")
    assert default == Route(GATEWAY, PAYMENT_TIMEOUT, status_url=status)


@pytest.mark.parametrize(
    ("status_url", "message"),
    [
        ("ftp://x/{order_id}", "http:// or https://"),
        ("http://x/{order_id", "not a valid template"),
        ("http://x/{0}", "must name a field"),
        ("http://x/{order_id.__class__}", "must name a field"),
    ],
)
def test_status_url_mistakes_are_explained(tmp_path: Path, status_url: str, message: str) -> None:
    path = tmp_path / "routing_config.yaml"
    path.write_text(f"routes:\n  payment: {{url: 'http://x', status_url: '{status_url}'}}\n")
    with pytest.raises(RoutingError, match=message):
        load_routing(path, GATEWAY)
    with pytest.raises(RoutingError, match=message):
        load_routing(None, GATEWAY, status_url)
