from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.agent.helpers import Gateway


@pytest.fixture
def gateway_factory() -> Iterator[Callable[..., Gateway]]:
    """Start fake gateways (`mode`, `delay`); all are stopped after the test."""
    started: list[Gateway] = []

    def start(mode: str = "approve", delay: float = 40.0) -> Gateway:
        gateway = Gateway(mode, delay).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    return gateway_factory()
