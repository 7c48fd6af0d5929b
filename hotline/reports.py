"""Storing reports and what happens to them: one module that writes reports and their timeline."""
from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hotline import reportnumber
from hotline.engine import Draft
from hotline.models import Report, ReportEvent, Reporter, utcnow
from hotline.vault import Vault

NUMBER_TRIES = 20
"""Fresh random numbers tried before giving up (collisions are rare)."""


_INSERT_REPORT = {name: dialect.insert(Report).on_conflict_do_nothing(index_elements=["number"]).returning(Report.id)
                  for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}
_INSERT_EVENT = sql_insert(ReportEvent)
"""Built once: the webhook stores a report with these (both dialects have ON CONFLICT DO NOTHING)."""


def create(conn: Connection, vault: Vault, draft: Draft, sender: str | None, provider: str) -> tuple[int, str]:
    """Store a new report (unrouted) with a unique number, inside the caller's transaction: (id, number).

    One statement per try: the insert skips a number already taken (by anyone, at any moment)
    and a fresh random number is tried instead."""
    values = new_values(vault, draft, sender, provider)
    for _ in range(NUMBER_TRIES):
        number = reportnumber.generate()
        report_id = insert(conn, number, values)
        if report_id is not None:
            return report_id, number
    raise RuntimeError("could not find a free report number")


def new_values(vault: Vault, draft: Draft, sender: str | None, provider: str) -> dict:
    """The columns of a new report (all but its number), the reporter's number encrypted."""
    return dict(type=draft.type, status="new", area_code=draft.area_code, answers=dict(draft.answers),
                language=draft.language, channel=draft.channel, provider=provider, consent=draft.consent,
                reporter_phone=vault.encrypt(sender) if sender else None,
                reporter_hash=vault.lookup_hash(sender) if sender else None, routing="pending")


def insert(conn: Connection, number: str, values: dict) -> int | None:
    """Insert a report under `number` with its 'created' event: its id, or None if the number is taken."""
    report_id = conn.execute(_INSERT_REPORT[conn.dialect.name], dict(values, number=number)).scalar()
    if report_id is not None:
        conn.execute(_INSERT_EVENT, {"report_id": report_id, "kind": "created", "actor": "line",
                                     "data": {"channel": values["channel"], "type": values["type"]}})
    return report_id


def add_event(session: Session, report: Report, kind: str, actor: str = "line", data: dict | None = None) -> ReportEvent:
    """Append one entry to a report's timeline."""
    event = ReportEvent(report_id=report.id, kind=kind, actor=actor, data=data or {})
    session.add(event)
    return event


def by_number(session: Session, number: str) -> Report | None:
    """The report with this number, if any."""
    return session.scalar(select(Report).where(Report.number == reportnumber.clean(number)))


def add_detail(session: Session, report: Report, text: str) -> None:
    """Further words from the reporter, kept in the answers and the timeline."""
    details = list(report.answers.get("details", []))
    details.append(text)
    report.answers = dict(report.answers, details=details)
    add_event(session, report, "detail_added", actor="reporter")


def reporter(session: Session, phone_hash: str) -> Reporter:
    """The row remembering a phone's language and STOP, created on first use."""
    row = session.get(Reporter, phone_hash)
    if row is None:
        row = Reporter(hash=phone_hash, opted_out=False)
        session.add(row)
    return row


def acknowledge(session: Session, report: Report, contact_id: str) -> ReportEvent | None:
    """A contact's OK: the status change's event the first time, None after."""
    if report.status != "new":
        return None
    return set_status(session, report, "acknowledged", actor=f"contact:{contact_id}")


def set_status(session: Session, report: Report, status: str, actor: str, note: str | None = None,
               agency: str | None = None) -> ReportEvent:
    """Move a report to a status, with its timeline entry (partners are told from its id); a note
    keeps the writer's agency (None: line staff), since only that agency and line staff read it."""
    previous, report.status, report.updated_at = report.status, status, utcnow()
    if status == "acknowledged" and report.acknowledged_at is None:
        report.acknowledged_at = report.updated_at
    report.closed_at = report.updated_at if status == "closed" else None
    event = add_event(session, report, "status_changed", actor=actor,
                      data={"from": previous, "to": status, **({"note": note, "agency": agency} if note else {})})
    session.flush()
    return event
