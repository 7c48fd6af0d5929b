"""The caseworkers' console at /console: server-rendered, small, usable on a phone browser.

Flask-Login sessions, CSRF on every form (Flask-WTF), per-user language (Flask-Babel),
and security headers with a Content-Security-Policy that allows nothing from outside.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from hotline.console import auth, views

LANGUAGES = ("en", "km")
"""Console languages."""

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
"""Nothing from another origin: the console works offline and on slow links."""

csrf = CSRFProtect()


def _locale() -> str:
    """The signed-in user's language, else the browser's."""
    if current_user.is_authenticated and current_user.language in LANGUAGES:
        return current_user.language
    return request.accept_languages.best_match(LANGUAGES) or "en"


class ConsoleSessions(SecureCookieSessionInterface):
    """Only the console has sessions. Webhooks, the partner API and /healthz never read or set a
    session cookie (a signed cookie costs a serializer on every request, and they need none)."""

    def open_session(self, app: Flask, request):  # noqa: ANN001, ANN201
        if not request.path.startswith("/console"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Register the console, its login, CSRF, languages and security headers."""
    settings = app.config["HOTLINE"]
    app.session_interface = ConsoleSessions()
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_SECURE", settings.production)
    app.config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=0))
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=8))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    # Only the console's forms carry CSRF tokens: webhooks are signed, the partner API uses bearer tokens.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(app.root_path + "/translations"))
    csrf.init_app(app)
    Babel(app, locale_selector=_locale)
    auth.init_app(app)
    app.register_blueprint(views.bp)

    @app.after_request
    def _security_headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/console"):
            response.headers.setdefault("Cache-Control", "no-store")
        if settings.production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.before_request
    def _permanent_session():  # noqa: ANN202
        if request.path.startswith("/console"):  # only the console has sessions
            session.permanent = True

    @app.context_processor
    def _console_context():  # noqa: ANN202
        from hotline import current_services

        from flask_babel import get_locale

        return {"line_name": current_services().directory.line.name, "view_names": app.view_functions,
                "get_locale": get_locale}
