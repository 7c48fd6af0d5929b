"""Console pages: reports (list, detail, follow-up), the phone vault, the audit log, users."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from hotline import audit, casework, reportnumber, scoping
from hotline.outbound import outbox
from hotline import reports as report_store
from hotline.console import query as args
from hotline.console.auth import create_user, no_controls, role_required, services
from hotline.models import STATUSES, Alert, OutboundMessage, Report, User, utcnow
from hotline.payloads import area as area_doc

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

PER_PAGE = 25


@bp.before_request
def _csrf() -> None:
    """Every form posted to the console must carry its CSRF token."""
    from hotline.console import csrf

    csrf.protect()


class StatusForm(FlaskForm):
    status = SelectField("status", choices=[(s, s) for s in STATUSES])
    note = TextAreaField("note", validators=[Length(max=casework.MAX_NOTE)], filters=[no_controls])


class NoteForm(FlaskForm):
    note = TextAreaField("note", validators=[DataRequired(), Length(max=casework.MAX_NOTE)], filters=[no_controls])


class ReplyForm(FlaskForm):
    text = TextAreaField("text", validators=[DataRequired(), Length(max=459)], filters=[no_controls])


class AssignForm(FlaskForm):
    user = SelectField("user", choices=[], validate_choice=False)


class RevealForm(FlaskForm):
    reason = TextAreaField("reason", validators=[DataRequired(), Length(min=10, max=500)], filters=[no_controls])
    # Required when the reporter did not agree to be contacted (safety rule 1): an emergency override.
    emergency = BooleanField("emergency")


class UserForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(min=3, max=64)], filters=[no_controls])
    role = SelectField("role", choices=[(r, r) for r in scoping.ROLES])
    agency = SelectField("agency", choices=[], validate_choice=False)
    language = SelectField("language", choices=[("en", "English"), ("km", "ខ្មែរ")])


def _aware(moment: datetime | None) -> datetime | None:
    """Naive database times are UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def _scoped():
    """The condition limiting reports to what the signed-in user may see."""
    return scoping.agency_reports(current_user.agency_id)


def _report_or_404(db, number: str) -> Report:
    """The report with this number if the user may see it; 404 otherwise (existence is not revealed)."""
    if not reportnumber.is_valid(number):
        abort(404)
    report = db.scalar(select(Report).where(Report.number == number, _scoped()))
    if report is None:
        abort(404)
    return report


def _overdue(report: Report, now: datetime) -> bool:
    """Unacknowledged past its type's escalation window."""
    window = services().directory.escalation.get(report.type, 86400)
    return report.status == "new" and _aware(report.created_at) + timedelta(seconds=window) < now


@bp.get("/")
@login_required
def reports():
    """Reports the user may see, filtered and paged, newest first."""
    query = select(Report).where(_scoped())
    filters = {k: request.args.get(k, "").strip() for k in ("type", "status", "area", "since", "until", "number")}
    if filters["type"] in services().directory.types:
        query = query.where(Report.type == filters["type"])
    if filters["status"] in STATUSES:
        query = query.where(Report.status == filters["status"])
    if filters["area"].isascii() and filters["area"].isdigit():
        query = query.where(Report.area_code.startswith(filters["area"]))
    since, until = args.day("since"), args.day("until")
    if since is not None:
        query = query.where(Report.created_at >= datetime.combine(since, time(0), timezone.utc))
    if until is not None:
        query = query.where(Report.created_at < datetime.combine(until + timedelta(days=1), time(0), timezone.utc))
    if filters["number"]:
        number = reportnumber.clean(filters["number"])
        digits = number.isascii() and number.isdigit()
        query = query.where(Report.number.startswith(number)) if digits else query.where(Report.id < 0)
    page = args.page()
    with services().Session() as db:
        total = db.scalar(select(func.count()).select_from(query.subquery()))
        rows = db.scalars(query.order_by(Report.created_at.desc(), Report.id.desc())
                          .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    now = utcnow()
    gaz = services().directory.gazetteer
    items = [{"r": r, "overdue": _overdue(r, now),
              "place": gaz.get(r.area_code).name(current_user.language) if r.area_code and r.area_code in gaz else "—"}
             for r in rows]
    pages = max(1, -(-total // PER_PAGE))
    return render_template("console/reports.html", items=items, filters=filters, page=page, pages=pages, total=total,
                           types=tuple(services().directory.types), statuses=STATUSES,
                           provinces=[(a.code, a.name(current_user.language)) for a in gaz.children(None)])


def _answers(report: Report, lang: str) -> list[tuple[str, str]]:
    """The report's answers in words (choice keys through the line's texts), the reporter's own number
    masked wherever they typed it (the vault's reveal is the only way to see it)."""
    config = services().engine.config
    flow = config.flows.get(report.type)
    answers = report_store.shown_answers(services().vault, report, services().directory.line.country)
    out = []
    for q in (flow.questions if flow else ()):
        value = answers.get(q.id)
        if q.kind == "area":
            continue
        if value is None:
            shown = "—"
        elif q.kind == "choice":
            shown = config.text(lang, value)
        elif q.kind == "consent":
            shown = config.text(lang, "consent_yes" if value else "consent_no")
        else:
            shown = str(value)
        out.append((config.text(lang, q.prompt), shown))
    if "text" in answers:
        out.append((_("Message"), answers["text"]))
    for detail in answers.get("details", []):
        out.append((_("Added later"), detail))
    return out


def _deliveries(db, report: Report) -> list[dict]:
    """Every alert of the report with its delivery state."""
    rows = db.execute(select(Alert, OutboundMessage.status).outerjoin(OutboundMessage, Alert.outbound_id == OutboundMessage.id)
                      .where(Alert.report_id == report.id).order_by(Alert.id)).all()
    directory = services().directory
    return [{"contact": (directory.contact(a.contact_id).name if directory.contact(a.contact_id) else a.contact_id),
             "means": a.means, "kind": a.kind, "level": a.level, "status": sms_status or a.status,
             "at": a.created_at} for a, sms_status in rows]


@bp.get("/reports/<number>")
@login_required
def report(number: str):
    """One report: answers, place, timeline, deliveries and what the user may do."""
    with services().Session() as db:
        r = _report_or_404(db, number)
        events = _timeline(r)
        deliveries = _deliveries(db, r)
        blocked = casework.contact_blocked(db, r)
        assignee = db.get(User, r.assigned_to).username if r.assigned_to else None
        team = _team(db)
    assign = AssignForm()
    assign.user.choices = [("", _("nobody"))] + [(str(u.id), u.username) for u in team]
    assign.user.data = str(r.assigned_to) if r.assigned_to else ""  # the current assignee, not "nobody"
    status = StatusForm()
    status.status.choices = [(s, _(s)) for s in sorted(casework.TRANSITIONS[r.status])]
    return render_template(
        "console/report.html", r=r, events=events, deliveries=deliveries, answers=_answers(r, current_user.language),
        area=area_doc(services(), r.area_code), blocked=blocked, assignee=assignee, overdue=_overdue(r, utcnow()),
        can_write=scoping.can_write(current_user.role),
        can_reveal=scoping.can_reveal(current_user.role, current_user.id, r) and r.reporter_phone is not None,
        needs_override=scoping.reveal_needs_emergency(r), status_form=status, note_form=NoteForm(), reply_form=ReplyForm(),
        assign_form=assign, reveal_form=RevealForm())


def _timeline(report: Report) -> list[tuple]:
    """The report's timeline as the user may read it: (event, its data), other teams' notes left out."""
    shown = [(e, scoping.shown_event_data(e.kind, e.data, current_user.agency_id)) for e in report.events]
    return [(e, data) for e, data in shown if data is not None]


def _team(db) -> list[User]:
    """Caseworkers who may be given the user's reports: the same agency (or line staff)."""
    query = select(User).where(User.active.is_(True), User.role.in_(("admin", "caseworker")))
    query = query.where(User.agency_id == current_user.agency_id) if current_user.agency_id else query.where(User.agency_id.is_(None))
    return db.scalars(query.order_by(User.username)).all()


def _write(number: str, action):
    """Run one change to a report in a transaction, enqueue its work, and go back to the report."""
    if not scoping.can_write(current_user.role):
        abort(403)
    s = services()
    try:
        with s.Session.begin() as db:
            r = _report_or_404(db, number)
            work = action(db, r) or []
    except casework.CaseworkError as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.report", number=number)), 303
    for item in work:
        outbox.enqueue(s, item, urgent=False)
    return redirect(url_for("console.report", number=number)), 303


@bp.post("/reports/<number>/status")
@login_required
def change_status(number: str):
    """Move the report to another status, with a note."""
    form = StatusForm()
    form.status.choices = [(s, s) for s in STATUSES]
    if not form.validate_on_submit():
        abort(400)
    return _write(number, lambda db, r: casework.change_status(db, r, form.status.data, current_user.actor, form.note.data))


@bp.post("/reports/<number>/notes")
@login_required
def add_note(number: str):
    """Add a note to the timeline."""
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400)
    return _write(number, lambda db, r: casework.add_note(db, r, form.note.data, current_user.actor))


@bp.post("/reports/<number>/assign")
@login_required
def assign(number: str):
    """Assign the report to a caseworker of the same team."""
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)

    def action(db, r):
        chosen = form.user.data or ""
        if not chosen:
            return casework.assign(db, r, None, None, current_user.actor)
        user = next((u for u in _team(db) if str(u.id) == chosen), None)
        if user is None:
            raise casework.CaseworkError(_("That person cannot take this report."))
        return casework.assign(db, r, user.id, user.username, current_user.actor)

    return _write(number, action)


@bp.post("/reports/<number>/reply")
@login_required
def reply(number: str):
    """Send the reporter an SMS through the line."""
    form = ReplyForm()
    if not form.validate_on_submit():
        abort(400)
    return _write(number, lambda db, r: [casework.message_reporter(db, services(), r, form.text.data, current_user.actor)])


@bp.post("/reports/<number>/reveal")
@login_required
def reveal(number: str):
    """Break glass: show the reporter's number once, with a reason that the audit log keeps. A reporter
    who did not agree to be contacted is revealed only as an emergency override, said so everywhere."""
    form = RevealForm()
    if not form.validate_on_submit():
        flash(_("Give a reason of at least 10 characters."), "error")
        return redirect(url_for("console.report", number=number)), 303
    s = services()
    with s.Session.begin() as db:
        r = _report_or_404(db, number)
        if not scoping.can_reveal(current_user.role, current_user.id, r) or r.reporter_phone is None:
            abort(403)
        override = scoping.reveal_needs_emergency(r)
        refused = override and not form.emergency.data
        if not refused:
            details = {"emergency": True, "consent": r.consent} if override else {}
            audit.record(db, current_user.actor, "report.reveal", r.number, reason=form.reason.data.strip(),
                         details=details)
            report_store.add_event(db, r, "number_revealed", actor=current_user.actor, data=details)
            phone = s.vault.decrypt(r.reporter_phone)
    if refused:
        flash(_("The reporter did not agree to be contacted. Their number is revealed only in an emergency: "
                "tick the box to confirm that someone's life or safety is at risk."), "error")
        return redirect(url_for("console.report", number=number)), 303
    return render_template("console/revealed.html", number=number, phone=phone, emergency=override)


@bp.get("/audit")
@role_required("admin")
def audit_log():
    """The audit log, newest first, and whether its chain holds."""
    from hotline.models import AuditEntry

    page = args.page()
    with services().Session() as db:
        check = audit.verify(db)
        query = select(AuditEntry)
        if current_user.agency_id is not None:  # an agency's admin reads its own agency's entries only
            query = query.where(audit.agency_entries(db, current_user.agency_id))
        entries = db.scalars(query.order_by(AuditEntry.id.desc()).offset((page - 1) * 50).limit(50)).all()
    return render_template("console/audit.html", entries=entries, check=check, page=page)


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    """Accounts: list, and create one with a one-time password. Line staff's admins manage every
    account; an agency's admin sees and creates its own agency's accounts only."""
    s = services()
    own = current_user.agency_id
    form = UserForm()
    agencies = [(c.id, c.name) for c in s.directory.contacts if c.kind == "agency" and own in (None, c.id)]
    form.agency.choices = agencies if own is not None else [("", _("line staff (all reports)"))] + agencies
    form.role.choices = [(r, _(r)) for r in scoping.ROLES]
    created, refused = None, None
    if form.validate_on_submit():
        agency = form.agency.data or None
        if not scoping.can_manage_users(current_user.role, own, agency):
            refused = _("You may create accounts for your own agency only: not for line staff or another agency.")
        else:
            try:
                created = (form.username.data.strip(), create_user(s, form.username.data.strip(), form.role.data,
                                                                  agency, form.language.data, actor=current_user.actor))
            except ValueError as exc:
                flash(str(exc), "error")
    with s.Session() as db:
        listed = select(User).order_by(User.username)
        people = db.scalars(listed if own is None else listed.where(User.agency_id == own)).all()
    return render_template("console/users.html", form=form, people=people, created=created,
                           refused=refused), 403 if refused else 200


@bp.get("/search")
@login_required
def search():
    """Jump to a report by its number."""
    number = reportnumber.clean(request.args.get("number", ""))
    if reportnumber.is_valid(number):
        return redirect(url_for("console.report", number=number))
    flash(_("That is not a report number (7 digits, the last a check digit)."), "error")
    return redirect(url_for("console.reports"))




def _duration(seconds: float | None) -> str:
    """A median duration in words a caseworker reads at a glance."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("%(n)d min", n=round(seconds / 60))
    if seconds < 2 * 86400:
        return _("%(n).1f h", n=seconds / 3600)
    return _("%(n).1f days", n=seconds / 86400)


@bp.get("/dashboard")
@login_required
def dashboard():
    """Reports per week and province, open and closed, timings and alert delivery, as inline SVG."""
    from hotline import stats, svgchart

    s = services()
    with s.Session() as db:
        d = stats.dashboard(db, current_user.agency_id, s.directory.gazetteer, types=tuple(s.directory.types))
    km = current_user.language == "km"
    weekly = svgchart.bar_chart(_("Reports per week"), [w["week"].split("-")[-1] for w in d["weekly"]],
                                {_(t): [w["by_type"].get(t, 0) for w in d["weekly"]] for t in d["types"]})
    provinces = svgchart.hbar_chart(_("Reports per province"),
                                    [(p["name_km"] if km else p["name_en"]) or p["code"] or "?" for p in d["provinces"]],
                                    {_(t): [p["by_type"].get(t, 0) for p in d["provinces"]] for t in d["types"]})
    return render_template("console/dashboard.html", d=d, weekly=weekly, provinces=provinces,
                           ack=_duration(d["timing"]["acknowledge"]["median_seconds"]),
                           close=_duration(d["timing"]["close"]["median_seconds"]), types=tuple(s.directory.types), statuses=STATUSES)


@bp.get("/export.csv")
@login_required
def export():
    """Reports as CSV, without personal data (no numbers, no free text); the export is audited."""
    from flask import Response

    from hotline import stats

    filters = {k: request.args[k] for k in ("since", "until") if request.args.get(k)}
    filters.update({name: value for name, value in (("type", args.one_of("type", tuple(services().directory.types))),
                                                    ("status", args.one_of("status", STATUSES))) if value})
    s = services()
    with s.Session() as db:
        try:
            body = "".join(stats.csv_export(db, current_user.agency_id, s.directory.gazetteer, filters,
                                            s.engine.config.flows))
        except ValueError as exc:
            return Response(f"{exc}\n", status=400, mimetype="text/plain")
    with s.Session.begin() as db:
        audit.record(db, current_user.actor, "report.export", details={"filters": filters})
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=hotline-reports.csv"})
