"""Console accounts for the whole life of a staff member: create, disable, enable, reset the password,
change role, agency or language. The console's Users pages and `python -m hotline users` call
these, so both keep the same rules:

- every change is audited (`user.create`, `user.disable`, `user.enable`, `user.reset`, `user.update`);
- disabling ends every session of the account at once, and so does a reset (the account then needs
  its new one-time password); enabling restores the account as it was, password unchanged;
- the last active line-staff admin can be neither disabled nor demoted (another role, or an agency),
  or nobody could manage the line's accounts any more;
- a change of role, agency or language applies to the account's open sessions from their next
  request (`auth._load` reads the account afresh on each one).
"""
from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.console import passwords, sessions
from hotline.models import User, utcnow
from hotline.scoping import ROLES

LANGUAGES = ("en", "km")
"""The console's languages."""

ONE_TIME_BYTES = 12
"""Randomness of a one-time password (16 URL-safe characters)."""


class AccountError(ValueError):
    """A change to an account that the rules refuse; the message says why, and `code` what rule
    (the console says it in the reader's language)."""

    def __init__(self, message: str, code: str = "invalid", username: str | None = None):
        super().__init__(message)
        self.code, self.username = code, username


def create_user(s, username: str, role: str, agency_id: str | None = None, language: str = "en",
                actor: str = "system") -> str:
    """Create an account with a one-time password (returned once, never stored in the clear)."""
    _check_role(role)
    _check_agency(s, agency_id)
    _check_language(language)
    one_time = secrets.token_urlsafe(ONE_TIME_BYTES)
    with s.Session.begin() as db:
        if db.scalar(select(User.id).where(User.username == username)) is not None:
            raise AccountError(f"user {username!r} exists", "exists", username)
        db.add(User(username=username, password_hash=passwords.make(one_time), role=role,
                    agency_id=agency_id, language=language, active=True, must_change_password=True))
        audit.record(db, actor, "user.create", username, details={"role": role, "agency": agency_id})
    return one_time


def set_active(s, username: str, active: bool, actor: str = "system") -> None:
    """Disable an account (every session of it ends at once) or enable it again as it was."""
    with s.Session.begin() as db:
        user = _user(db, username)
        if not active:
            _keep_an_admin(db, user, role=user.role, agency_id=user.agency_id, active=False)
            sessions.end_all(db, user.id, utcnow())
        user.active = active
        audit.record(db, actor, "user.enable" if active else "user.disable", username)


def reset_password(s, username: str, actor: str = "system") -> str:
    """A new one-time password for an account (returned once); every session of it ends. Whether the
    account is enabled does not change."""
    one_time = secrets.token_urlsafe(ONE_TIME_BYTES)
    with s.Session.begin() as db:
        user = _user(db, username)
        user.password_hash = passwords.make(one_time)
        user.must_change_password = True
        sessions.end_all(db, user.id, utcnow())
        audit.record(db, actor, "user.reset", username)
    return one_time


KEEP = object()
"""`update_user`'s default: leave this field as it is (an agency of None means line staff)."""


def update_user(s, username: str, actor: str = "system", role: str | None = None, agency_id=KEEP,
                language: str | None = None) -> dict:
    """Change an account's role, agency (None: line staff) or language; the changes made,
    {field: [before, after]} (empty when nothing changed). Open sessions follow from their next request."""
    if role is not None:
        _check_role(role)
    if agency_id is not KEEP:
        _check_agency(s, agency_id)
    if language is not None:
        _check_language(language)
    with s.Session.begin() as db:
        user = _user(db, username)
        after = {"role": user.role if role is None else role,
                 "agency": user.agency_id if agency_id is KEEP else agency_id,
                 "language": user.language if language is None else language}
        before = {"role": user.role, "agency": user.agency_id, "language": user.language}
        changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        if not changes:
            return {}
        if user.active:
            _keep_an_admin(db, user, role=after["role"], agency_id=after["agency"], active=True)
        user.role, user.agency_id, user.language = after["role"], after["agency"], after["language"]
        audit.record(db, actor, "user.update", username, details=changes)
    return changes


def find(s, username: str) -> User | None:
    """The account of this name, detached (None if there is none)."""
    with s.Session() as db:
        return db.scalar(select(User).where(User.username == username))


def listed(s, agency_id: str | None = None, everyone: bool = True) -> list[User]:
    """Accounts by name: everyone's (`everyone`), else those of one agency (None: line staff)."""
    query = select(User).order_by(User.username)
    if not everyone:
        query = query.where(User.agency_id.is_(None) if agency_id is None else User.agency_id == agency_id)
    with s.Session() as db:
        return list(db.scalars(query))


def _user(db: Session, username: str) -> User:
    """The account of this name, or AccountError."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no user {username!r}", "unknown", username)
    return user


def _keep_an_admin(db: Session, user: User, role: str, agency_id: str | None, active: bool) -> None:
    """Refuse a change that would leave the line with no active line-staff admin."""
    was = user.active and user.role == "admin" and user.agency_id is None
    stays = active and role == "admin" and agency_id is None
    if not was or stays:
        return
    # The other line-staff admins' rows are locked (PostgreSQL), so two admins disabling each other at
    # the same moment cannot both succeed.
    others = db.scalars(select(User.id).where(User.active.is_(True), User.role == "admin", User.agency_id.is_(None),
                                              User.id != user.id).with_for_update()).all()
    if not others:
        raise AccountError(f"{user.username} is the last active line-staff admin: make another one first",
                           "last_admin", user.username)


def _check_role(role: str) -> None:
    """Refuse an unknown role."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")


def _check_agency(s, agency_id: str | None) -> None:
    """Refuse an agency the directory does not name (None, line staff, is always fine)."""
    if agency_id is not None:
        contact = s.directory.contact(agency_id)
        if contact is None or contact.kind != "agency":
            raise AccountError(f"{agency_id!r} is no agency of the directory")


def _check_language(language: str) -> None:
    """Refuse a language the console does not speak."""
    if language not in LANGUAGES:
        raise AccountError(f"language must be one of {', '.join(LANGUAGES)}")
