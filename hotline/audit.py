"""The audit log: every write and every reveal of personal data, append-only and hash-chained.

Each entry's hash covers its own fields and the previous entry's hash, and `prev_hash` is
unique, so an edited, deleted or inserted entry breaks the chain where it happened.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.models import AuditEntry, utcnow

GENESIS = "0" * 64
"""The previous hash of the first entry."""


def _stamp(at: datetime) -> str:
    """A timestamp as hashed: UTC, microseconds, no zone (databases differ in how they return zones)."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, target: str | None, reason: str | None,
               details: dict) -> str:
    """The hash of one entry's content chained to the previous one."""
    body = json.dumps([prev_hash, _stamp(at), actor, action, target, reason, details], sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, actor: str, action: str, target: str | None = None, reason: str | None = None,
           details: dict | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction (retried if another process appended first)."""
    details = details or {}
    for _ in range(20):
        last = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
        prev = last or GENESIS
        at = utcnow()
        entry = AuditEntry(at=at, actor=actor, action=action, target=target, reason=reason, details=details,
                           prev_hash=prev, hash=entry_hash(prev, at, actor, action, target, reason, details))
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
                              entry.details or {})
        if entry.hash != expected:
            return Verification(False, count, entry.id, "its content was changed after it was written")
        prev = entry.hash
    return Verification(True, count)
