"""`/v1/analytics`: revenue, counts, conversion and time to success over a period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kassa.domain import ParameterInvalid
from kassa.services import analytics
from kassa.services.analytics import Figures, Period, PeriodInvalid
from kassa.web.deps import CallerDep, ContextDep
from kassa.web.schemas import ERRORS
from kassa.web.timestamps import RANGE, Day

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

#: The period when none is asked for: the last 30 days, today included.
DEFAULT_DAYS = 30


class CurrencyFigures(BaseModel):
    currency: str
    revenue: int = Field(description="Captured minus refunded, in minor units")
    payments: int = Field(description="Succeeded payments in this currency")
    average_check: int = Field(description="revenue ÷ payments, rounded half up")


class FiguresOut(BaseModel):
    created: int
    succeeded: int
    failed: int
    conversion: Decimal | None = Field(
        description="succeeded ÷ created, to 4 places (a string); null without payments"
    )
    revenue: list[CurrencyFigures]


class GroupOut(FiguresOut):
    key: str = Field(description="The provider's name, or the day (YYYY-MM-DD)")


class AnalyticsOut(BaseModel):
    object: Literal["analytics"]
    test: bool = Field(description="True when the figures are of test payments (a test key)")
    from_: date = Field(alias="from")
    to: date
    timezone: str
    group_by: Literal["provider", "day"] | None
    total: FiguresOut
    median_seconds_to_success: int | None
    p95_seconds_to_success: int | None
    groups: list[GroupOut]


def _figures(figures: Figures) -> dict[str, object]:
    checks = figures.average_check
    return {
        "created": figures.created,
        "succeeded": figures.succeeded,
        "failed": figures.failed,
        "conversion": figures.conversion,
        "revenue": [
            {
                "currency": currency,
                "revenue": amount,
                "payments": figures.paid[currency],
                "average_check": checks[currency],
            }
            for currency, amount in sorted(figures.revenue.items())
        ],
    }


@router.get(
    "",
    summary="Payment figures over a period",
    response_model=AnalyticsOut,
    response_model_by_alias=True,
    responses=ERRORS,
)
async def get_analytics(
    ctx: ContextDep,
    caller: CallerDep,
    from_: Annotated[
        Day | None, Query(alias="from", description=f"First day (YYYY-MM-DD), included; {RANGE}")
    ] = None,
    to: Annotated[
        Day | None, Query(description=f"Last day (YYYY-MM-DD), included; {RANGE}")
    ] = None,
    group_by: Annotated[Literal["provider", "day"] | None, Query()] = None,
) -> dict[str, object]:
    """The key's shop and mode: revenue per currency, counts, conversion, average check and
    time to success of the payments created in the period (whole days in the shop's time
    zone; by default the last 30). A test key gets its test payments' figures, marked
    `"test": true`; test payments never count in a live key's figures."""
    zone = caller.own_shop.timezone
    last = to or ctx.clock().astimezone(ZoneInfo(zone)).date()
    first = from_ or Period.ending(last, DEFAULT_DAYS, zone).first
    try:
        period = Period(first, last, zone)
    except PeriodInvalid as exc:
        raise ParameterInvalid(str(exc), param="from") from None
    found = await analytics.report(ctx, caller, period, group_by=group_by)
    return {
        "object": "analytics",
        "test": caller.own_mode,
        "from": period.first,
        "to": period.last,
        "timezone": zone,
        "group_by": group_by,
        "total": _figures(found.total),
        "median_seconds_to_success": found.median_seconds,
        "p95_seconds_to_success": found.p95_seconds,
        "groups": [{"key": key, **_figures(one)} for key, one in found.groups.items()],
    }
