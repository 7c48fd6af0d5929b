"""Identifiers stored per report, and a report's links as one reader may see them.

A number is stored encrypted and found by its keyed hash (`Vault.identifier_hash`), as reporters'
numbers are; names and descriptions in key form. Reports naming one phone number are linked by it,
confirmed at once: those links are read from the identifiers (one source), not stored apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Integer, case, cast, delete, literal, null, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from hotline.linking.identifiers import Named
from hotline.localtime import aware
from hotline.models import Identifier, Report, ReportIdentifier, ReportLink
from hotline.vault import Vault

LABEL_CHARS = 200
"""The most characters of a name kept to show it."""


def identifier(session: Session, vault: Vault, named: Named) -> Identifier:
    """The stored identifier for `named`, created the first time anyone names it."""
    digest = vault.identifier_hash(named.kind, named.value)
    query = select(Identifier).where(Identifier.kind == named.kind, Identifier.hash == digest)
    found = session.scalar(query)
    if found is not None:
        return found
    row = Identifier(kind=named.kind, hash=digest,
                     value=vault.encrypt(named.value) if named.kind == "phone" else None,
                     text=None if named.kind == "phone" else named.value,
                     label=named.label[:LABEL_CHARS] if named.kind == "name" else None)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row
    except IntegrityError:  # another worker stored it first: use theirs
        return session.scalar(query)


def store(session: Session, vault: Vault, report_id: int, named: list[Named]) -> dict[int, Named]:
    """Make the report name exactly these identifiers (others it named before are let go); by id."""
    ids = {identifier(session, vault, n).id: n for n in named}
    current = set(session.scalars(select(ReportIdentifier.identifier_id).where(ReportIdentifier.report_id == report_id)))
    gone = current - set(ids)
    if gone:
        session.execute(delete(ReportIdentifier).where(ReportIdentifier.report_id == report_id,
                                                       ReportIdentifier.identifier_id.in_(gone)))
    for identifier_id in sorted(set(ids) - current):
        session.add(ReportIdentifier(report_id=report_id, identifier_id=identifier_id))
    session.flush()
    return ids


def phone_linked(session: Session, report_id: int) -> set[int]:
    """The reports that name a phone number this report names."""
    mine, theirs = aliased(ReportIdentifier), aliased(ReportIdentifier)
    return set(session.scalars(
        select(theirs.report_id).distinct()
        .join(mine, mine.identifier_id == theirs.identifier_id)
        .join(Identifier, Identifier.id == mine.identifier_id)
        .where(mine.report_id == report_id, Identifier.kind == "phone", theirs.report_id != report_id)))


def duplicates_of(session: Session, report: Report) -> set[int]:
    """The other reports of the same event as this one (merged with it, either way)."""
    primary = report.duplicate_of or report.id
    return set(session.scalars(select(Report.id).where(or_(Report.id == primary, Report.duplicate_of == primary),
                                                       Report.id != report.id)))


@dataclass(frozen=True)
class Suggestion:
    """A suggestion between two reports, as a caseworker decides it."""

    id: int
    by: str
    score: int
    state: str


@dataclass
class Linked:
    """Another report linked to one: its number, on what grounds (`by`), whether that is confirmed, and
    the suggestions between them."""

    report_id: int
    number: str
    created_at: datetime
    by: set[str] = field(default_factory=set)
    confirmed: bool = False
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def pending(self) -> list[Suggestion]:
        """The suggestions still waiting for a caseworker."""
        return [s for s in self.suggestions if s.state == "suggested"]


BY_ORDER = ("phone", "name", "description", "duplicate")
"""How a link's grounds are listed."""

_NO_ID = cast(null(), Integer)
"""A typed NULL: PostgreSQL reads an untyped NULL in a UNION as text."""


def links_of(session: Session, report: Report, visible: ColumnElement[bool]) -> list[Linked]:
    """The reports linked to `report` that the reader may see (`visible`, a condition on Report), in one
    query: by the same phone number and as the same event (confirmed), and by suggestions not rejected.
    Confirmed first, then newest first."""
    mine, theirs = aliased(ReportIdentifier), aliased(ReportIdentifier)
    shown = (Report.id, Report.number, Report.created_at)
    by_phone = (select(*shown, literal("phone").label("by"), literal("confirmed").label("state"),
                       _NO_ID.label("link_id"), _NO_ID.label("score"))
                .join(theirs, theirs.report_id == Report.id)
                .join(mine, mine.identifier_id == theirs.identifier_id)
                .join(Identifier, Identifier.id == mine.identifier_id)
                .where(mine.report_id == report.id, Identifier.kind == "phone", Report.id != report.id, visible))
    primary = report.duplicate_of or report.id
    same_event = (select(*shown, literal("duplicate"), literal("confirmed"), _NO_ID, _NO_ID)
                  .where(or_(Report.id == primary, Report.duplicate_of == primary), Report.id != report.id, visible))
    other = case((ReportLink.report_id == report.id, ReportLink.other_id), else_=ReportLink.report_id)
    suggested = (select(*shown, ReportLink.by, ReportLink.state, ReportLink.id, ReportLink.score)
                 .join(ReportLink, Report.id == other)
                 .where(or_(ReportLink.report_id == report.id, ReportLink.other_id == report.id),
                        ReportLink.state != "rejected", visible))
    found: dict[int, Linked] = {}
    for row in session.execute(union_all(by_phone, same_event, suggested)).all():
        item = found.setdefault(row[0], Linked(row[0], row[1], row[2]))
        by, state = row[3], row[4]
        item.by.add(by)
        item.confirmed = item.confirmed or state == "confirmed"
        if row[5] is not None:
            item.suggestions.append(Suggestion(row[5], by, row[6], state))
    return sorted(found.values(), key=lambda i: (not i.confirmed, -aware(i.created_at).timestamp(), i.number))


def ordered_by(by: set[str]) -> list[str]:
    """A link's grounds in BY_ORDER."""
    return [b for b in BY_ORDER if b in by] + sorted(by - set(BY_ORDER))
