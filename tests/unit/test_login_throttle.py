"""The sign-in throttle's pure parts: what failures are counted by, and the brake's delay."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kassa.config import Settings
from kassa.services.admin.logins import brake_delay, throttle_key


@pytest.mark.parametrize(
    ("client", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("unknown", "unknown"),
    ],
)
def test_failures_are_counted_per_address_and_ipv6_per_64(client: str, key: str) -> None:
    assert throttle_key(client) == key


def test_the_brake_doubles_from_its_first_wait_up_to_its_cap() -> None:
    settings = Settings(
        admin_login_brake_after=10, admin_login_brake_seconds=1, admin_login_brake_max_seconds=60
    )
    waits = [brake_delay(settings, failures).total_seconds() for failures in range(8, 20)]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert brake_delay(settings, 10_000) == timedelta(seconds=60)
