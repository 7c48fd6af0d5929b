"""The audit log: every write and every reveal of personal data, append-only and hash-chained.

Each entry's hash covers its own fields and the previous entry's hash, and `prev_hash` is
unique, so an edited, deleted or inserted entry breaks the chain where it happened.

Each entry also records the actor's agency (`agency_id`), so an agency's admin reads only its
own agency's part of the log (`agency_entries`). The hash covers it whenever it is set; entries
of line staff, of the line itself and those written before it existed hash exactly as before.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.models import AuditEntry, Report, User, utcnow
from hotline.scoping import agency_reports

GENESIS = "0" * 64
"""The previous hash of the first entry."""


def _stamp(at: datetime) -> str:
    """A timestamp as hashed: UTC, microseconds, no zone (databases differ in how they return zones)."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, target: str | None, reason: str | None,
               details: dict, agency_id: str | None = None) -> str:
    """The hash of one entry's content chained to the previous one (the agency only when there is one)."""
    fields = [prev_hash, _stamp(at), actor, action, target, reason, details]
    if agency_id is not None:
        fields.append(agency_id)
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def actor_agency(session: Session, actor: str) -> str | None:
    """The agency an actor acts for: `agency:<id>` (an API token), a console user's agency, else None."""
    kind, _, name = actor.partition(":")
    if kind == "agency":
        return name or None
    if kind == "user":
        return session.scalar(select(User.agency_id).where(User.username == name))
    return None


def record(session: Session, actor: str, action: str, target: str | None = None, reason: str | None = None,
           details: dict | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction (retried if another process appended first)."""
    details = details or {}
    agency_id = actor_agency(session, actor)
    for _ in range(20):
        last = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
        prev = last or GENESIS
        at = utcnow()
        entry = AuditEntry(at=at, actor=actor, action=action, target=target, reason=reason, details=details,
                           agency_id=agency_id,
                           prev_hash=prev, hash=entry_hash(prev, at, actor, action, target, reason, details, agency_id))
        try:
            with session.begin_nested():
                session.add(entry)
                session.flush()
            return entry
        except IntegrityError:
            continue  # another entry took this place in the chain: chain after it
    raise RuntimeError("could not append to the audit log")


@dataclass(frozen=True)
class Verification:
    """The result of walking the chain."""

    ok: bool
    entries: int
    broken_at: int | None = None
    problem: str | None = None


def verify(session: Session) -> Verification:
    """Walk the whole chain; report the first entry whose hash or link does not hold."""
    prev = GENESIS
    count = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(500):
        count += 1
        if entry.prev_hash != prev:
            return Verification(False, count, entry.id, "does not follow the entry before it (one was removed or inserted)")
        expected = entry_hash(entry.prev_hash, entry.at, entry.actor, entry.action, entry.target, entry.reason,
                              entry.details or {}, entry.agency_id)
        if entry.hash != expected:
            return Verification(False, count, entry.id, "its content was changed after it was written")
        prev = entry.hash
    return Verification(True, count)


def agency_entries(session: Session, agency_id: str) -> ColumnElement[bool]:
    """A condition on AuditEntry: what an agency's admin may read. Entries by its users or its API
    token, and entries about its users or about reports routed to it."""
    usernames = list(session.scalars(select(User.username).where(User.agency_id == agency_id)))
    actors = [f"user:{name}" for name in usernames] + [f"agency:{agency_id}"]
    numbers = select(Report.number).where(agency_reports(agency_id))
    return or_(
        AuditEntry.agency_id == agency_id,
        # Written before entries recorded the agency: known by the actor alone.
        and_(AuditEntry.agency_id.is_(None), AuditEntry.actor.in_(actors)),
        and_(AuditEntry.action.startswith("user.") | AuditEntry.action.startswith("auth."),
             AuditEntry.target.in_(usernames)),
        and_(AuditEntry.action.startswith("report."), AuditEntry.target.in_(numbers)),
    )
