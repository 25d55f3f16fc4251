"""Every provider has a conformance driver, and each driver plays every part its provider
declares (so a missing one fails here, by name, rather than in the middle of a scenario)."""

from __future__ import annotations

from typing import Any

import pytest

from kassa.providers import PROVIDERS, Provider
from tests.conformance.drivers import DRIVERS, Driver


def test_every_provider_has_a_driver() -> None:
    assert sorted(DRIVERS) == sorted(PROVIDERS)


def overrides(driver: type[Driver[Any, Any]], method: str) -> bool:
    return getattr(driver, method) is not getattr(Driver, method)


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_a_driver_plays_what_its_provider_declares(name: str) -> None:
    driver = DRIVERS[name]
    capabilities = driver.provider.capabilities
    if capabilities.two_stage:
        assert overrides(driver, "capture_at_provider")
    if driver.creates_at_provider or capabilities.two_stage or capabilities.refunds:
        assert overrides(driver, "api_down"), "the provider has an API to take down"
    if driver.provider.fetch is Provider.fetch:
        # The reconcile job cannot ask it: the driver shows Kassa's other way to find out.
        assert overrides(driver, "find_lost")
