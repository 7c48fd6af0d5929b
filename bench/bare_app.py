"""The bare baseline for bench/webhooks.py: Flask with one route per provider, fixed answers.

Served by gunicorn with the Procfile's own settings, like the real app:
`gunicorn ... 'bench.bare_app:create_app()'` from the repository root. It answers on the
real app's paths so the same wrk scripts drive both, and reads nothing of the request:
whatever the real app costs above this is the line's own work (form parsing, checks,
database, Redis), not Flask's, gunicorn's or the network's.
"""
from __future__ import annotations

from flask import Flask, Response

USSD_ANSWER = "CON hello"
TWIML_ANSWER = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>hello</Message></Response>'


def create_app() -> Flask:
    """The bare app: a fixed `CON hello` for USSD and a fixed TwiML message for Twilio SMS."""
    app = Flask(__name__)

    @app.post("/webhooks/africastalking/ussd")
    def ussd() -> Response:
        return Response(USSD_ANSWER, mimetype="text/plain")

    @app.post("/webhooks/twilio/sms")
    def sms() -> Response:
        return Response(TWIML_ANSWER, content_type="text/xml")

    return app
