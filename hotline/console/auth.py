"""Sign-in (throttled, in constant time per password), server-held sessions and roles. The
account functions themselves (create, disable, reset...) are in `accounts`."""
from __future__ import annotations

import secrets
from functools import cache, wraps

from flask import (Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from hotline import audit
from hotline.channels.base import clean_text
from hotline.console import passwords, sessions, throttle
from hotline.console.accounts import create_user, set_active  # noqa: F401  (the account functions' old home)
from hotline.models import ConsoleSession, User, utcnow

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
    """The account for a session, if the account is active and the server still holds the session open."""
    sid = session.get(sessions.KEY)
    if not (user_id.isascii() and user_id.isdigit()) or not isinstance(sid, str):
        return None
    with services().Session.begin() as db:
        found = db.execute(select(User, ConsoleSession).join(ConsoleSession, ConsoleSession.user_id == User.id)
                           .where(User.id == int(user_id), ConsoleSession.id == sid)).first()
        if found is None or not found[0].active or not sessions.still_open(found[1], utcnow()):
            return None
        return Account(found[0])


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


@cache
def _dummy_hash() -> str:
    """A password hash of the same method and cost as real ones, of a password nobody knows."""
    return passwords.make(secrets.token_urlsafe(16))


def _password_ok(user: User | None, password: str) -> bool:
    """The password checks out for an active user. An unknown or disabled user costs the same hash
    check, so the time an answer takes does not tell which usernames exist."""
    if user is None or not user.active:
        passwords.check(_dummy_hash(), password)
        return False
    return passwords.check(user.password_hash, password)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in; a browser that signs in becomes a known device of the account."""
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("console/login.html", form=form, error=None), status
    username, address = form.username.data.strip(), request.remote_addr or "?"
    secret = current_app.secret_key
    known = throttle.known_accounts(request.cookies.get(throttle.DEVICE_COOKIE), secret)
    s = services()
    with s.Session.begin() as db:
        user = db.scalar(select(User).where(User.username == username))
        limited = throttle.throttled(s.redis, username, address, user is not None and user.id in known)
        ok = not limited and _password_ok(user, form.password.data)
        if ok:
            user.last_login_at = utcnow()
            audit.record(db, f"user:{user.username}", "auth.login")
            sessions.end(db, session.get(sessions.KEY), user.last_login_at)  # a sign-in over a session replaces it
            sid = sessions.start(db, user.id, user.last_login_at)
            account = Account(user)
    if limited:
        return render_template("console/login.html", form=form,
                               error=_("Too many failed attempts. Wait 15 minutes and try again.")), 429
    if not ok:
        throttle.count_failure(s.redis, username, address)
        return render_template("console/login.html", form=form, error=_("Wrong username or password.")), 401
    throttle.forget_pair(s.redis, username, address)
    session.clear()
    login_user(account)
    session[sessions.KEY] = sid
    response = redirect(url_for("auth.password" if account.must_change_password else "console.reports"))
    response.set_cookie(throttle.DEVICE_COOKIE, throttle.device_cookie(known, account.id, secret),
                        max_age=throttle.DEVICE_SECONDS, path="/console", httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def _sign_out() -> None:
    """Forget the signed-in user in this browser."""
    logout_user()
    session.clear()


@bp.post("/logout")
@login_required
def logout():
    """Sign out: this session ends on the server too, so a copy of its cookie opens nothing."""
    with services().Session.begin() as db:
        sessions.end(db, session.get(sessions.KEY), utcnow())
    _sign_out()
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    """Sign out on every browser and device: every session of the user ends."""
    with services().Session.begin() as db:
        sessions.end_all(db, current_user.id, utcnow())
        audit.record(db, current_user.actor, "auth.logout_everywhere")
    _sign_out()
    flash(_("You are signed out everywhere."))
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's password (required after a one-time password). Every session of the user ends; this
    browser goes on in a new one, so a copy of its cookie stops working too."""
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        with services().Session.begin() as db:
            user = db.get(User, current_user.id)
            if not passwords.check(user.password_hash, form.current.data):
                error = _("The current password is wrong.")
            else:
                user.password_hash = passwords.make(form.new.data)
                user.must_change_password = False
                sid = sessions.rotate(db, session.get(sessions.KEY), user.id, utcnow())
                audit.record(db, current_user.actor, "auth.password")
        if error is None:
            session[sessions.KEY] = sid
            flash(_("Password changed. You are signed out on every other browser and device."))
            return redirect(url_for("console.reports"))
    elif request.method == "POST":
        error = _("The new password needs at least %(n)d characters, typed twice the same.", n=MIN_PASSWORD)
    return render_template("console/password.html", form=form, error=error), 400 if error else 200


def check_session():
    """Clear a cookie whose session is over; send users with a one-time password to change it (the
    console's blueprints run it before each of their views)."""
    if not current_user.is_authenticated:
        if "_user_id" in session:  # signed in once, but the server ended the session (or the account)
            session.clear()
        return None
    allowed = ("auth.password", "auth.logout", "auth.logout_everywhere", "static", "console.static")
    if current_user.must_change_password and request.endpoint not in allowed:
        return redirect(url_for("auth.password"))
    return None


def init_app(app: Flask) -> None:
    """Set up Flask-Login and the sign-in views."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.register_blueprint(bp)
