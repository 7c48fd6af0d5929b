"""Who may see and do what: one place for the console and the partner API.

Line staff (no agency) see every report; an agency's people, and its API token, see only
the reports routed to that agency. Anything else does not exist for them (404).
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, select, true

from hotline.models import Report, ReportContact

ROLES = ("admin", "caseworker", "viewer")
"""admin: everything, users and audit; caseworker: follow reports up; viewer: read only."""


def agency_reports(agency_id: str | None) -> ColumnElement[bool]:
    """A condition on Report: routed to this agency (None: line staff, every report)."""
    if agency_id is None:
        return true()
    return Report.id.in_(select(ReportContact.report_id).where(ReportContact.contact_id == agency_id))


def can_write(role: str) -> bool:
    """True for roles that may change reports."""
    return role in ("admin", "caseworker")


def can_reveal(role: str, user_id: int | None, report: Report) -> bool:
    """Only an admin, or the caseworker the report is assigned to, may reveal a reporter's number."""
    return role == "admin" or (role == "caseworker" and user_id is not None and report.assigned_to == user_id)
