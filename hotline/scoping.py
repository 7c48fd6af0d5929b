"""Who may see and do what: one place for the console and the partner API.

Line staff (no agency) see every report; an agency's people, and its API token, see only
the reports routed to that agency. Anything else does not exist for them (404). An agency's
admin manages its own agency's accounts only; only line staff's admins make line staff. A note
is read by the writer's agency and by line staff; line staff's own notes by line staff only.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select, true

from hotline.models import Report, ReportContact, ReportTag

ROLES = ("admin", "caseworker", "viewer")
"""admin: everything, users and audit; caseworker: follow reports up; viewer: read only."""


def agency_reports(agency_id: str | None) -> ColumnElement[bool]:
    """A condition on Report: routed to this agency (None: line staff, every report)."""
    if agency_id is None:
        return true()
    return Report.id.in_(select(ReportContact.report_id).where(ReportContact.contact_id == agency_id))


def routed_to(agency_id: str) -> ColumnElement[bool]:
    """`agency_reports` for one agency, as a correlated EXISTS: one index look-up per report read, for
    queries that read few reports of an agency that may hold very many (linking, clusters)."""
    return exists().where(ReportContact.report_id == Report.id, ReportContact.contact_id == agency_id)


def can_write(role: str) -> bool:
    """True for roles that may change reports."""
    return role in ("admin", "caseworker")


def can_manage_users(role: str, agency_id: str | None, account_agency: str | None) -> bool:
    """True if a user may create (or change) an account of `account_agency` (None: line staff).
    Line staff's admins manage every account; an agency's admin, its own agency's only."""
    if role != "admin":
        return False
    return agency_id is None or account_agency == agency_id


NOTE_KINDS = ("note", "status_changed")
"""Timeline entries that may carry a note, with the writer's agency in `data["agency"]`."""


def shown_event_data(kind: str, data: dict, viewer_agency: str | None) -> dict | None:
    """What of a timeline entry's data a viewer may read: a note only if the viewer is line staff
    or of the writer's agency (None: the entry is a note the viewer may not read at all).
    A note that names no agency is line staff's."""
    data = dict(data or {})
    if kind not in NOTE_KINDS or "note" not in data:
        return data
    if viewer_agency is None or data.get("agency") == viewer_agency:
        return data
    if kind == "note":
        return None
    data.pop("note")  # the status change is the report's; the words with it are the writer's team's
    return data


def visible_tags(viewer_agency: str | None) -> ColumnElement[bool]:
    """A condition on ReportTag: the tags a viewer reads, as notes (line staff: all; an agency: its own)."""
    return true() if viewer_agency is None else ReportTag.agency_id == viewer_agency


def can_reveal(role: str, user_id: int | None, report: Report) -> bool:
    """Only an admin, or the caseworker the report is assigned to, may reveal a reporter's number (and
    only on a report they may see: `agency_reports`)."""
    return role == "admin" or (role == "caseworker" and user_id is not None and report.assigned_to == user_id)


def reveal_needs_emergency(report: Report) -> bool:
    """True when the reporter did not agree to be contacted (said no, or was never asked): their
    number is revealed only as an emergency override (docs/safety.md rule 1)."""
    return report.consent is not True
