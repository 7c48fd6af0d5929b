"""Linked reports in the console: a report's links and pending suggestions (decided here), merging two
reports of one event, and the recruiters page (identifiers with their reports, places and timeline).
Everything is limited to the reports the user may see (`views.scoped`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import distinct, func, select

from hotline import reportnumber, scoping
from hotline.console import query as args
from hotline.console.auth import services
from hotline.console.followup import _write as write
from hotline.console.forms import ActionForm, MergeForm, valid_or_400
from hotline.console.views import bp, scoped, words
from hotline.linking import decisions, index
from hotline.linking.identifiers import CLUSTER_KINDS
from hotline.models import Identifier, Report, ReportIdentifier

PER_PAGE = 25
"""Identifiers on one page of the recruiters page."""

PLACES_SHOWN = 4
"""Places a recruiter's row names before "and N more"."""


def report_links(db, report: Report) -> dict:
    """What a report's page shows of its links: the linked reports the user may see, and the report's
    own event (the report it was merged into, if the user may see it)."""
    primary = None
    if report.duplicate_of:
        primary = db.scalar(select(Report.number).where(Report.id == report.duplicate_of, scoped()))
    return {"links": index.links_of(db, report, scoped()), "merged_into": primary,
            "merged": report.duplicate_of is not None}


@bp.post("/reports/<number>/links/<int:link_id>/<decision>")
@login_required
def decide_link(number: str, link_id: int, decision: str):
    """Confirm or reject a suggested link (audited)."""
    if decision not in decisions.DECISIONS:
        abort(400, _("%(name)s must be one of: %(values)s.", name="decision", values=", ".join(decisions.DECISIONS)))
    valid_or_400(ActionForm())
    return write(number, lambda db, r: decisions.decide(db, r, link_id, decision, current_user.actor, scoped()))


@bp.post("/reports/<number>/merge")
@login_required
def merge(number: str):
    """The report and another (by number) are one event: the later becomes a duplicate of the earlier,
    both kept whole (audited)."""
    form = MergeForm()
    valid_or_400(form)
    other_number = reportnumber.clean(form.other.data or "")

    def action(db, r):
        other = db.scalar(select(Report).where(Report.number == other_number, scoped())) \
            if reportnumber.is_valid(other_number) else None
        if other is None:
            raise decisions.CaseworkError(_("There is no report %(number)s that you may see.", number=other_number))
        first, later = sorted((r, other), key=lambda x: (x.created_at, x.id))
        return decisions.merge(db, later, first, current_user.actor)

    return write(number, action)


@bp.post("/reports/<number>/unmerge")
@login_required
def unmerge(number: str):
    """Undo a merge: the report is its own event again (audited)."""
    valid_or_400(ActionForm())
    return write(number, lambda db, r: decisions.unmerge(db, r, current_user.actor))


@dataclass
class Recruiter:
    """One row of the recruiters page."""

    id: int
    kind: str
    value: str
    reports: int
    first: datetime
    last: datetime
    places: list[str]
    more_places: int


def _value(identifier: Identifier) -> str:
    """What an identifier is, to read: the number (decrypted) or the name."""
    if identifier.kind == "phone":
        return services().vault.decrypt(identifier.value) or "—"
    return identifier.label or identifier.text or "—"


@bp.get("/recruiters")
@login_required
def recruiters():
    """Recruiters' numbers and agencies' names that the user's reports name, most reports first."""
    least = _least()
    kind = args.one_of("kind", CLUSTER_KINDS)
    page = args.page()
    count = func.count(distinct(Report.id))
    query = (select(Identifier, count, func.min(Report.created_at), func.max(Report.created_at))
             .join(ReportIdentifier, ReportIdentifier.identifier_id == Identifier.id)
             .join(Report, Report.id == ReportIdentifier.report_id)
             .where(Identifier.kind.in_([kind] if kind else CLUSTER_KINDS), scoped())
             .group_by(Identifier.id).having(count >= least))
    w = words()
    with services().Session() as db:
        total = db.scalar(select(func.count()).select_from(query.subquery()))
        rows = db.execute(query.order_by(count.desc(), func.max(Report.created_at).desc(), Identifier.id)
                          .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
        areas: dict[int, list[str]] = {}
        if rows:
            for identifier_id, area in db.execute(
                    select(ReportIdentifier.identifier_id, Report.area_code).distinct()
                    .join(Report, Report.id == ReportIdentifier.report_id)
                    .where(ReportIdentifier.identifier_id.in_([r[0].id for r in rows]), scoped())
                    .order_by(ReportIdentifier.identifier_id, Report.area_code)):
                areas.setdefault(identifier_id, []).append(area)
        items = []
        for ident, reports, first, last in rows:
            places = [w.place(code) for code in areas.get(ident.id, []) if code]
            items.append(Recruiter(ident.id, ident.kind, _value(ident), reports, first, last,
                                   places[:PLACES_SHOWN], max(0, len(places) - PLACES_SHOWN)))
    return render_template("console/recruiters.html", items=items, page=page, pages=max(1, -(-total // PER_PAGE)),
                           total=total, least=least, kind=kind or "", kinds=CLUSTER_KINDS)


def _least() -> int:
    """The fewest reports an identifier needs to be listed (`min`, 1-1000; 2 when not given)."""
    raw = request.args.get("min", "").strip() or "2"
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 1000):
        abort(400, _("%(name)s must be a whole number from 1 to %(n)d.", name="min", n=1000))
    return int(raw)


@bp.get("/recruiters/<int:identifier_id>")
@login_required
def recruiter(identifier_id: int):
    """One recruiter's number or agency's name: the user's reports naming it, oldest first (a timeline)."""
    w = words()
    with services().Session() as db:
        ident = db.get(Identifier, identifier_id)
        if ident is None or ident.kind not in CLUSTER_KINDS:
            abort(404)
        reports = db.scalars(select(Report).join(ReportIdentifier, ReportIdentifier.report_id == Report.id)
                             .where(ReportIdentifier.identifier_id == identifier_id, scoped())
                             .order_by(Report.created_at, Report.id)).all()
        if not reports:
            abort(404)  # no report of the user's names it: it does not exist for them
        timeline = [{"r": r, "place": w.place(r.area_code) if r.area_code else "—"} for r in reports]
        value = _value(ident)
    return render_template("console/recruiter.html", kind=ident.kind, value=value, timeline=timeline,
                           can_write=scoping.can_write(current_user.role))


