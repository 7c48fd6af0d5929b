"""The benchmark's baselines do what bench/README.md says they do: the webhook ratios and the
floors published in the README are only as true as these apps."""
from __future__ import annotations

import pytest
from redis import Redis
from sqlalchemy import text

from bench import bare_app
from hotline import db

USSD = "/webhooks/africastalking/ussd"
SMS = "/webhooks/twilio/sms"


def _post(app, path):
    return app.test_client().post(path, data={"text": "3*14010101"})


def test_bare_app_answers_fixed_replies_and_touches_nothing(settings):
    redis = Redis.from_url(settings.redis_url)
    redis.flushdb()
    app = bare_app.create_app()
    assert _post(app, USSD).get_data(as_text=True) == bare_app.USSD_ANSWER
    assert _post(app, SMS).get_data(as_text=True) == bare_app.TWIML_ANSWER
    assert redis.dbsize() == 0


def test_floor_makes_a_steps_two_redis_round_trips_on_a_new_phone_each_time(settings):
    redis = Redis.from_url(settings.redis_url)
    redis.flushdb()
    app = bare_app.create_app(redis_round_trips=True)
    for _ in range(3):
        assert _post(app, USSD).get_data(as_text=True) == bare_app.USSD_ANSWER
    seen = [k for k in redis.scan_iter("*") if b"floor" in k]
    # Three messages remembered for resends and three conversations kept, one per request.
    assert len(seen) >= 6
    assert len(set(redis.scan_iter("hotline:rate:*"))) == 3


def test_storing_floor_commits_one_row_per_request_with_the_number_encrypted(settings):
    Redis.from_url(settings.redis_url).flushdb()
    app = bare_app.create_app(redis_round_trips=True, store=True)
    engine = db.make_engine(settings.database_url)
    try:
        for path, answer in ((USSD, bare_app.USSD_ANSWER), (SMS, bare_app.TWIML_ANSWER), (USSD, bare_app.USSD_ANSWER)):
            assert _post(app, path).get_data(as_text=True) == answer
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT number, reporter_phone, reporter_hash FROM bench_floor_reports")).all()
        assert len(rows) == 3
        assert len({r.number for r in rows}) == 3
        for r in rows:
            assert b"+855" not in bytes(r.reporter_phone)  # Fernet token, not the number
            assert len(r.reporter_hash) == 64
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS bench_floor_reports"))
        engine.dispose()


def test_storing_floor_needs_the_round_trips():
    with pytest.raises(ValueError, match="redis_round_trips"):
        bare_app.create_app(store=True)
