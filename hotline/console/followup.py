"""Following a report up from its page: status, notes, tags, assignment, messages to the reporter
(written or prepared), and the phone vault's break-glass reveal."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from hotline import audit, casework, replies, scoping
from hotline.outbound import outbox
from hotline import reports as report_store
from hotline.console.auth import services
from hotline.console.forms import (AssignForm, NoteForm, PreparedReplyForm, ReplyForm, RevealForm, StatusForm,
                                   TagForm, valid_or_400)
from hotline.console.views import bp, report_or_404, team
from hotline.errors import ConfigError
from hotline.services import CONFIG_DIR


def _back(number: str):
    """Back to the report's page."""
    return redirect(url_for("console.report", number=number)), 303


def _write(number: str, action):
    """Run one change to a report in a transaction, enqueue its work, and go back to the report."""
    if not scoping.can_write(current_user.role):
        abort(403)
    s = services()
    try:
        with s.Session.begin() as db:
            r = report_or_404(db, number)
            work = action(db, r) or []
    except casework.CaseworkError as exc:
        flash(exc.message, "error")
        return _back(number)
    for item in work:
        outbox.enqueue(s, item, urgent=False)
    return _back(number)


@bp.post("/reports/<number>/status")
@login_required
def change_status(number: str):
    """Move the report to another status, with a note."""
    form = StatusForm()
    valid_or_400(form)
    return _write(number, lambda db, r: casework.change_status(db, r, form.status.data, current_user.actor, form.note.data))


@bp.post("/reports/<number>/notes")
@login_required
def add_note(number: str):
    """Add a note to the timeline."""
    form = NoteForm()
    valid_or_400(form)
    return _write(number, lambda db, r: casework.add_note(db, r, form.note.data, current_user.actor))


@bp.post("/reports/<number>/tags")
@login_required
def add_tag(number: str):
    """Put a tag on the report, for the user's team."""
    form = TagForm()
    if not form.validate_on_submit():
        flash(_("A tag is one to %(n)d letters, digits, '-' or '_'.", n=casework.MAX_TAG), "error")
        return _back(number)
    return _write(number, lambda db, r: casework.add_tag(db, r, form.tag.data, current_user.actor))


@bp.post("/reports/<number>/tags/remove")
@login_required
def remove_tag(number: str):
    """Take one of the user's team's tags off the report."""
    form = TagForm()
    valid_or_400(form)
    return _write(number, lambda db, r: casework.remove_tag(db, r, form.tag.data, current_user.actor))


@bp.post("/reports/<number>/assign")
@login_required
def assign(number: str):
    """Assign the report to a caseworker of the same team."""
    form = AssignForm()
    valid_or_400(form)

    def action(db, r):
        chosen = form.user.data or ""
        if not chosen:
            return casework.assign(db, r, None, None, current_user.actor)
        user = next((u for u in team(db) if str(u.id) == chosen), None)
        if user is None:
            raise casework.CaseworkError(_("That person cannot take this report."))
        return casework.assign(db, r, user.id, user.username, current_user.actor)

    return _write(number, action)


@bp.post("/reports/<number>/reply")
@login_required
def reply(number: str):
    """Send the reporter an SMS through the line."""
    form = ReplyForm()
    valid_or_400(form)
    return _write(number, lambda db, r: [casework.message_reporter(db, services(), r, form.text.data, current_user.actor)])


@bp.post("/reports/<number>/reply/prepared")
@login_required
def prepared_reply(number: str):
    """Send the reporter one of the prepared replies (config/replies.yaml), in the reporter's language."""
    form = PreparedReplyForm()
    valid_or_400(form)
    line = services().directory.line
    try:
        chosen = replies.load(CONFIG_DIR, line).get(form.reply.data or "")
    except ConfigError:
        chosen = None
    if chosen is None:
        flash(_("There is no such prepared reply."), "error")
        return _back(number)

    def action(db, r):
        text = chosen.text(r.language, line, r.number)
        return [casework.message_reporter(db, services(), r, text, current_user.actor)]

    return _write(number, action)


@bp.post("/reports/<number>/reveal")
@login_required
def reveal(number: str):
    """Break glass: show the reporter's number once, with a reason that the audit log keeps. A reporter
    who did not agree to be contacted is revealed only as an emergency override, said so everywhere."""
    form = RevealForm()
    if not form.validate_on_submit():
        flash(_("Give a reason of at least 10 characters."), "error")
        return _back(number)
    s = services()
    with s.Session.begin() as db:
        r = report_or_404(db, number)
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
        return _back(number)
    return render_template("console/revealed.html", number=number, phone=phone, emergency=override)
