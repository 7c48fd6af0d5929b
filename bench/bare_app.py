"""The bare baselines for bench/webhooks.py: Flask with one route per provider, fixed answers.

Served by gunicorn with the Procfile's own settings, like the real app:
`gunicorn ... 'bench.bare_app:create_app()'` from the repository root. It answers on the
real app's paths so the same wrk scripts drive both, and reads nothing of the request:
whatever the real app costs above this is the line's own work (form parsing, checks,
database, Redis), not Flask's, gunicorn's or the network's.

`bench.bare_app:create_app(redis_round_trips=True)` is the floor: the same fixed answers,
after the two Redis round trips every real step makes through the real code
(`hotline.inbound.conversations.open_step` before the engine, `finish_step` after it), on a new
phone and message each time. What the real app costs above the floor is everything but
those round trips: form parsing, checks, the engine, the database, the queue.

`bench.bare_app:create_app(redis_round_trips=True, store=True)` is the storing floor, for the
steps that store a report: the floor, and between its two round trips the least a report's
storage can be under the safety rules (stored before the reporter is told, the number
encrypted): the phone number Fernet-encrypted and hashed, one row inserted through the raw
database driver on a pooled connection, committed. No event, no stored answer, no routing job.
No implementation of a storing step that keeps the contract can cost less than this.
"""
from __future__ import annotations

import itertools
import os

from flask import Flask, Response

USSD_ANSWER = "CON hello"
TWIML_ANSWER = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>hello</Message></Response>'


def create_app(redis_round_trips: bool = False, store: bool = False) -> Flask:
    """The bare app: a fixed `CON hello` for USSD and a fixed TwiML message for Twilio SMS;
    with `redis_round_trips`, each answer comes after a real step's two Redis round trips;
    with `store` too, a report row is committed between them."""
    if store and not redis_round_trips:
        raise ValueError("the storing floor is the floor plus a stored row: pass redis_round_trips=True")
    app = Flask(__name__)
    round_trips = _round_trips(_store_row() if store else None) if redis_round_trips else (lambda channel: None)

    @app.post("/webhooks/africastalking/ussd")
    def ussd() -> Response:
        round_trips("ussd")
        return Response(USSD_ANSWER, mimetype="text/plain")

    @app.post("/webhooks/twilio/sms")
    def sms() -> Response:
        round_trips("sms")
        return Response(TWIML_ANSWER, content_type="text/xml")

    return app


def _round_trips(store=None):
    """A function making one step's Redis round trips, with the real app's code and key shapes
    (and `store(phone, number)` between them, if given)."""
    from redis import Redis

    from hotline.inbound import conversations

    redis = Redis.from_url(os.environ["REDIS_URL"])
    counter = itertools.count()
    state = {"sid": "s", "step": "menu", "answers": {}}

    def run(channel: str) -> None:
        n = next(counter)
        pid = os.getpid()  # --preload builds the app before gunicorn forks its workers
        phone, message = f"floor{pid}p{n}", f"floor{pid}m{n}"
        conversations.open_step(redis, "floor", message, channel, phone, 10**9)
        if store is not None:
            store(f"+8551{n % 10**8:08d}", f"{pid}-{n}")
        conversations.finish_step(redis, "floor", message, channel, phone, state, (USSD_ANSWER, False), None)

    return run


_FLOOR_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS bench_floor_reports (id INTEGER PRIMARY KEY AUTOINCREMENT, "
              "number VARCHAR(32) NOT NULL UNIQUE, type VARCHAR(16) NOT NULL, area_code VARCHAR(16), "
              "reporter_phone BLOB, reporter_hash VARCHAR(64), created_at TIMESTAMP NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS bench_floor_reports (id BIGSERIAL PRIMARY KEY, "
                  "number VARCHAR(32) NOT NULL UNIQUE, type VARCHAR(16) NOT NULL, area_code VARCHAR(16), "
                  "reporter_phone BYTEA, reporter_hash VARCHAR(64), created_at TIMESTAMP NOT NULL)",
}


def _store_row():
    """A function committing one report-shaped row with an encrypted number: the least storage a
    report needs. The real app's engine settings (on SQLite: WAL, and SQLite's default FULL sync), the raw
    driver."""
    from datetime import datetime, timezone

    from cryptography.fernet import Fernet

    from hotline.db import make_engine
    from hotline.vault import Vault

    url = os.environ["DATABASE_URL"]
    engine = make_engine(url, pre_ping=False)
    dialect = engine.dialect.name
    with engine.begin() as conn:
        conn.exec_driver_sql(_FLOOR_TABLE[dialect])
    engine.dispose()  # --preload: each worker opens its own connections after the fork
    mark = "?" if dialect == "sqlite" else "%s"
    insert = (f"INSERT INTO bench_floor_reports (number, type, area_code, reporter_phone, reporter_hash, created_at) "
              f"VALUES ({', '.join([mark] * 6)})")
    vault = Vault(Fernet.generate_key().decode())

    def store(phone: str, number: str) -> None:
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute(insert, (number, "urgent", "14010101", vault.encrypt(phone), vault.lookup_hash(phone),
                                    datetime.now(timezone.utc).replace(tzinfo=None)))
            cursor.close()
            conn.commit()
        finally:
            conn.close()

    return store
