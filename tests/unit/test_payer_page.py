"""What a provider declares for Kassa's payer page, and the policy the page gets from it."""

from __future__ import annotations

import pytest

from kassa.providers import PROVIDERS, PayerPage, WidgetConfirmation
from kassa.web.middleware import CONTENT_SECURITY_POLICY
from kassa.web.routes.pay import widget_policy

WIDGET = WidgetConfirmation("https://w.example/w.js", {"public-id": "pk_1", "amount": "15.00"})


def test_a_widget_adds_its_sources_to_kassas_policy() -> None:
    policy = widget_policy(
        {"script-src": ("https://w.example",), "connect-src": ("https://api.w.example",)}
    )
    assert policy == (
        CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' https://w.example")
        # The page's own status calls keep working once connect-src is set.
        + "; connect-src 'self' https://api.w.example"
    )


def test_a_page_without_sources_keeps_kassas_policy() -> None:
    assert widget_policy({}) == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("name", ["publicId", "public_id", "1st", "on-click x", ""])
def test_widget_params_must_be_data_attribute_names(name: str) -> None:
    with pytest.raises(ValueError, match="data- attribute"):
        PayerPage(WidgetConfirmation("https://w.example/w.js", {name: "x"}), sources={})


@pytest.mark.parametrize("directive", ["frame-ancestors", "form-action", "default-src"])
def test_a_widget_cannot_widen_what_is_not_a_fetch_of_its_own(directive: str) -> None:
    with pytest.raises(ValueError, match=directive):
        PayerPage(WIDGET, sources={directive: ("*",)})


def test_every_provider_with_a_page_script_has_the_script() -> None:
    scripts = {name: cls.payer_script for name, cls in PROVIDERS.items()}
    assert {name for name, script in scripts.items() if script is not None} == {"cloudpayments"}
    for script in scripts.values():
        if script is not None:
            assert "window.kassaWidget" in script.read_text(encoding="utf-8")
