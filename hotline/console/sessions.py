"""Console sessions held on the server: each sign-in is a row, and the signed cookie only names it.

Whatever the cookie says (its expiry, its age), a session ends IDLE_SECONDS after its last use
and ABSOLUTE_SECONDS after its sign-in, and at once when the server ends it: signing out ends
that session; "sign out everywhere" and disabling the account end all of the user's; a password
change ends them all and gives the browser it was made in a new one (`rotate`), so that browser
goes on while every copy of its old cookie stops. A copy of a cookie dies with its session.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from hotline.models import ConsoleSession

IDLE_SECONDS = 30 * 60
"""A session unused this long is over."""

ABSOLUTE_SECONDS = 8 * 3600
"""A session this old (from its sign-in) is over, however busy."""

SEEN_STEP = 60
"""Seconds between writes of a session's last use (a request within them writes nothing)."""

KEY = "sid"
"""Where the Flask session keeps the id of its server-held session."""


def _aware(moment: datetime) -> datetime:
    """Naive database times are UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def start(db: Session, user_id: int, now: datetime, started_at: datetime | None = None) -> str:
    """A new session for a user who just signed in (at `started_at`, default now); its id. Sessions
    past any limit are cleared away."""
    db.execute(delete(ConsoleSession).where(ConsoleSession.started_at < now - timedelta(seconds=ABSOLUTE_SECONDS))
               .execution_options(synchronize_session=False))  # rows in memory keep their naive SQLite times
    sid = secrets.token_urlsafe(32)
    db.add(ConsoleSession(id=sid, user_id=user_id, started_at=started_at or now, seen_at=now))
    return sid


def rotate(db: Session, sid: str | None, user_id: int, now: datetime) -> str:
    """End every session of the user and open a new one for this browser, as old as the one it
    replaces (its 8 hours still count from the sign-in); the new id."""
    old = db.get(ConsoleSession, sid) if sid else None
    end_all(db, user_id, now)
    return start(db, user_id, now, started_at=old.started_at if old is not None else None)


def still_open(row: ConsoleSession | None, now: datetime) -> bool:
    """True if the session is neither ended, idle nor too old; its use is noted (every SEEN_STEP)."""
    if row is None or row.ended_at is not None:
        return False
    seen, started = _aware(row.seen_at), _aware(row.started_at)
    if now - started > timedelta(seconds=ABSOLUTE_SECONDS) or now - seen > timedelta(seconds=IDLE_SECONDS):
        row.ended_at = now
        return False
    if now - seen > timedelta(seconds=SEEN_STEP):
        row.seen_at = now
    return True


def end(db: Session, sid: str | None, now: datetime) -> None:
    """End one session (signing out)."""
    if sid:
        db.execute(update(ConsoleSession).where(ConsoleSession.id == sid, ConsoleSession.ended_at.is_(None))
                   .values(ended_at=now))


def end_all(db: Session, user_id: int, now: datetime) -> None:
    """End every open session of a user."""
    db.execute(update(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
               .values(ended_at=now))
