"""The caseworkers' console at /console: server-rendered, small, usable on a phone browser.

Flask-Login sessions held open on the server (`sessions`), CSRF on every form (Flask-WTF),
per-user language (Flask-Babel), and security headers with a Content-Security-Policy that
allows nothing from outside.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from hotline import localtime
from hotline.console import auth, sessions, views
from hotline.console import admin, dashboard, delivery, directory_page, followup, linked, voice_pages  # noqa: F401  (their routes join views.bp)
from hotline.console.accounts import LANGUAGES

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


def cookie_config(settings) -> dict:
    """Flask's settings for the console's session cookie. Flask defines these keys itself, so they are
    set outright (create_app applies them before a test's own config, which may still override them)."""
    return {"SESSION_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": settings.production,
            "PERMANENT_SESSION_LIFETIME": timedelta(seconds=sessions.ABSOLUTE_SECONDS)}


def init_app(app: Flask) -> None:
    """Register the console, its login, CSRF, languages and security headers."""
    settings = app.config["HOTLINE"]
    app.session_interface = ConsoleSessions()
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", sessions.ABSOLUTE_SECONDS)
    # Only the console's forms carry CSRF tokens: webhooks are signed, the partner API uses bearer tokens.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(app.root_path + "/translations"))
    csrf.init_app(app)
    Babel(app, locale_selector=_locale)
    auth.init_app(app)
    app.register_blueprint(views.bp)

    fixed = [("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
             ("Referrer-Policy", "no-referrer")]
    if settings.production:
        fixed.append(("Strict-Transport-Security", "max-age=31536000"))
    console_only = [("Cache-Control", "no-store")]

    @app.after_request
    def _security_headers(response):  # noqa: ANN001, ANN202
        # On every answer, webhooks' too; a header the view set itself is kept. One pass over the
        # answer's few headers instead of a lookup for each (this runs on every webhook step).
        headers = response.headers
        have = {name.lower() for name in headers.keys()}
        add = fixed + console_only if request.path.startswith("/console") else fixed
        headers.extend([(name, value) for name, value in add if name.lower() not in have])
        return response

    def _permanent_session():  # noqa: ANN202
        # The cookie expires with PERMANENT_SESSION_LIFETIME; the server ends the session whatever it says.
        session.permanent = True

    # The console's own hooks run on its blueprints only (webhooks never pay for them), ahead of
    # the blueprints' CSRF checks, in the order they had as app-wide hooks.
    for blueprint in (auth.bp, views.bp):
        app.before_request_funcs.setdefault(blueprint.name, [])[:0] = [auth.check_session, _permanent_session]

    @app.context_processor
    def _console_context():  # noqa: ANN202
        from hotline import current_services

        from flask_babel import get_locale

        return {"line_name": current_services().directory.line.name, "view_names": app.view_functions,
                "get_locale": get_locale, "words": views.words() if request.path.startswith("/console") else None,
                "zone_name": settings.timezone}

    @app.template_filter("localtime")
    def _localtime(moment):  # noqa: ANN001, ANN202
        # Every time a page shows: in HOTLINE_TIMEZONE, followed by the zone (docs/contract.md section 7).
        return localtime.shown(moment, localtime.zone(settings.timezone))
