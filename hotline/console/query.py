"""The console's query-string values: a value that is not what the page can use is a 400 that
names the parameter, never a failure further in (`int('²')`, a day after 9999-12-31, an offset
the database cannot hold)."""
from __future__ import annotations

from collections.abc import Collection
from datetime import date

from flask import abort, request
from flask_babel import gettext as _

from hotline import stats

MAX_PAGE = 100_000
"""The last page number a list accepts (far past any real list)."""


def page(name: str = "page") -> int:
    """The page number asked for (1 when none)."""
    raw = request.args.get(name, "").strip() or "1"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_PAGE))) or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, _("%(name)s must be a whole number from 1 to %(n)d.", name=name, n=MAX_PAGE))
    return int(raw)


def day(name: str) -> date | None:
    """The date a filter names (None when empty)."""
    try:
        return stats.parse_day(request.args.get(name, "").strip(), name)
    except ValueError:
        abort(400, _("%(name)s must be a date from %(first)s to %(last)s (YYYY-MM-DD).", name=name,
                     first=stats.FIRST_DAY.isoformat(), last=stats.LAST_DAY.isoformat()))


def one_of(name: str, allowed: Collection[str]) -> str | None:
    """One of the allowed values (None when empty)."""
    value = request.args.get(name, "").strip()
    if value and value not in allowed:
        abort(400, _("%(name)s must be one of: %(values)s.", name=name, values=", ".join(allowed)))
    return value or None
