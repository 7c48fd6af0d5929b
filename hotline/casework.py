"""Following a report up: status, notes, assignment and messages to the reporter.

The console and the partner API both call these; each writes the report's timeline and the
audit log in the caller's transaction and returns the work to enqueue after commit.
"""
from __future__ import annotations

import unicodedata

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hotline import audit, queues, reports
from hotline.outbound import outbox
from hotline.channels.base import clean_text
from hotline.models import STATUSES, Report, Reporter, ReportTag
from hotline.queues import Work
from hotline.scoping import visible_tags
from hotline.smsbudget import fits_sms

TRANSITIONS = {
    "new": {"acknowledged", "in_progress", "referred", "closed"},
    "acknowledged": {"in_progress", "referred", "closed"},
    "in_progress": {"referred", "closed"},
    "referred": {"in_progress", "closed"},
    "closed": {"in_progress"},
}
"""Allowed status changes (docs/contract.md section 4: a closed report may be reopened to in_progress)."""

NATURAL_NEXT = {"new": "acknowledged", "acknowledged": "in_progress", "in_progress": "referred",
                "referred": "closed", "closed": "in_progress"}
"""The move a report usually makes next, in the contract's order (a closed one is reopened)."""

MAX_TAG = 32
"""Longest tag kept (characters)."""

MAX_TAGS = 20
"""Most tags one team puts on one report."""

MAX_NOTE = 2000
"""Longest note kept."""


class CaseworkError(Exception):
    """A request that cannot be carried out; `status` is the HTTP answer and `field` what is wrong."""

    def __init__(self, message: str, status: int = 400, field: str | None = None):
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


def moves(status: str) -> list[str]:
    """The statuses a report may move to from `status`, the natural next one first, then in the contract's order."""
    allowed = TRANSITIONS.get(status, set())
    natural = [NATURAL_NEXT[status]] if NATURAL_NEXT.get(status) in allowed else []
    return natural + [s for s in STATUSES if s in allowed and s not in natural]


def change_status(session: Session, report: Report, status: str, actor: str, note: str | None = None) -> list[Work]:
    """Move a report to `status` (with an optional note); partners are told."""
    if status not in STATUSES:
        raise CaseworkError(f"status must be one of {', '.join(STATUSES)}", field="status")
    if status == report.status:
        raise CaseworkError(f"the report is already {status}", status=409, field="status")
    if status not in TRANSITIONS[report.status]:
        raise CaseworkError(f"a {report.status} report cannot become {status}", status=409, field="status")
    note = _clean_note(note)
    event = reports.set_status(session, report, status, actor=actor, note=note,
                               agency=audit.actor_agency(session, actor) if note else None)
    audit.record(session, actor, "report.status", report.number, details={"from": event.data["from"], "to": status})
    return [queues.REPORT_UPDATED.work(event.id)]


def add_note(session: Session, report: Report, note: str, actor: str) -> None:
    """A caseworker's note on the timeline, read only by the writer's agency and line staff
    (`scoping.shown_event_data`)."""
    text = _clean_note(note)
    if not text:
        raise CaseworkError("a note needs some text", field="note")
    agency = audit.actor_agency(session, actor)
    reports.add_event(session, report, "note", actor=actor, data={"note": text, "agency": agency})
    audit.record(session, actor, "report.note", report.number)


def assign(session: Session, report: Report, user_id: int | None, username: str | None, actor: str) -> None:
    """Assign the report to a caseworker (None: unassign)."""
    report.assigned_to = user_id
    reports.add_event(session, report, "assigned", actor=actor, data={"to": username})
    audit.record(session, actor, "report.assign", report.number, details={"to": username})


def contact_blocked(session: Session, report: Report) -> str | None:
    """Why the line may not message this reporter, or None if it may."""
    if report.reporter_phone is None:
        return "the reporter's number is not kept (anonymous, or erased after the retention period)"
    if not report.consent:
        return "the reporter did not agree to be contacted"
    opted_out = session.scalar(select(Reporter.opted_out).where(Reporter.hash == report.reporter_hash))
    if opted_out:
        return "the reporter sent STOP"
    return None


def message_reporter(session: Session, s, report: Report, text: str, actor: str) -> Work:
    """An SMS to the reporter through the line (never showing their number to anyone)."""
    text = " ".join(clean_text(text or "").split())
    if not text:
        raise CaseworkError("a message needs some text", field="text")
    if not fits_sms(text):
        raise CaseworkError("the message is longer than 3 SMS parts", field="text")
    blocked = contact_blocked(session, report)
    if blocked:
        raise CaseworkError(f"cannot message the reporter: {blocked}", status=409, field="text")
    count = len([e for e in report.events if e.kind == "message_sent"])
    phone = s.vault.decrypt(report.reporter_phone)
    message = outbox.new_sms(session, s, f"relay:{report.id}:{count + 1}", phone, text, purpose="relay",
                             urgent=s.directory.types.is_urgent(report.type), report_id=report.id,
                             via=report.provider, sender=report.line_number)
    reports.add_event(session, report, "message_sent", actor=actor, data={"text": text, "message_id": message.id})
    audit.record(session, actor, "report.message", report.number)
    return queues.SEND_SMS.work(message.id)


def _clean_note(note: str | None) -> str | None:
    """A note trimmed to something storable, or None."""
    note = clean_text(note or "").strip()
    return note[:MAX_NOTE] or None


def clean_tag(raw: str | None) -> str | None:
    """A tag as kept: lower case, words joined by '-', letters (any script, with their marks), digits,
    '-' and '_' only, at most MAX_TAG characters; None if nothing usable is left."""
    tag = "-".join(clean_text(raw or "").casefold().split())
    ok = all(c.isalnum() or c in "-_" or unicodedata.category(c).startswith("M") for c in tag)
    return tag if tag and ok and len(tag) <= MAX_TAG else None


def add_tag(session: Session, report: Report, raw: str, actor: str) -> None:
    """Put a tag on a report for the actor's team (line staff, or the actor's agency)."""
    tag = clean_tag(raw)
    if tag is None:
        raise CaseworkError(f"a tag is one to {MAX_TAG} letters, digits, '-' or '_'", field="tag")
    agency = audit.actor_agency(session, actor)
    team = ReportTag.agency_id.is_(None) if agency is None else ReportTag.agency_id == agency
    tags = set(session.scalars(select(ReportTag.tag).where(ReportTag.report_id == report.id, team)))
    if tag in tags:
        return
    if len(tags) >= MAX_TAGS:
        raise CaseworkError(f"a report has at most {MAX_TAGS} tags of one team", field="tag")
    session.add(ReportTag(report_id=report.id, tag=tag, agency_id=agency, actor=actor))
    audit.record(session, actor, "report.tag", report.number, details={"tag": tag})


def remove_tag(session: Session, report: Report, tag: str, actor: str) -> None:
    """Take one of the actor's team's tags off a report."""
    agency = audit.actor_agency(session, actor)
    team = ReportTag.agency_id.is_(None) if agency is None else ReportTag.agency_id == agency
    gone = session.execute(delete(ReportTag).where(ReportTag.report_id == report.id, ReportTag.tag == tag, team))
    if gone.rowcount:
        audit.record(session, actor, "report.untag", report.number, details={"tag": tag})


def tags_of(session: Session, report_ids: list[int], viewer_agency: str | None) -> dict[int, list[str]]:
    """The tags a viewer reads on each of some reports (`scoping.visible_tags`), sorted."""
    found: dict[int, list[str]] = {}
    rows = session.execute(select(ReportTag.report_id, ReportTag.tag).distinct()
                           .where(ReportTag.report_id.in_(report_ids), visible_tags(viewer_agency))
                           .order_by(ReportTag.report_id, ReportTag.tag)) if report_ids else []
    for report_id, tag in rows:
        found.setdefault(report_id, []).append(tag)
    return found
