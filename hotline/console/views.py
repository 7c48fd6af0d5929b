"""Console pages: the reports list (casework views, filters) and a report's page. The follow-up forms
are in `followup`, accounts and the audit log in `admin`, the dashboard and CSV in `dashboard`,
delivery and dead letters in `delivery`, the directory's health in `directory_page`: each adds its
routes to this blueprint."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from hotline import audit, casework, localtime, replies, reportnumber, scoping
from hotline import reports as report_store
from hotline.console import inbox
from hotline.console import query as args
from hotline.console.auth import services
from hotline.console.forms import (ActionForm, AssignForm, MergeForm, NoteForm, PreparedReplyForm, ReplyForm,
                                   RevealForm, StatusForm, TagForm)
from hotline.console.labels import Words
from hotline.errors import ConfigError
from hotline.models import STATUSES, AuditEntry, Report, ReportTag, User, utcnow
from hotline.services import CONFIG_DIR
from hotline.voice import callback

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

PER_PAGE = 25
"""Reports on one page of the list."""

VIEWERS_SHOWN = 10
"""People a report's page lists as having opened it (the most recent first)."""


@bp.before_request
def _csrf() -> None:
    """Every form posted to the console must carry its CSRF token."""
    from hotline.console import csrf

    csrf.protect()


def words() -> Words:
    """The console's words in the signed-in user's language."""
    return Words(services(), str(get_locale()))


def zone():
    """The zone people read times in (HOTLINE_TIMEZONE)."""
    return localtime.zone(services().settings.timezone)


def scoped():
    """The condition limiting reports to what the signed-in user may see."""
    return scoping.agency_reports(current_user.agency_id)


def report_or_404(db, number: str) -> Report:
    """The report with this number if the user may see it; 404 otherwise (existence is not revealed)."""
    if not reportnumber.is_valid(number):
        abort(404)
    report = db.scalar(select(Report).where(Report.number == number, scoped()))
    if report is None:
        abort(404)
    return report


def _filters() -> tuple[dict, list]:
    """The list's filters as given, and the conditions they make (dates are local days)."""
    filters = {k: request.args.get(k, "").strip() for k in ("type", "status", "area", "since", "until", "number", "tag")}
    filters["view"] = args.one_of("view", inbox.VIEWS) or "all"
    conditions = []
    if filters["type"] in services().directory.types:
        conditions.append(Report.type == filters["type"])
    if filters["status"] in STATUSES:
        conditions.append(Report.status == filters["status"])
    if filters["area"].isascii() and filters["area"].isdigit():
        conditions.append(Report.area_code.startswith(filters["area"]))
    since, until = args.day("since"), args.day("until")
    if since is not None:
        conditions.append(Report.created_at >= localtime.day_start(since, zone()))
    if until is not None:
        conditions.append(Report.created_at < localtime.day_end(until, zone()))
    if filters["number"]:
        number = reportnumber.clean(filters["number"])
        digits = number.isascii() and number.isdigit()
        conditions.append(Report.number.startswith(number) if digits else Report.id < 0)
    tag = casework.clean_tag(filters["tag"]) if filters["tag"] else None
    if filters["tag"]:
        conditions.append(Report.id.in_(select(ReportTag.report_id).where(
            ReportTag.tag == (tag or ""), scoping.visible_tags(current_user.agency_id))))
    return filters, conditions


@bp.get("/")
@login_required
def reports():
    """Reports the user may see, in casework views with their counts, filtered and paged, newest first."""
    filters, conditions = _filters()
    escalation, now = services().directory.escalation, utcnow()
    query = select(Report).where(scoped(), inbox.condition(filters["view"], current_user.id, escalation, now),
                                 *conditions)
    page = args.page()
    with services().Session() as db:
        counts = inbox.counts(db, scoped(), current_user.id, escalation, now)
        total = db.scalar(select(func.count()).select_from(query.subquery()))
        rows = db.scalars(query.order_by(Report.created_at.desc(), Report.id.desc())
                          .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
        nobody = inbox.nobody_among(db, rows)
        tags = casework.tags_of(db, [r.id for r in rows], current_user.agency_id)
    w = words()
    items = [{"r": r, "overdue": inbox.is_overdue(r, escalation, now), "nobody": r.id in nobody,
              "place": w.place(r.area_code) if r.area_code else "—", "tags": tags.get(r.id, [])} for r in rows]
    gaz = services().directory.gazetteer
    return render_template("console/reports.html", items=items, filters=filters, page=page,
                           pages=max(1, -(-total // PER_PAGE)), total=total, counts=counts, views=inbox.VIEWS,
                           types=tuple(services().directory.types), statuses=STATUSES,
                           provinces=[(a.code, a.name(w.lang)) for a in gaz.children(None)])


def _answers(report: Report, w: Words) -> list[tuple[str, str]]:
    """The report's answers in words (choice keys through the line's texts), the reporter's own number
    masked wherever they typed it (the vault's reveal is the only way to see it)."""
    flow = services().engine.config.flows.get(report.type)
    answers = report_store.shown_answers(services().vault, report, services().directory.line.country)
    out = []
    for q in (flow.questions if flow else ()):
        value = answers.get(q.id)
        if q.kind == "area":
            continue
        if value is None:
            shown = "—"
        elif q.kind in ("choice", "consent"):
            shown = w.answer(q.id, value)
        else:
            shown = str(value)
        out.append((w.question(q.id), shown))
    if "text" in answers:
        out.append((_("Message"), answers["text"]))
    for detail in answers.get("details", []):
        out.append((_("Added later"), detail))
    return out


def _timeline(report: Report) -> list[tuple]:
    """The report's timeline as the user may read it: (event, its data), other teams' notes left out."""
    shown = [(e, scoping.shown_event_data(e.kind, e.data, current_user.agency_id)) for e in report.events]
    return [(e, data) for e, data in shown if data is not None]


def team(db) -> list[User]:
    """Caseworkers who may be given the user's reports: the same agency (or line staff)."""
    query = select(User).where(User.active.is_(True), User.role.in_(("admin", "caseworker")))
    query = query.where(User.agency_id == current_user.agency_id) if current_user.agency_id else query.where(User.agency_id.is_(None))
    return db.scalars(query.order_by(User.username)).all()


def _viewers(db, number: str) -> list[dict]:
    """Who opened the report (console users and partner API tokens), most recent first, with how often."""
    rows = db.execute(select(AuditEntry.actor, func.max(AuditEntry.at), func.count())
                      .where(AuditEntry.action == "report.view", AuditEntry.target == number)
                      .group_by(AuditEntry.actor).order_by(func.max(AuditEntry.at).desc()).limit(VIEWERS_SHOWN)).all()
    return [{"actor": actor, "at": at, "times": times} for actor, at, times in rows]


def _nobody_reason(report: Report, w: Words) -> str | None:
    """Why a routed report reached nobody (None if it reached someone, or is not routed yet)."""
    routed = [e for e in report.events if e.kind == "routed"]
    if not routed or report.routing != "routed":
        return None
    data = routed[-1].data or {}
    if data.get("leaders") or data.get("agencies"):
        return None
    if data.get("skipped_conflict"):
        return _("Every contact that covers it is named in the report, so none was told (conflict of interest).")
    return _("No contact in the directory covers %(place)s for %(type)s reports.",
             place=w.place(report.area_code) if report.area_code else _("an unknown place"), type=w.type(report.type))


def _prepared_replies(report: Report, w: Words) -> list[tuple[str, str]]:
    """The prepared replies the page offers: (id, its words in the reader's language)."""
    line = services().directory.line
    try:
        found = replies.load(CONFIG_DIR, line)
    except ConfigError:  # a file changed into a broken one offers none; the check names its problems
        return []
    return [(reply.id, reply.text(w.lang, line, report.number)) for reply in found.values()]


@bp.get("/reports/<number>")
@login_required
def report(number: str):
    """One report: answers, place, timeline, deliveries, who opened it, and what the user may do.
    Opening it is recorded in the audit log (`report.view`)."""
    from hotline.console.delivery import report_deliveries

    s, w = services(), words()
    with s.Session.begin() as db:
        r = report_or_404(db, number)
        audit.record(db, current_user.actor, "report.view", r.number)
        events = _timeline(r)
        deliveries = report_deliveries(db, s, r, w)
        blocked = casework.contact_blocked(db, r)
        assignee = db.get(User, r.assigned_to).username if r.assigned_to else None
        people = team(db)
        viewers = _viewers(db, r.number)
        tags = casework.tags_of(db, [r.id], current_user.agency_id).get(r.id, [])
        nobody = _nobody_reason(r, w)
        from hotline.console.linked import report_links

        linked = report_links(db, r)
        call_blocked = callback.blocked(db, s, r, db.get(User, current_user.id)) \
            if scoping.can_write(current_user.role) else None
    assign = AssignForm()
    assign.user.choices = [("", _("nobody"))] + [(str(u.id), u.username) for u in people]
    assign.user.data = str(r.assigned_to) if r.assigned_to else ""  # the current assignee, not "nobody"
    status = StatusForm()
    status.status.choices = [(code, w.status(code)) for code in casework.moves(r.status)]
    prepared = PreparedReplyForm()
    prepared.reply.choices = _prepared_replies(r, w)
    return render_template(
        "console/report.html", r=r, events=events, deliveries=deliveries, answers=_answers(r, w), place=w.place(r.area_code)
        if r.area_code else None, blocked=blocked, assignee=assignee,
        overdue=inbox.is_overdue(r, s.directory.escalation, utcnow()), nobody=nobody, viewers=viewers, tags=tags,
        can_write=scoping.can_write(current_user.role),
        can_reveal=scoping.can_reveal(current_user.role, current_user.id, r) and r.reporter_phone is not None,
        needs_override=scoping.reveal_needs_emergency(r), status_form=status, note_form=NoteForm(), reply_form=ReplyForm(),
        prepared_form=prepared, tag_form=TagForm(), assign_form=assign, reveal_form=RevealForm(), **linked,
        action_form=ActionForm(), merge_form=MergeForm(), call_blocked=call_blocked)


@bp.get("/search")
@login_required
def search():
    """Jump to a report by its number."""
    number = reportnumber.clean(request.args.get("number", ""))
    if reportnumber.is_valid(number):
        return redirect(url_for("console.report", number=number))
    flash(_("That is not a report number (7 digits, the last a check digit)."), "error")
    return redirect(url_for("console.reports"))
