"""Figures for the console's dashboard and the reports CSV export: pure functions over a Session.

Every figure is limited to what the viewer may see (`scoping.agency_reports`). Weeks and
provinces are counted in Python over a few columns, so the same code runs on SQLite and
PostgreSQL. Timestamps read back without a timezone (SQLite) are UTC; weeks, days and the
export's times are those of the line's zone (`tz`, HOTLINE_TIMEZONE; UTC when none is given).

The export holds no personal data: no reporter number, no free words, no phone numbers.
Only the answers to choice and consent questions are written: their words in the reader's
language (`words`), and their option keys in a column of their own.
"""
from __future__ import annotations

import csv
import io
import re
import statistics
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone, tzinfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from hotline import localtime
from hotline.areas import Gazetteer
from hotline.models import STATUSES, Alert, OutboundMessage, Report
from hotline.scoping import agency_reports

UTC = timezone.utc

DELIVERY_STATUSES = ("pending", "queued", "sent", "delivered", "failed")
"""OutboundMessage statuses, in the order they are shown."""

UNKNOWN_AREA = {"code": None, "name_en": "Unknown place", "name_km": "មិនដឹងកន្លែង"}
"""The province bucket of reports without a usable area code (words of messages/*.yaml place_unknown)."""

EXPORT_ANSWERS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("job", None), ("destination", None), ("when", None), ("consent", None), ("last_contact", None),
    ("arranged_by", None),
)
"""Answers exported when no flows are given: the choice and consent questions of config/flows.yaml."""

FILTERS = ("type", "status", "since", "until")
"""What `csv_export` can filter on."""

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
"""The dates a filter may name: outside them a date is a typing slip (and 9999-12-31 has no next day)."""

_AREA_LEVELS = (("province", 2), ("district", 4), ("commune", 6), ("village", 8))
_KEY = re.compile(r"[a-z0-9_]{1,40}")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---- dashboard -------------------------------------------------------------------------

def dashboard(session: Session, agency_id: str | None, gazetteer: Gazetteer, weeks: int = 12,
              now: datetime | None = None, types: tuple[str, ...] = (), tz: tzinfo = UTC,
              dead: Mapping[str, set[int]] | None = None) -> dict:
    """The dashboard's figures over the reports created in the last `weeks` ISO weeks (this one included),
    weeks and days being those of the zone `tz`.

    {"period": {"weeks", "start", "end" (exclusive), "now"}: ISO 8601 in `tz`,
     "types": [type, ...]: recruiter, missing, urgent, unsorted, then any other found,
     "total": reports in the period,
     "weekly": [{"week": "2025-W07", "start": "2025-02-10", "total", "by_type": {type: n}}] oldest first,
     "provinces": [{"code": "14", "name_en", "name_km", "total", "by_type"}] by code; names None for a
                  code the gazetteer lacks; last, if any, the unknown place bucket with code None,
     "status": {"open", "closed", "by_status": {status: n}}: reports of the period,
     "open_now": every report not closed, whenever created,
     "timing": {"acknowledge" | "close": {"median_seconds": float | None, "count"}},
     "alerts": {"providers": {provider: D}, "overall": D}: alert SMS of the period's reports, where
               D = {"counts": {status: n}, "total", "success_ratio": delivered / (delivered + failed) | None},
     "delivery": every alert of the period's reports by every means: `delivery_figures`}
    `dead`: the ids of the rows whose delivery is a dead letter, by means (`deadletters.dead_rows`).
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    now = localtime.local(now, tz) if now is not None else datetime.now(tz)
    monday = now.date() - timedelta(days=now.isoweekday() - 1)
    first = monday - timedelta(weeks=weeks - 1)
    start, end = localtime.day_start(first, tz), localtime.day_start(monday + timedelta(weeks=1), tz)
    in_scope = (agency_reports(agency_id), Report.created_at >= start, Report.created_at < end)

    rows = session.execute(select(Report.type, Report.status, Report.area_code, Report.created_at,
                                  Report.acknowledged_at, Report.closed_at).where(*in_scope)).all()
    types = list(types) + sorted({r.type for r in rows} - set(types))  # the line's types first, in flows.yaml's order
    statuses = list(STATUSES) + sorted({r.status for r in rows} - set(STATUSES))

    week_starts = [first + timedelta(weeks=i) for i in range(weeks)]
    weekly = {d: dict.fromkeys(types, 0) for d in week_starts}
    provinces: dict[str | None, dict[str, int]] = {}
    by_status = dict.fromkeys(statuses, 0)
    to_ack: list[float] = []
    to_close: list[float] = []
    for r in rows:
        created = _utc(r.created_at)
        day = localtime.local_day(created, tz)
        week = weekly.get(day - timedelta(days=day.isoweekday() - 1))
        if week is not None:  # always, unless a timestamp was stored in another timezone
            week[r.type] += 1
        provinces.setdefault(_province_code(r.area_code), dict.fromkeys(types, 0))[r.type] += 1
        by_status[r.status] += 1
        if r.acknowledged_at is not None:
            to_ack.append(max((_utc(r.acknowledged_at) - created).total_seconds(), 0.0))
        if r.closed_at is not None:
            to_close.append(max((_utc(r.closed_at) - created).total_seconds(), 0.0))

    open_now = session.scalar(select(func.count()).select_from(Report)
                              .where(agency_reports(agency_id), Report.status != "closed"))
    alert_rows = session.execute(
        select(OutboundMessage.provider, OutboundMessage.status, func.count())
        .join(Report, Report.id == OutboundMessage.report_id)
        .where(OutboundMessage.purpose == "alert", *in_scope)
        .group_by(OutboundMessage.provider, OutboundMessage.status)).all()

    return {
        "period": {"weeks": weeks, "start": start.astimezone(tz).isoformat(), "end": end.astimezone(tz).isoformat(),
                   "now": now.isoformat()},
        "types": types,
        "total": len(rows),
        "weekly": [{"week": _iso_week(d), "start": d.isoformat(), "total": sum(weekly[d].values()),
                    "by_type": weekly[d]} for d in week_starts],
        "provinces": _provinces(provinces, gazetteer),
        "status": {"open": len(rows) - by_status.get("closed", 0), "closed": by_status.get("closed", 0),
                   "by_status": by_status},
        "open_now": open_now or 0,
        "timing": {"acknowledge": _median(to_ack), "close": _median(to_close)},
        "alerts": _alerts(alert_rows),
        "delivery": delivery_figures(session, in_scope, dead or {}),
    }


def _utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (naive means UTC)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _iso_week(monday: date) -> str:
    """'2025-W07' for a week's Monday."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _province_code(area_code: str | None) -> str | None:
    """The province part of an area code, or None when there is no usable code."""
    code = (area_code or "").strip()
    return code[:2] if len(code) >= 2 and code[:2].isascii() and code[:2].isdigit() else None


def _provinces(counts: dict[str | None, dict[str, int]], gazetteer: Gazetteer) -> list[dict]:
    """Per-province counts by code, the unknown-place bucket last; names None for a code the gazetteer lacks."""
    out = []
    for code in sorted(c for c in counts if c is not None):
        area = gazetteer.get(code)
        out.append({"code": code, "name_en": area.name_en if area else None, "name_km": area.name_km if area else None,
                    "total": sum(counts[code].values()), "by_type": counts[code]})
    if None in counts:
        out.append(dict(UNKNOWN_AREA, total=sum(counts[None].values()), by_type=counts[None]))
    return out


def _median(seconds: list[float]) -> dict:
    """The median of some durations (None when there are none) and how many there were."""
    return {"median_seconds": float(statistics.median(seconds)) if seconds else None, "count": len(seconds)}


def _alerts(rows: Iterable) -> dict:
    """SMS alert delivery by provider and overall: counts by status and delivered / (delivered + failed)."""
    providers: dict[str, dict[str, int]] = {}
    for provider, status, count in rows:
        providers.setdefault(provider, dict.fromkeys(DELIVERY_STATUSES, 0))
        providers[provider][status] = providers[provider].get(status, 0) + count
    overall = dict.fromkeys(DELIVERY_STATUSES, 0)
    for counts in providers.values():
        for status, count in counts.items():
            overall[status] = overall.get(status, 0) + count
    return {"providers": {p: _delivery(providers[p]) for p in sorted(providers)}, "overall": _delivery(overall)}


DELIVERY_COLUMNS = ("delivered", "waiting", "retrying", "failed", "dead")
"""How the dashboard counts deliveries: delivered; waiting (not tried yet, or accepted by the provider
and not yet reported delivered); retrying (a try failed, another is due); failed for good (never to be
tried again: a bad number, a missing secret); dead (every retry failed: a dead letter, to requeue)."""


def delivery_figures(session: Session, in_scope, dead: Mapping[str, set[int]]) -> dict:
    """Every alert delivery of the reports `in_scope` by means and provider (SMS: the provider that
    sends it; webhook and email: the agency they go to), and all of them together:
    {"rows": [{"means", "provider", delivered, waiting, retrying, failed, dead, "total", "success_ratio"}],
     "overall": {the same counts}}. The success ratio is delivered over everything tried: a delivery
    retrying, failed or dead counts against it, whatever its means (a webhook failing is never 100 %)."""
    tried = and_(OutboundMessage.attempts > 0, OutboundMessage.error.is_not(None))
    sms = session.execute(
        select(OutboundMessage.provider, OutboundMessage.status, case((tried, True), else_=False),
               OutboundMessage.id).join(Report, Report.id == OutboundMessage.report_id)
        .where(OutboundMessage.purpose == "alert", *in_scope)).all()
    others = session.execute(
        select(Alert.means, Alert.contact_id, Alert.status, case((and_(Alert.attempts > 0, Alert.error.is_not(None)),
                                                                  True), else_=False), Alert.id)
        .join(Report, Report.id == Alert.report_id).where(Alert.means != "sms", *in_scope)).all()
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for means, provider, status, retried, row_id in [("sms", *r) for r in sms] + [tuple(r) for r in others]:
        counts = rows.setdefault((means, provider), dict.fromkeys(DELIVERY_COLUMNS, 0))
        counts[_column(status, retried, row_id in dead.get(means, ()))] += 1
    overall = dict.fromkeys(DELIVERY_COLUMNS, 0)
    for counts in rows.values():
        for column, n in counts.items():
            overall[column] += n
    return {"rows": [dict(_settled(rows[key]), means=key[0], provider=key[1]) for key in sorted(rows)],
            "overall": _settled(overall)}


def _column(status: str, retried: bool, dead: bool) -> str:
    """The dashboard column of one delivery."""
    if status == "delivered":
        return "delivered"
    if status == "failed":
        return "dead" if dead else "failed"
    return "retrying" if retried else "waiting"


def _settled(counts: dict[str, int]) -> dict:
    """Counts with their total and success ratio (None while nothing was tried)."""
    tried = counts["delivered"] + counts["retrying"] + counts["failed"] + counts["dead"]
    return dict(counts, total=sum(counts.values()), success_ratio=counts["delivered"] / tried if tried else None)


def _delivery(counts: dict[str, int]) -> dict:
    """Counts, their total and the success ratio (None while nothing is delivered or failed)."""
    settled = counts.get("delivered", 0) + counts.get("failed", 0)
    return {"counts": counts, "total": sum(counts.values()),
            "success_ratio": counts.get("delivered", 0) / settled if settled else None}


# ---- CSV export ------------------------------------------------------------------------

BOM = "\ufeff"
"""What a CSV file starts with so that spreadsheets (Excel above all) read it as UTF-8, Khmer included."""


class CodeWords:
    """The words of the export when no reader's language is given: the codes themselves. The console
    gives its own (`console.labels.Words`), with the same methods, in the reader's language."""

    lang = "en"
    """The language of place names."""

    def heading(self, column: str) -> str:
        """A column's heading."""
        return column

    def type(self, code: str) -> str:
        """A report type."""
        return code

    def status(self, code: str) -> str:
        """A report status."""
        return code

    def language(self, code: str) -> str:
        """A reporter's language."""
        return code

    def answer(self, question: str, value: object) -> str:
        """An answer to a choice question (its option key) or a consent question (True or False)."""
        return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def csv_export(session: Session, agency_id: str | None, gazetteer: Gazetteer, filters: Mapping,
               flows: Mapping | None = None, tz: tzinfo = UTC, words=None) -> Iterator[str]:
    """CSV lines (header first) of the visible reports, oldest first, without personal data.

    Every coded value is written twice: in words (`words`, default CodeWords) and, in the column
    after it named `<column>_code`, as its code, which stays the same in every language. Times are
    ISO 8601 in the zone `tz`, with the offset.

    filters: type and status (a value or a list of values), since and until (dates, inclusive,
    local days of `tz`; a date, a datetime's date or 'YYYY-MM-DD'); empty values are ignored, other
    keys raise ValueError. flows (the engine's `config.flows`) names the choice and consent questions
    whose answers are exported; without it, those of the shipped flows (EXPORT_ANSWERS).
    """
    words = words or CodeWords()
    conditions = [agency_reports(agency_id), *_filter_conditions(filters, tz)]
    answer_columns = _answer_columns(flows)
    header = ["number", "type", "type_code", "status", "status_code", "created_at", "acknowledged_at", "closed_at"]
    for level, _ in _AREA_LEVELS:
        header += [level, f"{level}_code"]
    header += ["language", "language_code", "channel"]
    for name, _ in answer_columns:
        header += [name, f"{name}_code"]
    yield _line([words.heading(column) for column in header])

    query = (select(Report.number, Report.type, Report.status, Report.created_at, Report.acknowledged_at,
                    Report.closed_at, Report.area_code, Report.language, Report.channel, Report.answers)
             .where(*conditions).order_by(Report.created_at, Report.id)
             .execution_options(yield_per=500))
    for r in session.execute(query):
        row = [r.number, words.type(r.type), r.type, words.status(r.status), r.status,
               localtime.iso(r.created_at, tz), localtime.iso(r.acknowledged_at, tz), localtime.iso(r.closed_at, tz)]
        row += _area_cells(r.area_code, gazetteer, words.lang)
        row += [words.language(r.language), r.language, r.channel]
        answers = r.answers if isinstance(r.answers, dict) else {}
        for name, options in answer_columns:
            value = _answer_value(answers.get(name), options)
            row += ["" if value is None else words.answer(name, value), _answer_code(value)]
        yield _line(row)


def _filter_conditions(filters: Mapping, tz: tzinfo = UTC) -> list:
    """SQL conditions for the export filters (days are local days of `tz`)."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"unknown filter(s): {', '.join(sorted(map(str, unknown)))}")
    conditions = []
    for key, column in (("type", Report.type), ("status", Report.status)):
        values = filters.get(key)
        if values in (None, "", [], ()):
            continue
        values = [values] if isinstance(values, str) else [str(v) for v in values]
        conditions.append(column.in_(values))
    since, until = parse_day(filters.get("since"), "since", tz), parse_day(filters.get("until"), "until", tz)
    if since is not None:
        conditions.append(Report.created_at >= localtime.day_start(since, tz))
    if until is not None:
        conditions.append(Report.created_at < localtime.day_end(until, tz))
    return conditions


def parse_day(value: object, name: str, tz: tzinfo = UTC) -> date | None:
    """A filter's date: a date, a datetime (its date in `tz`), 'YYYY-MM-DD', or None when empty.
    Raises ValueError naming the filter for anything else, and for a day outside FIRST_DAY..LAST_DAY."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        day = localtime.local_day(value, tz)
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"{name} must be a date (YYYY-MM-DD), not {value!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{name} must be a date from {FIRST_DAY} to {LAST_DAY}, not {value!r}")
    return day


def _answer_columns(flows: Mapping | None) -> list[tuple[str, tuple[str, ...] | None]]:
    """The exported answers, each with its allowed option keys (None: consent, or options unknown)."""
    if flows is None:
        return list(EXPORT_ANSWERS)
    columns: dict[str, set[str] | None] = {}
    for flow in flows.values():
        for q in flow.questions:
            if q.kind == "choice":
                columns[q.id] = (columns.get(q.id) or set()) | set(q.options)
            elif q.kind == "consent":
                columns.setdefault(q.id, None)
    return [(name, tuple(sorted(opts)) if opts is not None else None) for name, opts in columns.items()]


def _answer_value(value: object, options: tuple[str, ...] | None) -> str | bool | None:
    """A choice answer's option key, or consent's True / False; anything else (words, numbers) is None."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    if options is not None:
        return value if value in options else None
    return value if _KEY.fullmatch(value) else None


def _answer_code(value: str | bool | None) -> str:
    """The code column of an answer: the option key, yes / no, or empty."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value or ""


def _area_cells(area_code: str | None, gazetteer: Gazetteer, lang: str = "en") -> list[str]:
    """Name (in `lang`) and code of the province, district, commune and village of an area code."""
    code = (area_code or "").strip()
    if not (code.isascii() and code.isdigit()):
        code = ""
    cells: list[str] = []
    for _, digits in _AREA_LEVELS:
        part = code[:digits] if len(code) >= digits else ""
        area = gazetteer.get(part) if part else None
        cells += [area.name(lang) if area else "", part]
    return cells


def _safe(cell: object) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _line(cells: Iterable[object]) -> str:
    """One CSV line (with its line end) of guarded cells."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_safe(c) for c in cells])
    return buffer.getvalue()
