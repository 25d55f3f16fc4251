"""The times and days a request may name: from 2000-01-01 up to 2100-01-01 (UTC).

Outside that range a date is a mistake, not a question: `?to=0` read as Unix time is
1970-01-01, and near the ends of Python's calendar (year 1, year 9999) moving a time between
zones, or a day on to the next, overflows. Kassa's payments all lie well inside it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
RANGE = f"from {EARLIEST.date()} up to {LATEST.date()}"

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def in_range(moment: datetime) -> datetime:
    """`moment` (UTC if it names no zone), if it lies in the range; else `ValueError`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"must be {RANGE}")
    return moment


def day_in_range(day: date) -> date:
    """`day`, if it lies in the range; else `ValueError`."""
    if not EARLIEST.date() <= day < LATEST.date():
        raise ValueError(f"must be {RANGE}")
    return day


def _iso_day(value: object) -> object:
    """A day is written YYYY-MM-DD: not a Unix time, which pydantic would also read."""
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("must be a day as YYYY-MM-DD")
    return value


#: A query parameter's time: ISO 8601 or Unix seconds, UTC if it names no zone, in range.
Timestamp = Annotated[datetime, AfterValidator(in_range)]
#: A query parameter's day: YYYY-MM-DD, in range.
Day = Annotated[date, BeforeValidator(_iso_day), AfterValidator(day_in_range)]
