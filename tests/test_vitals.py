"""What `/metrics` tells alerts: payments stuck open, webhook endpoints failing, terminals
offline while payments wait, the disk; and the alerting rules in `deploy/prometheus`, which
name only what Kassa exports (and pass `promtool check rules` where promtool is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from kassa.services.context import utcnow
from kassa.services.devices import terminals
from kassa.services.webhooks import fanout as webhook_fanout
from kassa.store.tables import payments, webhook_deliveries, webhook_endpoints
from tests.helpers import ShopSetup, checkout, create_payment, make_shop
from tests.live import LiveServer

RULES = Path(__file__).parents[1] / "deploy" / "prometheus" / "kassa-rules.yml"
#: promtool's unit tests of the rules: live figures alert, test ones do not, and so on.
RULES_TESTS = RULES.with_name("kassa-rules.test.yml")
#: Labels Prometheus adds to every series it scrapes.
TARGET_LABELS = {"instance", "job"}
#: PromQL's words that look like metric names in an expression.
PROMQL_WORDS = {"max", "min", "sum", "by", "without", "predict_linear", "and", "or", "unless"}
#: A name in PromQL (a metric, a function, a label), not part of a number or duration.
NAME = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_:][A-Za-z0-9_:]*")
#: Metrics of Prometheus itself that rules may use.
PROMETHEUS_METRICS = {"up"}


@pytest.fixture(scope="module")
def live(own_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(own_database_url, data_dir=tmp_path_factory.mktemp("data")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shop(live: LiveServer) -> ShopSetup:
    return make_shop(live)


def scrape(server: LiveServer) -> dict[str, Any]:
    """`/metrics` as families by name."""
    answer = httpx.get(f"{server.url}/metrics")
    assert answer.status_code == 200
    return {family.name: family for family in text_string_to_metric_families(answer.text)}


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    (found,) = (s.value for s in families[name].samples if s.labels == labels)
    return float(found)


@dataclass(frozen=True)
class Figures:
    """What `/metrics` said once there was something to watch: a payment past its expiry,
    one held for days, a webhook endpoint failing with deliveries waiting, a payment waiting
    for an offline terminal."""

    families: dict[str, Any]
    endpoint: str
    kiosk: str


@pytest.fixture(scope="module")
def figures(live: LiveServer, shop: ShopSetup) -> Figures:
    headers = {"Authorization": f"Bearer {shop.key}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as api:
        added = api.post("/v1/webhook_endpoints", json={"url": "https://93.184.215.14/hook"})
        assert added.status_code == 201, added.text
        endpoint = added.json()["id"]
        overdue = create_payment(api)
        held = create_payment(api, capture=False)
        assert checkout(live, held, "authorize").status_code == 200
    kiosk = "KIOSK_V"
    _add_terminal(live, shop, kiosk)
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as api:
        waiting = api.post(
            "/v1/payments",
            json={"amount": 5000, "currency": "RUB", "provider": "terminal", "terminal": kiosk},
        )
        assert waiting.status_code == 201, waiting.text
    now = utcnow()

    async def age() -> None:
        await webhook_fanout.fan_out(live.ctx)
        async with live.ctx.db.write() as conn:
            await conn.execute(
                update(payments)
                .where(payments.c.id == overdue["id"])
                .values(created_at=now - timedelta(hours=2), expires_at=now - timedelta(hours=1))
            )
            await conn.execute(
                update(payments)
                .where(payments.c.id == held["id"])
                .values(created_at=now - timedelta(days=4))
            )
            await conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == endpoint)
                .values(failing_since=now - timedelta(hours=2))
            )
            await conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.endpoint_id == endpoint)
                .values(created_at=now - timedelta(hours=1))
            )

    live.call(age())
    return Figures(scrape(live), endpoint, kiosk)


def test_the_vitals_alerts_watch(figures: Figures, shop: ShopSetup) -> None:
    families, endpoint, kiosk = figures.families, figures.endpoint, figures.kiosk
    test = {"mode": "test"}
    assert value(families, "kassa_database_up") == 1
    assert value(families, "kassa_payments_overdue", **test) == 1
    assert value(families, "kassa_payments_overdue_seconds", **test) == pytest.approx(3600, abs=120)
    assert value(families, "kassa_payments_overdue_seconds", mode="live") == 0
    held_for = value(
        families, "kassa_payments_open_oldest_seconds", status="requires_capture", **test
    )
    assert held_for == pytest.approx(4 * 86400, abs=120)
    assert value(families, "kassa_payments_open", status="pending", **test) == 2
    endpoint_labels = {"endpoint": endpoint, "shop": shop.name, **test}
    failing = value(families, "kassa_webhook_endpoint_failing_seconds", **endpoint_labels)
    assert failing == pytest.approx(7200, abs=120)
    assert value(families, "kassa_webhook_endpoint_undelivered", **endpoint_labels) >= 3
    oldest = value(families, "kassa_webhook_endpoint_undelivered_oldest_seconds", **endpoint_labels)
    assert oldest == pytest.approx(3600, abs=120)
    assert value(families, "kassa_webhook_endpoints_disabled", **test) == 0
    terminal = {"shop": shop.name, "terminal": kiosk}
    assert value(families, "kassa_terminal_payments_waiting", **terminal) == 1
    assert value(families, "kassa_terminal_payments_waiting_oldest_seconds", **terminal) < 120
    free = value(families, "kassa_data_dir_free_bytes")
    assert 0 < free <= value(families, "kassa_data_dir_size_bytes")
    assert value(families, "kassa_database_size_bytes") > 0


def _add_terminal(server: LiveServer, shop: ShopSetup, terminal_id: str) -> None:
    async def add() -> None:
        await terminals.add_terminal(server.ctx, shop=shop.shop, terminal_id=terminal_id)

    server.call(add())


def test_the_rules_name_only_what_kassa_exports(figures: Figures) -> None:
    """Checked against a scrape with every figure present: a family without samples (no
    failing endpoint yet, say) would show none of its labels."""
    families = figures.families
    labels_of = {
        name: {label for sample in family.samples for label in sample.labels}
        for name, family in families.items()
    }
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) >= 8
    for rule in rules:
        expr = rule["expr"]
        labels = _labels_in(expr)
        words = set(NAME.findall(re.sub(r'"[^"]*"', "", expr))) - PROMQL_WORDS - labels
        assert words, rule["alert"]
        metrics = words - PROMETHEUS_METRICS
        assert metrics <= set(families), (rule["alert"], metrics - set(families))
        known_labels = set().union(*(labels_of[m] for m in metrics)) | TARGET_LABELS
        assert labels <= known_labels, (rule["alert"], labels - known_labels)
        assert rule["annotations"]["summary"]


def _labels_in(expr: str) -> set[str]:
    """The label names an expression matches on or aggregates by."""
    matched = set(re.findall(r"([a-z_]+)\s*(?:=|!=|=~|!~)\s*\"", expr))
    grouped = {
        label.strip()
        for found in re.findall(r"\bby\s*\(([^)]*)\)", expr)
        for label in found.split(",")
    }
    return matched | grouped


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: prometheus)")
def test_promtool_checks_the_rules_and_runs_their_tests() -> None:
    assert PROMTOOL is not None
    for args in (["check", "rules", RULES.name], ["test", "rules", RULES_TESTS.name]):
        done = subprocess.run(
            [PROMTOOL, *args], cwd=RULES.parent, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
