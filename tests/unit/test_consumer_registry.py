"""Consumers and their registry: names, event filters, registering, loading by import path."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Event
from kassa.services.events.consumers import Consumer, Registry
from tests import consumer_plugin


async def ignore(conn: AsyncConnection, event: Event) -> None:
    """A handler doing nothing."""


def test_a_consumer_takes_types_families_or_everything() -> None:
    some = Consumer("some", ["payment.succeeded", "refund.*"], ignore)  # type: ignore[arg-type]
    assert some.types == ("payment.succeeded", "refund.*")
    assert some.cursor == "consumer:some"
    assert some.wants("payment.succeeded")
    assert some.wants("refund.failed")
    assert not some.wants("payment.created")
    assert not some.wants("refunded.x")
    assert Consumer("all", ("*",), ignore).wants("webhook_endpoint.disabled")


@pytest.mark.parametrize(
    ("name", "types", "message"),
    [
        ("Fulfil", ("*",), "consumer name 'Fulfil'"),
        ("x" * 49, ("*",), "up to 48"),
        ("ok", (), "takes no event types"),
        ("ok", "payment.*", "types is a sequence"),
        ("ok", ("payment.paid",), "'payment.paid' is not"),
        ("ok", ("pay.*",), "'pay.*' is not"),
    ],
)
def test_a_bad_consumer_is_refused(name: str, types: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Consumer(name, types, ignore)


def test_a_name_is_registered_once() -> None:
    registry = Registry()
    first = registry.register(Consumer("fulfil", ("*",), ignore))
    assert registry.register(first) is first  # again: nothing changes
    with pytest.raises(ValueError, match="already registered as 'fulfil'"):
        registry.register(Consumer("fulfil", ("payment.*",), ignore))
    assert list(registry) == [first]


def test_the_decorator_registers_the_function_as_a_handler() -> None:
    registry = Registry()

    @registry.consumer("bot", "payment.succeeded", "payment.refunded", from_start=True)
    async def notify(conn: AsyncConnection, event: Event) -> None:
        """Tell the buyer."""

    assert notify == Consumer(
        "bot", ("payment.succeeded", "payment.refunded"), notify.handle, from_start=True
    )
    assert notify.handle.__doc__ == "Tell the buyer."
    assert list(registry) == [notify]


def test_consumers_are_loaded_by_import_path() -> None:
    registry = Registry()
    assert registry.load(" tests.consumer_plugin:consumer, ") == [consumer_plugin.consumer]
    assert registry.load("") == []
    assert list(registry) == [consumer_plugin.consumer]


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ("tests.consumer_plugin", "not a module:attribute import path"),
        ("tests.no_such_module:consumer", "cannot load 'tests.no_such_module:consumer'"),
        ("tests.consumer_plugin:missing", "cannot load 'tests.consumer_plugin:missing'"),
        ("tests.consumer_plugin:handle", "is a function, not a Consumer"),
    ],
)
def test_a_bad_import_path_is_refused(paths: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Registry().load(paths)
