"""hotline: an SMS/USSD reporting line for suspicious recruiters and missing migrants."""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from hotline.bodylimit import BoundedRequest
from hotline.settings import Settings

MAX_REQUEST_BYTES = 64 * 1024
"""Providers send a few hundred bytes; anything far larger is refused with 413, whether it says
its length (Content-Length) or not (chunked: `bodylimit`)."""


def create_app(test_config: dict | None = None) -> Flask:
    """Build the web app. `test_config` may hold a `settings` object and Flask config keys."""
    from hotline import services as services_module
    from hotline import api, console, health, simulator, voice
    from hotline.inbound import webhooks

    test_config = dict(test_config or {})
    settings = test_config.pop("settings", None) or Settings.from_env()
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = BoundedRequest
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
                      MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES, MAX_FORM_PARTS=200, HOTLINE=settings,
                      **console.cookie_config(settings))
    app.config.update(test_config)
    if settings.proxy_hops:
        # Behind that many trusted proxies, the client's address and scheme are the ones they forward.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Refuses to start on configuration errors: they are raised here with their lines.
    # No pre-ping: the webhooks run a step again on a dead connection (db.retry_on_disconnect).
    app.extensions["hotline"] = services_module.build(settings, pre_ping=False)
    webhooks.init_app(app)
    voice.init_app(app)
    api.init_app(app)
    console.init_app(app)
    health.init_app(app)
    if not settings.production:
        simulator.init_app(app)
    return app


def current_services(app: Flask | None = None):
    """The Services of the current (or given) app."""
    from flask import current_app

    return (app or current_app).extensions["hotline"]
