"""Accounts: sign-in with throttling, sessions that expire, roles, and the users command."""
from __future__ import annotations

import secrets
import time
from functools import wraps

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from redis.exceptions import RedisError
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from hotline import audit
from hotline.channels.base import clean_text
from hotline.models import User, utcnow
from hotline.scoping import ROLES

IDLE_SECONDS = 30 * 60
"""A session unused this long is signed out."""

ACCOUNT_FAILURES, ADDRESS_FAILURES, FAILURE_WINDOW = 5, 20, 15 * 60
"""Failed sign-ins allowed per account and per address in the window (seconds)."""

MIN_PASSWORD = 12

bp = Blueprint("auth", __name__, url_prefix="/console")
login_manager = LoginManager()


@bp.before_request
def _csrf() -> None:
    """Every form posted to the console must carry its CSRF token."""
    from hotline.console import csrf

    csrf.protect()


class Account(UserMixin):
    """The signed-in user, detached from the database session."""

    def __init__(self, user: User):
        self.id, self.username, self.role = user.id, user.username, user.role
        self.agency_id, self.language = user.agency_id, user.language
        self.must_change_password = user.must_change_password

    def get_id(self) -> str:
        return str(self.id)

    @property
    def actor(self) -> str:
        """How the audit log and timelines name this user."""
        return f"user:{self.username}"


def services():
    """The app's Services."""
    from hotline import current_services

    return current_services()


@login_manager.user_loader
def _load(user_id: str) -> Account | None:
    """The account for a session, if it is still active."""
    if not user_id.isdigit():
        return None
    with services().Session() as db:
        user = db.get(User, int(user_id))
        return Account(user) if user is not None and user.active else None


def role_required(*roles: str):
    """Allow a view only to these roles (others get 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def no_controls(value):
    """A form filter: control characters (NUL above all, which PostgreSQL refuses) removed."""
    return clean_text(value) if isinstance(value, str) else value


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)], filters=[no_controls])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)], filters=[no_controls])


class PasswordForm(FlaskForm):
    current = PasswordField("current", validators=[DataRequired(), Length(max=200)], filters=[no_controls])
    new = PasswordField("new", validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)], filters=[no_controls])
    repeat = PasswordField("repeat", validators=[DataRequired(), EqualTo("new")], filters=[no_controls])


def _throttled(username: str, address: str) -> bool:
    """True when this account or this address failed too often recently."""
    r = services().redis
    try:
        counts = r.mget(f"hotline:login:user:{username.lower()}", f"hotline:login:addr:{address}")
    except RedisError:
        return False
    return int(counts[0] or 0) >= ACCOUNT_FAILURES or int(counts[1] or 0) >= ADDRESS_FAILURES


def _count_failure(username: str, address: str) -> None:
    """Count a failed sign-in against the account and the address."""
    try:
        pipe = services().redis.pipeline()
        for key in (f"hotline:login:user:{username.lower()}", f"hotline:login:addr:{address}"):
            pipe.incr(key)
            pipe.expire(key, FAILURE_WINDOW)
        pipe.execute()
    except RedisError:
        pass


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in."""
    form = LoginForm()
    address = request.remote_addr or "?"
    if form.validate_on_submit():
        username = form.username.data.strip()
        if _throttled(username, address):
            return render_template("console/login.html", form=form,
                                   error=_("Too many failed attempts. Wait 15 minutes and try again.")), 429
        s = services()
        with s.Session.begin() as db:
            user = db.scalar(select(User).where(User.username == username))
            ok = user is not None and user.active and check_password_hash(user.password_hash, form.password.data)
            if ok:
                user.last_login_at = utcnow()
                audit.record(db, f"user:{user.username}", "auth.login")
                account = Account(user)
        if not ok:
            _count_failure(username, address)
            return render_template("console/login.html", form=form, error=_("Wrong username or password.")), 401
        session.clear()
        login_user(account)
        session["seen"] = time.time()
        target = "auth.password" if account.must_change_password else "console.reports"
        return redirect(url_for(target))
    status = 400 if request.method == "POST" else 200
    return render_template("console/login.html", form=form, error=None), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's password (required after a one-time password)."""
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        with services().Session.begin() as db:
            user = db.get(User, current_user.id)
            if not check_password_hash(user.password_hash, form.current.data):
                error = _("The current password is wrong.")
            else:
                user.password_hash = generate_password_hash(form.new.data)
                user.must_change_password = False
                audit.record(db, current_user.actor, "auth.password")
        if error is None:
            flash(_("Password changed."))
            return redirect(url_for("console.reports"))
    elif request.method == "POST":
        error = _("The new password needs at least %(n)d characters, typed twice the same.", n=MIN_PASSWORD)
    return render_template("console/password.html", form=form, error=error), 400 if error else 200


def check_session():
    """Sign out idle sessions; send users with a one-time password to change it (the console's
    blueprints run it before each of their views)."""
    if not current_user.is_authenticated:
        return None
    now = time.time()
    if now - session.get("seen", 0) > IDLE_SECONDS:
        logout_user()
        session.clear()
        return redirect(url_for("auth.login"))
    session["seen"] = now
    allowed = ("auth.password", "auth.logout", "static", "console.static")
    if current_user.must_change_password and request.endpoint not in allowed:
        return redirect(url_for("auth.password"))
    return None


def create_user(s, username: str, role: str, agency_id: str | None = None, language: str = "en",
                actor: str = "system") -> str:
    """Create an account with a one-time password (returned once, never stored in the clear)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if agency_id is not None:
        contact = s.directory.contact(agency_id)
        if contact is None or contact.kind != "agency":
            raise ValueError(f"{agency_id!r} is no agency of the directory")
    one_time = secrets.token_urlsafe(12)
    with s.Session.begin() as db:
        if db.scalar(select(User.id).where(User.username == username)) is not None:
            raise ValueError(f"user {username!r} exists")
        db.add(User(username=username, password_hash=generate_password_hash(one_time), role=role,
                    agency_id=agency_id, language=language, active=True, must_change_password=True))
        audit.record(db, actor, "user.create", username, details={"role": role, "agency": agency_id})
    return one_time


def init_app(app: Flask) -> None:
    """Set up Flask-Login and the sign-in views."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.register_blueprint(bp)
