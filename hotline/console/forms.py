"""The console's forms (each carries its CSRF token, Flask-WTF), shared by the pages that draw them
and the views that take them."""
from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from hotline import casework, scoping
from hotline.console.accounts import LANGUAGES
from hotline.console.auth import no_controls
from hotline.models import STATUSES

REPLY_MAX = 459
"""Longest message to a reporter the form takes (3 SMS parts of GSM-7; the casework rule measures the parts)."""

LANGUAGE_NAMES = {"en": "English", "km": "ខ្មែរ"}
"""Each console language in its own words."""


class StatusForm(FlaskForm):
    status = SelectField("status", choices=[(s, s) for s in STATUSES])
    note = TextAreaField("note", validators=[Length(max=casework.MAX_NOTE)], filters=[no_controls])


class NoteForm(FlaskForm):
    note = TextAreaField("note", validators=[DataRequired(), Length(max=casework.MAX_NOTE)], filters=[no_controls])


class ReplyForm(FlaskForm):
    text = TextAreaField("text", validators=[DataRequired(), Length(max=REPLY_MAX)], filters=[no_controls])


class PreparedReplyForm(FlaskForm):
    reply = SelectField("reply", choices=[], validate_choice=False)


class AssignForm(FlaskForm):
    user = SelectField("user", choices=[], validate_choice=False)


class TagForm(FlaskForm):
    tag = StringField("tag", validators=[DataRequired(), Length(max=casework.MAX_TAG * 2)], filters=[no_controls])


class RevealForm(FlaskForm):
    reason = TextAreaField("reason", validators=[DataRequired(), Length(min=10, max=500)], filters=[no_controls])
    # Required when the reporter did not agree to be contacted (safety rule 1): an emergency override.
    emergency = BooleanField("emergency")


class UserForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(min=3, max=64)], filters=[no_controls])
    role = SelectField("role", choices=[(r, r) for r in scoping.ROLES])
    agency = SelectField("agency", choices=[], validate_choice=False)
    language = SelectField("language", choices=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES])


class AccountForm(FlaskForm):
    """An account's role, agency and language, as changed on its page."""

    role = SelectField("role", choices=[(r, r) for r in scoping.ROLES])
    agency = SelectField("agency", choices=[], validate_choice=False)
    language = SelectField("language", choices=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES])


class ActionForm(FlaskForm):
    """A button alone (disable, enable, reset): only its CSRF token."""


class MergeForm(FlaskForm):
    """Another report's number: the two are one event."""

    other = StringField("other", validators=[DataRequired(), Length(max=20)], filters=[no_controls])


def valid_or_400(form: FlaskForm) -> None:
    """A posted console form that does not validate is a 400 naming each field and what is wrong with
    it (a missing or expired CSRF token included), never a bare "Bad Request"."""
    if not form.validate_on_submit():
        problems = "; ".join(f"{name}: {' '.join(map(str, errors))}" for name, errors in form.errors.items())
        abort(400, problems or _("The form was not sent."))
