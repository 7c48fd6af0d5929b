"""Provider webhooks: the only code that reads Flask's request for them.

Every provider endpoint is registered from the provider's own list, so a provider module
is one unit of work. Bad input is answered 4xx naming the problem, never 500.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from hotline import channels
from hotline.inbound import intake
from hotline.channels.base import Answer, Endpoint, Provider, Rejected, WebRequest

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _web_request(country: str) -> WebRequest:
    """The current request as plain data (its form parsed, or its raw body read, only if asked)."""
    return WebRequest(url_source=lambda: request.url, path=request.path,
                      query_string=request.query_string.decode("latin-1"), args=request.args,
                      form_source=lambda: request.form, headers=request.headers, method=request.method,
                      body_source=lambda: request.get_data(cache=True), country=country)


def _view(provider: Provider, endpoint: Endpoint):
    """A view function for one provider endpoint."""

    def view() -> Response:
        from hotline import current_services

        s = current_services()
        try:
            request.get_data(cache=True)  # the whole body first: one too long is a 413 before anything else
            req = _web_request(s.directory.line.country)
            provider.authenticate(req, s.settings.provider(provider.slug), s.settings)
            parsed = endpoint.parse(req)
        except Rejected as exc:
            return Response(exc.message + "\n", status=exc.status, mimetype="text/plain")
        except HTTPException as exc:  # too large, undecodable form
            return Response(f"{exc.name}: {exc.description}\n", status=exc.code or 400, mimetype="text/plain")
        if endpoint.kind == "message":
            answer = intake.handle_message(s, parsed)
            if not parsed.inline_reply:
                answer = Answer("", True)
            body, mimetype = endpoint.render(answer)
            return Response(body, status=200, content_type=mimetype)
        if endpoint.kind == "status":
            intake.handle_status(s, parsed)
        else:
            intake.handle_session_end(s, parsed)
        return Response("", status=200, mimetype="text/plain")

    view.__name__ = f"{provider.slug}_{endpoint.path.replace('/', '_')}"
    return view


for _provider in channels.PROVIDERS.values():
    for _endpoint in _provider.endpoints:
        bp.add_url_rule(f"/{_provider.slug}/{_endpoint.path}", view_func=_view(_provider, _endpoint),
                        methods=list(_endpoint.methods))


def init_app(app: Flask) -> None:
    """Register the webhooks and a JSON-free 4xx/5xx handler that never leaks details."""
    app.register_blueprint(bp)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # noqa: ANN202
        if isinstance(exc, HTTPException):
            return Response(f"{exc.name}: {exc.description}\n", status=exc.code or 500, mimetype="text/plain")
        # Logged without the request's form: it may hold a reporter's number or words.
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.path)
        return Response("Service temporarily unavailable; please try again.\n", status=503, mimetype="text/plain")
