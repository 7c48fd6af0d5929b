"""The reports list's casework views, each with its count: every report, mine, unassigned, overdue
(unacknowledged past its type's acknowledgement window) and reached nobody (routed, but no leader or
agency covers its place and type, or every one that does is named in it). SQL conditions on Report,
so the same code runs on SQLite and PostgreSQL; times compared in UTC."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from hotline import localtime
from hotline.models import Report, ReportContact
from hotline.reporttypes import DEFAULT_ESCALATION_SECONDS

VIEWS = ("all", "mine", "unassigned", "overdue", "nobody")
"""The views of the reports list, in the order the page offers them."""


def overdue(escalation: dict[str, int], now: datetime) -> ColumnElement[bool]:
    """New (nobody acknowledged it) and older than its type's window (the directory's `escalation`)."""
    late = [and_(Report.type == type_, Report.created_at < now - timedelta(seconds=seconds))
            for type_, seconds in escalation.items()]
    late.append(and_(Report.type.not_in(list(escalation)),
                     Report.created_at < now - timedelta(seconds=DEFAULT_ESCALATION_SECONDS)))
    return and_(Report.status == "new", or_(*late))


def reached_nobody() -> ColumnElement[bool]:
    """Routed, and routed to nobody: no leader or agency was given the report."""
    return and_(Report.routing == "routed", ~exists().where(ReportContact.report_id == Report.id))


def condition(view: str, user_id: int, escalation: dict[str, int], now: datetime) -> ColumnElement[bool]:
    """The condition of one view for one user."""
    if view == "mine":
        return Report.assigned_to == user_id
    if view == "unassigned":
        return and_(Report.assigned_to.is_(None), Report.status != "closed")
    if view == "overdue":
        return overdue(escalation, now)
    if view == "nobody":
        return reached_nobody()
    return true() if view == "all" else false()


def counts(db: Session, scope: ColumnElement[bool], user_id: int, escalation: dict[str, int],
           now: datetime) -> dict[str, int]:
    """How many of the reports in `scope` each view holds: one query."""
    columns = [func.count(Report.id).filter(condition(view, user_id, escalation, now)).label(view) for view in VIEWS]
    row = db.execute(select(*columns).where(scope)).one()
    return {view: row._mapping[view] or 0 for view in VIEWS}


def is_overdue(report: Report, escalation: dict[str, int], now: datetime) -> bool:
    """The same rule as `overdue`, for one report in memory."""
    window = escalation.get(report.type, DEFAULT_ESCALATION_SECONDS)
    return report.status == "new" and localtime.aware(report.created_at) + timedelta(seconds=window) < now


def nobody_among(db: Session, reports: list[Report]) -> set[int]:
    """The ids of those of `reports` that were routed to nobody: one query."""
    routed = [r.id for r in reports if r.routing == "routed"]
    if not routed:
        return set()
    reached = set(db.scalars(select(ReportContact.report_id).where(ReportContact.report_id.in_(routed))))
    return set(routed) - reached
