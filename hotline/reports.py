"""Storing reports and what happens to them: one module that writes reports and their timeline."""
from __future__ import annotations

from sqlalchemy import Connection, select, update
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hotline import phones, reportnumber
from hotline.engine import Draft
from hotline.models import Report, ReportEvent, Reporter, utcnow
from hotline.vault import Vault

NUMBER_TRIES = 20
"""Fresh random numbers tried before giving up (collisions are rare)."""


_INSERT_REPORT = {name: dialect.insert(Report).on_conflict_do_nothing(index_elements=["number"]).returning(Report.id)
                  for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}
_INSERT_EVENT = sql_insert(ReportEvent)
"""Built once: the webhook stores a report with these (both dialects have ON CONFLICT DO NOTHING)."""


def create(conn: Connection, vault: Vault, draft: Draft, sender: str | None, provider: str,
           country: str = "KH") -> tuple[int, str]:
    """Store a new report (unrouted) with a unique number, inside the caller's transaction: (id, number).

    One statement per try: the insert skips a number already taken (by anyone, at any moment)
    and a fresh random number is tried instead."""
    values = new_values(vault, draft, sender, provider, country)
    for _ in range(NUMBER_TRIES):
        number = reportnumber.generate()
        report_id = insert(conn, number, values)
        if report_id is not None:
            return report_id, number
    raise RuntimeError("could not find a free report number")


def answer_values(draft: Draft, sender: str | None, country: str) -> dict:
    """The columns a reporter's answers fill: place, answers and consent, with every written form of
    the reporter's own number masked (docs/safety.md rule 8; the vault keeps the number itself)."""
    answers = phones.mask(dict(draft.answers), sender, country)
    return dict(area_code=draft.area_code, answers=answers, consent=draft.consent)


def new_values(vault: Vault, draft: Draft, sender: str | None, provider: str, country: str = "KH",
               session_ref: str | None = None, line_number: str | None = None) -> dict:
    """The columns of a new report (all but its number), the reporter's number encrypted; `line_number`
    is the line's number or short code they wrote to (replies leave from it)."""
    return dict(type=draft.type, status="new", **answer_values(draft, sender, country), language=draft.language,
                channel=draft.channel, provider=provider, line_number=line_number,
                reporter_phone=vault.encrypt(sender) if sender else None,
                reporter_hash=vault.lookup_hash(sender) if sender else None, routing="pending",
                session_ref=session_ref)


def update_answers(session: Session, report: Report, values: dict) -> bool:
    """New answers from the reporter for a report stored before its questions were answered (with
    answer_values' masking done). True when its place changed, so it must be routed again."""
    moved = values["area_code"] != report.area_code
    changed = [k for k in ("area_code", "answers", "consent") if values[k] != getattr(report, k)]
    if not changed:
        return False
    report.area_code, report.answers, report.consent = values["area_code"], values["answers"], values["consent"]
    report.updated_at = utcnow()
    if moved:
        report.routing = "pending"  # the sweep routes it if its job is lost
    add_event(session, report, "answered", actor="reporter",
              data={"fields": sorted("area" if k == "area_code" else k for k in changed)})
    return moved


def insert(conn: Connection, number: str, values: dict) -> int | None:
    """Insert a report under `number` with its 'created' event: its id, or None if the number is taken."""
    report_id = conn.execute(_INSERT_REPORT[conn.dialect.name], dict(values, number=number)).scalar()
    if report_id is not None:
        conn.execute(_INSERT_EVENT, {"report_id": report_id, "kind": "created", "actor": "line",
                                     "data": {"channel": values["channel"], "type": values["type"]}})
    return report_id


def lock(session: Session, report_id: int) -> bool:
    """Take the report for this transaction before reading it (False: no such report). Jobs that
    decide who to tell (routing, escalation) then run one after another for one report, each seeing
    what the one before committed: two routing jobs of one report running at once on two workers
    could both find it never routed, and tell its contacts twice ("new", then "located"). A write
    that changes nothing: PostgreSQL locks the row, SQLite takes its one write lock."""
    result = session.execute(update(Report).where(Report.id == report_id).values(routing=Report.routing)
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1


def add_event(session: Session, report: Report, kind: str, actor: str = "line", data: dict | None = None) -> ReportEvent:
    """Append one entry to a report's timeline."""
    event = ReportEvent(report_id=report.id, kind=kind, actor=actor, data=data or {})
    session.add(event)
    return event


def by_number(session: Session, number: str) -> Report | None:
    """The report with this number, if any."""
    return session.scalar(select(Report).where(Report.number == reportnumber.clean(number)))


def add_detail(session: Session, report: Report, text: str, sender: str | None = None, country: str = "KH") -> None:
    """Further words from the reporter (their own number masked), kept in the answers and the timeline."""
    text = phones.mask(text, sender, country)
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


MASK_BATCH = 500
"""Reports `mask_stored` reads at a time."""


def shown_answers(vault: Vault, report: Report, country: str) -> dict:
    """A report's answers as anyone may see them: the reporter's own number masked, however they
    wrote it, even in a report stored before the line masked numbers in storage."""
    own = vault.decrypt(report.reporter_phone) if report.reporter_phone is not None else None
    return phones.mask(dict(report.answers or {}), own, country)


def mask_stored(session_factory, vault: Vault, country: str) -> int:
    """Mask the reporter's own number in the stored words of every report that still has one (for
    reports stored before masking in storage; run once after upgrading): how many were changed."""
    changed, after = 0, 0
    while True:
        with session_factory.begin() as session:
            batch = session.scalars(select(Report).where(Report.id > after, Report.reporter_phone.is_not(None))
                                    .order_by(Report.id).limit(MASK_BATCH)).all()
            if not batch:
                return changed
            for report in batch:
                masked = shown_answers(vault, report, country)
                if masked != report.answers:
                    report.answers = masked
                    changed += 1
            after = batch[-1].id
