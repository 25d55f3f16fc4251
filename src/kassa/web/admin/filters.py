"""The payments page's filter form: query parameters in, a `PaymentFilter` out.

Dates are whole days in one time zone: the chosen shop's, or, across shops, theirs if they
all share one, else UTC. A value that cannot be read is reported by its field's name (the
page says what is wrong with it, translated) and left out of the filter. Amounts are any
non-negative numbers: the search compares each currency's payments only against bounds its
column can hold (`kassa.services.payments.search`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request

from kassa.domain import AmountInvalid, PaymentStatus, Shop
from kassa.services.catalog import PROVIDERS
from kassa.services.payments.search import PaymentFilter
from kassa.web.timestamps import day_in_range

#: The form's fields, as named in the query string.
FIELDS = ("shop", "status", "provider", "mode", "from", "to", "min", "max", "q")


@dataclass(frozen=True, slots=True)
class FilterForm:
    """The form as sent (to show it again), the filter it makes, and the fields it could not
    read."""

    values: dict[str, str]
    filter: PaymentFilter
    timezone: str
    errors: frozenset[str] = field(default_factory=frozenset)

    @property
    def active(self) -> bool:
        return any(self.values.values())

    def query(self, **extra: str) -> str:
        """The form's query string (for page links and the CSV export), plus `extra`."""
        return urlencode({k: v for k, v in {**self.values, **extra}.items() if v})


def common_zone(shops: list[Shop], chosen: Shop | None) -> str:
    """The chosen shop's time zone; with none chosen, the shops' zone if they all share one,
    else UTC."""
    if chosen is not None:
        return chosen.timezone
    zones = {shop.timezone for shop in shops}
    return zones.pop() if len(zones) == 1 else "UTC"


def _day(value: str, zone: str) -> datetime:
    """The start of day `value` in `zone`; `ValueError` for a day outside the range that
    timestamps may name (`kassa.web.timestamps`)."""
    day = day_in_range(date.fromisoformat(value))
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone))


def parse_amount(value: str) -> Decimal:
    """A major-unit amount as people type it: `1500`, `1 500,50`, `1500.50`."""
    try:
        amount = Decimal(value.replace("\u00a0", "").replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise AmountInvalid(f"{value!r} is not an amount", param="amount") from None
    if not amount.is_finite() or amount < 0:
        raise AmountInvalid(f"{value!r} is not an amount", param="amount")
    return amount


def read_filters(request: Request, shops: list[Shop]) -> FilterForm:
    """The filter the query string of `request` asks for."""
    values = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    errors: set[str] = set()
    by_name = {shop.name: shop for shop in shops}
    chosen = by_name.get(values["shop"])
    if values["shop"] and chosen is None:
        errors.add("shop")
    status = None
    if values["status"]:
        try:
            status = PaymentStatus(values["status"])
        except ValueError:
            errors.add("status")
    provider = values["provider"] or None
    if provider is not None and provider not in PROVIDERS:
        errors.add("provider")
        provider = None
    test = {"test": True, "live": False}.get(values["mode"])
    if values["mode"] and test is None:
        errors.add("mode")
    zone = common_zone(shops, chosen)
    bounds: dict[str, datetime | None] = {"from": None, "to": None}
    for name in bounds:
        if values[name]:
            try:
                bounds[name] = _day(values[name], zone)
            except ValueError:
                errors.add(name)
    amounts: dict[str, Decimal | None] = {"min": None, "max": None}
    for name in amounts:
        if values[name]:
            try:
                amounts[name] = parse_amount(values[name])
            except AmountInvalid:
                errors.add(name)
    end = bounds["to"]
    found = PaymentFilter(
        shop_id=chosen.id if chosen else None,
        status=status,
        provider=provider,
        test=test,
        created_gte=bounds["from"],
        created_lt=end + timedelta(days=1) if end else None,
        amount_min=amounts["min"],
        amount_max=amounts["max"],
        text=values["q"] or None,
    )
    return FilterForm(values=values, filter=found, timezone=zone, errors=frozenset(errors))
