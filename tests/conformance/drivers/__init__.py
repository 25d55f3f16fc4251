"""One conformance driver per provider, registered here: every provider in
`kassa.providers.PROVIDERS` must have one (`test_every_provider_has_a_driver`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from tests.conformance.drivers.base import Account, Driver, Reply
from tests.conformance.drivers.cloudpayments import CloudPaymentsDriver
from tests.conformance.drivers.cryptopay import CryptoPayDriver
from tests.conformance.drivers.kaspi import KaspiDriver
from tests.conformance.drivers.oneplat import OnePlatDriver
from tests.conformance.drivers.sandbox import SandboxDriver
from tests.conformance.drivers.telegram_stars import TelegramStarsDriver
from tests.conformance.drivers.terminal import TerminalDriver
from tests.conformance.drivers.tron_usdt import TronUsdtDriver
from tests.conformance.drivers.yookassa import YooKassaDriver

DRIVERS: Mapping[str, type[Driver[Any, Any]]] = MappingProxyType(
    {
        driver.provider.name: driver
        for driver in (
            SandboxDriver,
            YooKassaDriver,
            CloudPaymentsDriver,
            TerminalDriver,
            CryptoPayDriver,
            OnePlatDriver,
            KaspiDriver,
            TronUsdtDriver,
            TelegramStarsDriver,
        )
    }
)

__all__ = ["DRIVERS", "Account", "Driver", "Reply"]
