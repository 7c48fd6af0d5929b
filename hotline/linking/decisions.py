"""What caseworkers decide about links: confirm or reject a suggestion, and merge two reports of one
event (or undo it). Each is audited, keeps both reports whole, and returns the work to enqueue after
commit. The console calls these for a report the user may see, with `visible` its scope."""
from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from hotline import audit, reports
from hotline.casework import CaseworkError
from hotline.linking import work as linking
from hotline.models import Report, ReportLink, utcnow
from hotline.queues import Work

DECISIONS = {"confirm": "confirmed", "reject": "rejected"}
"""What a caseworker may say of a suggestion, and the state it leaves."""


def decide(session: Session, report: Report, link_id: int, decision: str, actor: str,
           visible: ColumnElement[bool]) -> None:
    """Confirm or reject one pending suggestion between this report and another the actor may see."""
    if decision not in DECISIONS:
        raise CaseworkError("decide confirm or reject", field="decision")
    row = session.get(ReportLink, link_id)
    if row is None or report.id not in (row.report_id, row.other_id):
        raise CaseworkError("there is no such suggestion on this report", status=404)
    other = session.scalar(select(Report).where(Report.id == (row.other_id if row.report_id == report.id
                                                              else row.report_id), visible))
    if other is None:
        raise CaseworkError("there is no such suggestion on this report", status=404)
    if row.state != "suggested":
        raise CaseworkError("this suggestion was decided already", status=409)
    row.state, row.decided_by, row.decided_at = DECISIONS[decision], actor, utcnow()
    audit.record(session, actor, f"report.link_{decision}", report.number,
                 details={"other": other.number, "by": row.by, "score": row.score})


def merge(session: Session, duplicate: Report, into: Report, actor: str) -> list[Work]:
    """Record that `duplicate` reports the same event as `into`: both stay whole (answers, timeline,
    alerts), the duplicate points at the event's first report, and counts with it in clusters."""
    primary = session.get(Report, into.duplicate_of) if into.duplicate_of else into
    if duplicate.id == primary.id or duplicate.duplicate_of == primary.id:
        raise CaseworkError("these reports are already one event", status=409)
    moved = list(session.scalars(select(Report).where(Report.duplicate_of == duplicate.id)))
    duplicate.duplicate_of = primary.id
    for row in moved:  # the duplicate's own duplicates follow it: one event has one first report
        row.duplicate_of = primary.id
    for merged in (duplicate, *moved):
        reports.add_event(session, merged, "merged", actor=actor, data={"into": primary.number})
        reports.add_event(session, primary, "merged", actor=actor, data={"from": merged.number})
        audit.record(session, actor, "report.merge", merged.number, details={"into": primary.number})
    return []  # a cluster never grows by a merge: nothing to tell anyone


def unmerge(session: Session, report: Report, actor: str) -> list[Work]:
    """Undo a merge: the report is its own event again (and is linked again, as its clusters may grow)."""
    if report.duplicate_of is None:
        raise CaseworkError("this report was not merged into another", status=409)
    primary = session.get(Report, report.duplicate_of)
    report.duplicate_of = None
    reports.add_event(session, report, "unmerged", actor=actor, data={"from": primary.number})
    reports.add_event(session, primary, "unmerged", actor=actor, data={"from": report.number})
    audit.record(session, actor, "report.unmerge", report.number, details={"from": primary.number})
    linking.want_link(session, report)
    return [linking.link_job(report.id)]
