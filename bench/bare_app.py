"""The bare baselines for bench/webhooks.py: Flask with one route per provider, fixed answers.

Served by gunicorn with the Procfile's own settings, like the real app:
`gunicorn ... 'bench.bare_app:create_app()'` from the repository root. It answers on the
real app's paths so the same wrk scripts drive both, and reads nothing of the request:
whatever the real app costs above this is the line's own work (form parsing, checks,
database, Redis), not Flask's, gunicorn's or the network's.

`bench.bare_app:create_app(redis_round_trips=True)` is the floor: the same fixed answers,
after the two Redis round trips every real step makes through the real code
(`hotline.conversations.open_step` before the engine, `finish_step` after it), on a new
phone and message each time. What the real app costs above the floor is everything but
those round trips: form parsing, checks, the engine, the database, the queue.
"""
from __future__ import annotations

import itertools
import os

from flask import Flask, Response

USSD_ANSWER = "CON hello"
TWIML_ANSWER = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>hello</Message></Response>'


def create_app(redis_round_trips: bool = False) -> Flask:
    """The bare app: a fixed `CON hello` for USSD and a fixed TwiML message for Twilio SMS;
    with `redis_round_trips`, each answer comes after a real step's two Redis round trips."""
    app = Flask(__name__)
    round_trips = _round_trips() if redis_round_trips else (lambda channel: None)

    @app.post("/webhooks/africastalking/ussd")
    def ussd() -> Response:
        round_trips("ussd")
        return Response(USSD_ANSWER, mimetype="text/plain")

    @app.post("/webhooks/twilio/sms")
    def sms() -> Response:
        round_trips("sms")
        return Response(TWIML_ANSWER, content_type="text/xml")

    return app


def _round_trips():
    """A function making one step's Redis round trips, with the real app's code and key shapes."""
    from redis import Redis

    from hotline import conversations

    redis = Redis.from_url(os.environ["REDIS_URL"])
    counter = itertools.count()
    state = {"sid": "s", "step": "menu", "answers": {}}

    def run(channel: str) -> None:
        n = next(counter)
        pid = os.getpid()  # --preload builds the app before gunicorn forks its workers
        phone, message = f"floor{pid}p{n}", f"floor{pid}m{n}"
        conversations.open_step(redis, "floor", message, channel, phone, 10**9)
        conversations.finish_step(redis, "floor", message, channel, phone, state, (USSD_ANSWER, False), None)

    return run
