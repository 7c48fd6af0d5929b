"""Times as people read them: stored in UTC, shown in the line's zone (HOTLINE_TIMEZONE) with the
zone named (docs/contract.md section 7). Pure functions; the zone is a `tzinfo`.

On a page a time reads `2026-11-30 05:06 +07` (the zone's abbreviation, which for zones without
one, such as Asia/Phnom_Penh, is its UTC offset); in a CSV cell it is ISO 8601 with the offset,
`2026-11-30T05:06:19+07:00`. A day named in a filter is a local day: it starts at local midnight.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = timezone.utc

SHOWN = "%Y-%m-%d %H:%M"
"""How a time is written on a page, before its zone."""

NONE_SHOWN = "—"
"""What a page shows where there is no time."""


@lru_cache(maxsize=8)
def zone(name: str) -> tzinfo:
    """The zone of a name Settings validated (HOTLINE_TIMEZONE)."""
    return ZoneInfo(name)


def aware(moment: datetime) -> datetime:
    """`moment` with a zone: naive database times (SQLite) are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def local(moment: datetime, tz: tzinfo) -> datetime:
    """`moment` on the clocks of `tz`."""
    return aware(moment).astimezone(tz)


def shown(moment: datetime | None, tz: tzinfo) -> str:
    """A time as a page shows it: local, to the minute, followed by the zone (`2026-11-30 05:06 +07`)."""
    if moment is None:
        return NONE_SHOWN
    moment = local(moment, tz)
    return f"{moment.strftime(SHOWN)} {moment.tzname()}"


def iso(moment: datetime | None, tz: tzinfo) -> str:
    """A time as a CSV cell holds it: ISO 8601 local to the second, with its offset; '' for none."""
    return local(moment, tz).replace(microsecond=0).isoformat() if moment is not None else ""


def day_start(day: date, tz: tzinfo) -> datetime:
    """The instant (in UTC, as the database compares it) a local day begins."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def day_end(day: date, tz: tzinfo) -> datetime:
    """The instant (in UTC) a local day ends: the next one's start, exclusive."""
    return day_start(day + timedelta(days=1), tz)


def local_day(moment: datetime, tz: tzinfo) -> date:
    """The local date of a moment."""
    return local(moment, tz).date()
