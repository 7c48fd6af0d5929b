"""The console's part of the voice line: a caseworker's own phone for call-backs, the "Call" button on a
report (a masked call-back: hotline.voice.callback), and line staff's Voice prompts page (every text
a call speaks, per language, with a player beside each recorded clip and an upload for each)."""
from __future__ import annotations

from pathlib import Path

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from hotline import audit, casework, phones, scoping
from hotline.console.auth import no_controls, services
from hotline.console.forms import valid_or_400
from hotline.console.views import bp, report_or_404
from hotline.models import User
from hotline.outbound import outbox
from hotline.voice import audio, callback, catalogue, recording

UPLOAD_PATH = "/console/voice/"
"""Where clips are uploaded: the only console path that takes more than the line's usual 64 KiB."""


class PhoneForm(FlaskForm):
    phone = StringField("phone", validators=[Length(max=40)], filters=[no_controls])


def shown_phone(user: User) -> str | None:
    """The user's own phone as the console shows it: its last three digits only."""
    if user.phone is None:
        return None
    number = services().vault.decrypt(user.phone) or ""
    return "…" + number[-3:]


@bp.route("/phone", methods=["GET", "POST"])
@login_required
def my_phone():
    """The signed-in user's own phone, which the line rings for a masked call-back (kept encrypted)."""
    s = services()
    form = PhoneForm()
    with s.Session.begin() as db:
        user = db.get(User, current_user.id)
        if form.validate_on_submit():
            raw = (form.phone.data or "").strip()
            number = phones.normalise(raw, s.directory.line.country) if raw else None
            if raw and number is None:
                flash(_("That is not a phone number."), "error")
            else:
                user.phone = s.vault.encrypt(number) if number else None
                audit.record(db, current_user.actor, "user.phone", current_user.username,
                             details={"set": number is not None})
                flash(_("Saved.") if number else _("Removed."), "ok")
                return redirect(url_for("console.my_phone")), 303
        elif request.method == "POST":
            valid_or_400(form)
        current = shown_phone(user)
    return render_template("console/phone.html", form=form, current=current)


@bp.post("/reports/<number>/call")
@login_required
def call_reporter(number: str):
    """Ring the caseworker's own phone, then bridge to the reporter (each sees only the line's number)."""
    if not scoping.can_write(current_user.role):
        abort(403)
    valid_or_400(FlaskForm())
    s = services()
    try:
        with s.Session.begin() as db:
            report = report_or_404(db, number)
            work = callback.request(db, s, report, db.get(User, current_user.id), current_user.actor)
    except casework.CaseworkError as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.report", number=number)), 303
    outbox.enqueue(s, work, urgent=True)
    flash(_("The line is calling your phone. Answer it: you will be connected to the reporter."), "ok")
    return redirect(url_for("console.report", number=number)), 303


def _line_staff_admin() -> None:
    """Only line staff's admins record the line's prompts."""
    if current_user.role != "admin" or current_user.agency_id is not None:
        abort(403)


@bp.get("/voice")
@login_required
def voice_prompts():
    """Every clip each recorded language needs, numbered as the recording call reads them, with the
    words to say, a player beside each recorded one, and an upload for each."""
    _line_staff_admin()
    s = services()
    english = recording.english(s)
    languages = []
    for report in s.engine.voice_report:
        if report.say is not None:
            languages.append({"lang": report.lang, "say": report.say, "clips": []})
            continue
        folder = Path(s.settings.voice_dir) / report.lang
        files = catalogue.clip_files(folder)  # what is on disk now (the line loads it within seconds)
        clips = [{"n": i, "id": c.id, "words": c.words, "english": english.get(c.id, ""),
                  "file": files.get(c.id)} for i, c in enumerate(recording.script(s, report.lang), 1)]
        recorded = sum(1 for c in clips if c["file"])
        languages.append({"lang": report.lang, "say": None, "clips": clips, "offered": recorded == len(clips),
                          "recorded": recorded, "places": len(catalogue.clip_files(folder / "areas"))})
    return render_template("console/voice.html", languages=languages, form=FlaskForm(),
                           recording_line=s.settings.voice_recording_pin is not None,
                           max_mb=audio.MAX_BYTES // (1024 * 1024))


@bp.post("/voice/<lang>")
@login_required
def upload_clip(lang: str):
    """Upload one clip (a prompt, or a place's name: `areas/<code>`), checked before it is kept."""
    _line_staff_admin()
    valid_or_400(FlaskForm())
    s = services()
    clip = (request.form.get("clip") or "").strip()
    known = {c.id for c in recording.script(s, lang)} if lang in s.directory.line.languages else set()
    place = clip.removeprefix("areas/") if clip.startswith("areas/") else None
    if clip not in known and not (place and place in s.directory.gazetteer):
        flash(_("There is no such clip."), "error")
        return redirect(url_for("console.voice_prompts")), 303
    upload = request.files.get("file")
    data = upload.read(audio.MAX_BYTES + 1) if upload else b""
    try:
        checked = audio.check(data)
    except audio.ClipRefused as exc:
        flash(_("Clip %(clip)s not kept: %(reason)s", clip=clip, reason=str(exc)), "error")
        return redirect(url_for("console.voice_prompts")), 303
    audio.store(s.settings.voice_dir, lang, clip, data, checked)
    with s.Session.begin() as db:
        audit.record(db, current_user.actor, "voice.clip", f"{lang}/{clip}",
                     details={"seconds": round(checked.seconds, 1), "level_db": round(checked.level_db, 1)})
    # Every process (this one too) loads the clips again within seconds: the folder's time changed.
    flash(_("Clip %(clip)s kept.", clip=clip), "ok")
    return redirect(url_for("console.voice_prompts") + f"#{lang}"), 303


@bp.before_app_request
def _room_for_clips() -> None:
    """A clip upload may be larger than what providers send (the line's usual limit)."""
    if request.method == "POST" and request.path.startswith(UPLOAD_PATH):
        request.max_content_length = request.max_form_memory_size = audio.MAX_BYTES + 64 * 1024
