"""GET /healthz: 200 only while the line can do its work (database, Redis, a live worker, no report
waiting unrouted too long), else 503 naming what fails; no secrets and no personal data."""
from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import update

from hotline import queues
from hotline.models import Report, utcnow
from hotline.settings import Settings, SettingsError
from tests.kit import REPORTER, ussd


def health(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.get_json()


def test_healthy_with_a_live_worker_and_nothing_waiting(client, live_worker):
    code, doc = health(client)
    assert code == 200 and doc["ok"] is True and doc["failing"] == {}
    assert doc["workers"] == {"ok": True, "alive": 1}
    assert doc["database"]["unrouted_alert_seconds"] == 300


def test_unhealthy_while_no_worker_is_alive_then_healthy_once_one_registers(client, services):
    code, doc = health(client)
    assert code == 503 and doc["ok"] is False
    assert doc["workers"] == {"ok": False, "alive": 0}
    assert list(doc["failing"]) == ["workers"] and "heartbeat" in doc["failing"]["workers"]
    assert doc["database"]["ok"] and doc["redis"]["ok"]               # the other checks still say what they see

    connection = Redis.from_url(services.settings.redis_url)       # rq changes its connection's socket timeout
    worker = SimpleWorker([queues.queue(n, connection) for n in queues.ALL], connection=connection)
    worker.register_birth()                                           # a worker starts
    try:
        code, doc = health(client)
        assert code == 200 and doc["ok"] is True and doc["workers"] == {"ok": True, "alive": 1}
    finally:
        worker.register_death()                                       # and stops again
        connection.close()
    assert health(client)[0] == 503


@pytest.fixture
def silent_worker(services):
    """A worker registered in rq that sends no heartbeat after its first."""
    connection = Redis.from_url(services.settings.redis_url)
    worker = SimpleWorker([queues.queue(n, connection) for n in queues.ALL], connection=connection)
    worker.register_birth()
    yield worker
    worker.register_death()
    connection.close()


def test_a_worker_whose_heartbeat_is_old_is_not_alive(client, services, silent_worker):
    assert health(client)[0] == 200
    limit = queues.heartbeat_limit(services.settings)
    old = (utcnow() - timedelta(seconds=limit + 5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    services.redis.hset(silent_worker.key, "last_heartbeat", old)    # died without saying so: its key lives on
    code, doc = health(client)
    assert code == 503 and doc["workers"]["alive"] == 0 and "workers" in doc["failing"]


def test_unhealthy_while_a_report_waits_unrouted_longer_than_the_limit(client, services, live_worker):
    assert ussd(client, "ATUid_h1", "3*14010101*2").startswith("END ")  # stored; no worker routes it here
    code, doc = health(client)
    assert code == 200 and doc["database"]["unrouted_reports"] == 1   # waiting, but not long yet
    with services.Session.begin() as session:
        session.execute(update(Report).values(created_at=utcnow() - timedelta(seconds=301)))
    code, doc = health(client)
    assert code == 503 and doc["ok"] is False and list(doc["failing"]) == ["unrouted_reports"]
    assert doc["database"]["oldest_unrouted_seconds"] >= 301
    assert "HOTLINE_UNROUTED_ALERT_SECONDS" in doc["failing"]["unrouted_reports"]
    services.settings.unrouted_alert_seconds = 600                    # an operator's longer limit
    assert health(client)[0] == 200


def test_unhealthy_while_redis_is_away(client, services, live_worker):
    services.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    code, doc = health(client)
    assert code == 503 and doc["redis"] == {"ok": False, "error": "ConnectionError"}
    assert set(doc["failing"]) == {"redis", "workers"} and doc["workers"]["alive"] is None


def test_health_holds_no_personal_data_and_no_secrets(client, services, live_worker):
    ussd(client, "ATUid_h2", "3*14010101*2")
    text = client.get("/healthz").get_data(as_text=True)
    for private in (REPORTER, REPORTER[1:], services.settings.secret_key, services.settings.data_key,
                    services.settings.redis_url, services.settings.database_url):
        assert private not in text


@pytest.mark.parametrize("raw, expected", [(None, 300), ("900", 900), ("1", 1)])
def test_the_unrouted_limit_is_a_setting(raw, expected):
    env = {} if raw is None else {"HOTLINE_UNROUTED_ALERT_SECONDS": raw}
    assert Settings.from_env(environ=env).unrouted_alert_seconds == expected


@pytest.mark.parametrize("raw", ["0", "-5", "five minutes", "1.5"])
def test_a_wrong_unrouted_limit_is_refused(raw):
    with pytest.raises(SettingsError, match="HOTLINE_UNROUTED_ALERT_SECONDS"):
        Settings.from_env(environ={"HOTLINE_UNROUTED_ALERT_SECONDS": raw})


def test_a_heartbeat_that_cannot_be_read_counts_as_none(client, services, silent_worker):
    services.redis.hset(silent_worker.key, "last_heartbeat", "not a time")
    code, doc = health(client)
    assert code == 503 and doc["workers"]["alive"] == 0
