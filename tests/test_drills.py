"""Fault drills with real worker processes, a real Redis, the real database and a fake Twilio
that the official SDK talks to. Each drill asserts that every alert arrives exactly once."""
from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from hotline import queues
from hotline.models import OutboundMessage, Report
from tests.fakes import FakeTwilio, loopback_only
from tests.kit import TEST_ENV, RedisServer, Workers, post, ussd, wait_for

pytestmark = pytest.mark.drill

VILLAGE_LEADER, NGO = "+85512000001", "+85512999999"
RECRUITER_STEPS = ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
                   "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99", "1*14010101*99*99*99*99*99*2")


@pytest.fixture
def drill(app, settings, monkeypatch, tmp_path):
    """(fake Twilio, workers factory): workers send through the fake with fast retries and sweeps."""
    loopback_only(monkeypatch)
    fake = FakeTwilio(timeout_sleep=30)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_WEBHOOK_SECRET")}
    env.update(TEST_ENV, REDIS_URL=settings.redis_url, DATABASE_URL=settings.database_url, **fake.env(),
               HOTLINE_RETRY_INTERVALS="0,0,0", HOTLINE_SWEEP_SECONDS="1", HOTLINE_SWEEP_GRACE_SECONDS="1",
               HOTLINE_CLAIM_SECONDS="3", HOTLINE_PROVIDER_TIMEOUT="2", PYTHONUNBUFFERED="1")
    env.pop("PUBLIC_BASE_URL", None)
    workers = Workers(env, tmp_path)
    yield fake, workers
    workers.stop_all()
    fake.close()


def report(client, session_id: str, phone: str = "+85512345678") -> None:
    """A worrying job offer in Angkrong village (village leader + partner NGO by SMS)."""
    for full in RECRUITER_STEPS:
        ussd(client, session_id, full, phone)


def accepted(fake) -> collections.Counter:
    return collections.Counter(m["to"] for m in fake.accepted)


def all_alerts_final(services) -> bool:
    with services.Session() as session:
        statuses = session.scalars(select(OutboundMessage.status).where(OutboundMessage.purpose == "alert")).all()
    return bool(statuses) and all(s in ("queued", "sent", "delivered", "failed") for s in statuses)


def test_worker_killed_in_the_middle_of_a_send(client, services, drill):
    fake, workers = drill
    fake.script(["timeout"])                       # the first send hangs at the provider...
    worker = workers.start()
    report(client, "ATUid_kill")
    wait_for(lambda: fake.requests, what="a send to start")
    workers.kill(worker)                           # ...and the worker dies with it in flight
    assert fake.accepted == []
    workers.start()
    wait_for(lambda: sum(accepted(fake).values()) >= 2 and all_alerts_final(services), what="alerts after restart")
    time.sleep(2)                                  # a doubled send would show up now
    assert accepted(fake) == {VILLAGE_LEADER: 1, NGO: 1}


def test_redis_flushed_with_reports_in_flight(client, services, drill):
    fake, workers = drill
    for i in range(3):
        report(client, f"ATUid_flush{i}", phone=f"+8551234567{i}")
    services.redis.flushall()                      # Redis restarted without its data: every job is gone
    workers.start()
    wait_for(lambda: sum(accepted(fake).values()) >= 6 and all_alerts_final(services), what="alerts after flush")
    time.sleep(2)
    assert accepted(fake) == {VILLAGE_LEADER: 3, NGO: 3}
    with services.Session() as session:
        assert set(session.scalars(select(Report.routing))) == {"routed"}


def test_provider_failing_twice_and_timing_out_once(client, services, drill):
    fake, workers = drill
    fake.timeout_sleep = 4                         # longer than HOTLINE_PROVIDER_TIMEOUT=2
    fake.script(["500", "500", "timeout"])
    workers.start()
    report(client, "ATUid_flaky")
    wait_for(lambda: sum(accepted(fake).values()) >= 2 and all_alerts_final(services), what="alerts after failures")
    time.sleep(2)
    assert accepted(fake) == {VILLAGE_LEADER: 1, NGO: 1}
    assert len(fake.requests) == 5


def test_duplicated_status_callbacks_change_nothing(client, services, drill):

    fake, workers = drill
    workers.start()
    report(client, "ATUid_dup")
    wait_for(lambda: sum(accepted(fake).values()) >= 2 and all_alerts_final(services), what="alerts")
    for message in fake.accepted:
        for status in ("delivered", "delivered", "sent"):
            body = f"MessageSid={message['id']}&MessageStatus={status}&To=%2B85512000001"
            assert post(client, "twilio", "/webhooks/twilio/status", body, "valid").status_code == 200
    with services.Session() as session:
        statuses = session.scalars(select(OutboundMessage.status).where(OutboundMessage.purpose == "alert")).all()
    assert sorted(statuses) == ["delivered", "delivered"]
    assert accepted(fake) == {VILLAGE_LEADER: 1, NGO: 1}


def test_web_process_restarted_in_the_middle_of_a_ussd_session(client, services, settings):
    from hotline import create_app

    report_steps = RECRUITER_STEPS
    for full in report_steps[:4]:
        ussd(client, "ATUid_restart", full)
    fresh = create_app({"settings": settings, "TESTING": True}).test_client()   # a new web process
    for full in report_steps[4:]:
        last = ussd(fresh, "ATUid_restart", full)
    assert last.startswith("END ")
    with services.Session() as session:
        assert session.scalars(select(Report.area_code)).one() == "14010101"


REDIS_OUTAGE_SECONDS = 20
"""How long the drills keep Redis away: far longer than redis-py's own retries of a command
(about 3 s) and rq's first reconnect attempts, which is all a worker survived before."""


@pytest.fixture
def own_redis(services, drill, tmp_path):
    """A Redis server of this test's own (so it can be stopped), used by the web app and the workers."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    _, workers = drill
    workers.env["REDIS_URL"] = server.url
    session_redis = services.redis
    services.redis = Redis.from_url(server.url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
    yield server
    workers.stop_all()
    services.redis.close()
    services.redis = session_redis
    server.stop()


def live_workers(url: str) -> int:
    """How many rq workers are registered in the Redis at `url`."""
    with Redis.from_url(url) as connection:
        return len(Worker.all(connection=connection))


def report_in_one_step(client, session_id: str, phone: str) -> str:
    """The whole recruiter report in one USSD request (a dropped session replays its inputs); the answer."""
    return ussd(client, session_id, RECRUITER_STEPS[-1], phone)


@pytest.mark.parametrize("busy, keep_data", [(True, True), (False, False)],
                         ids=["mid-send-with-its-data", "idle-without-its-data"])
def test_worker_rides_out_a_redis_restart(client, services, drill, own_redis, busy, keep_data):
    fake, workers = drill
    if busy:
        fake.timeout_sleep = 4                     # longer than HOTLINE_PROVIDER_TIMEOUT=2
        fake.script(["timeout"])                   # the first send hangs at the provider
    worker = workers.start()
    wait_for(lambda: live_workers(own_redis.url) == 1, what="the worker to register")
    report(client, "ATUid_before", phone="+85512345670")
    if busy:
        wait_for(lambda: fake.requests, what="a send to start")
    else:
        wait_for(lambda: sum(accepted(fake).values()) >= 2 and all_alerts_final(services), what="alerts before")

    own_redis.stop()                               # Redis goes away (in the middle of that send, if busy)
    down_at = time.monotonic()
    assert report_in_one_step(client, "ATUid_down", "+85512345671").startswith("END ")
    with services.Session() as session:            # the report made meanwhile waits in the database
        assert session.scalars(select(Report.routing).where(Report.routing == "pending")).all() == ["pending"]
    health = client.get("/healthz")                # what an operator's probe sees meanwhile
    assert health.status_code == 503 and set(health.get_json()["failing"]) == {"redis", "workers"}
    time.sleep(max(0.0, REDIS_OUTAGE_SECONDS - (time.monotonic() - down_at)))
    assert worker.poll() is None, "the worker died while Redis was away:\n" + workers.logs()[-3000:]
    own_redis.start(keep_data=keep_data)           # Redis comes back, with or without its data

    report(client, "ATUid_after", phone="+85512345672")
    wait_for(lambda: sum(accepted(fake).values()) >= 6 and all_alerts_final(services), 90,
             what="alerts of the reports made before, during and after the outage")
    time.sleep(2)                                  # a doubled send would show up now
    assert accepted(fake) == {VILLAGE_LEADER: 3, NGO: 3}
    with services.Session() as session:
        assert set(session.scalars(select(Report.routing))) == {"routed"}
    assert worker.poll() is None, workers.logs()[-3000:]
    assert live_workers(own_redis.url) == 1        # registered again, if Redis lost it
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["workers"] == {"ok": True, "alive": 1}
    with Redis.from_url(own_redis.url) as connection:  # and its scheduler runs what falls due
        job = queues.queue(queues.DEFAULT, connection).enqueue_in(timedelta(seconds=1), "workers.jobs.sweep_outbox")
        wait_for(lambda: job.get_status() == "finished", 30, "a scheduled job to run after the outage")
    logs = workers.logs()
    assert "unhandled exception" not in logs and "redis.exceptions" not in logs, logs[-3000:]
    assert logs.count("Redis unavailable") == 1, logs[-3000:]   # one warning for the whole outage


def test_a_worker_started_while_redis_is_away_waits_for_it(drill, own_redis):
    _, workers = drill
    own_redis.stop()
    worker = workers.start()
    time.sleep(3)
    assert worker.poll() is None, workers.logs()
    own_redis.start(keep_data=False)
    wait_for(lambda: live_workers(own_redis.url) == 1, 30, "the worker to register once Redis is there")
    assert workers.logs().count("Redis unavailable") == 1
    # It stops when asked, even in its first maintenance and sweep (rq's stop handlers are in by then;
    # a SIGTERM before them ends the process by default, which is as good while no job runs).
    wait_for(lambda: "cleaning registries" in workers.logs(), 30, "the worker's first maintenance")
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        code = worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = "still running 10 s after SIGTERM"
    assert code == 0, workers.logs()


def test_a_worker_stops_at_once_while_redis_is_away(drill, own_redis):
    _, workers = drill
    worker = workers.start()
    wait_for(lambda: live_workers(own_redis.url) == 1, what="the worker to register")
    own_redis.stop()
    wait_for(lambda: "Redis unavailable" in workers.logs(), 30, "the worker to notice the outage")
    os.killpg(worker.pid, signal.SIGTERM)          # a deploy or a scale-down during the outage
    assert worker.wait(timeout=15) == 0, workers.logs()
    assert "Traceback" not in workers.logs(), workers.logs()


DATABASE_OUTAGE_SECONDS = 10
"""How long the database drill keeps the database away: several of a job's retries (1, 2, 4, 8 s)."""


@contextlib.contextmanager
def database_away(services, url: str):
    """The database refuses every new connection until the block ends; connections opened before keep
    working, so the drill starts its worker inside the block. SQLite: a directory where its file was.
    PostgreSQL: a connection limit of 0 on the test database (the test's role must not be a superuser)."""
    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        away = path.with_name(path.name + ".away")
        path.rename(away)
        path.mkdir()
        try:
            yield
        finally:
            path.rmdir()
            away.rename(path)
        return
    with services.db_autocommit.connect() as conn:
        if conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
            pytest.skip("a superuser ignores connection limits: run the suite as the database's owner (.ci/run does)")
        name = conn.execute(text("SELECT current_database()")).scalar()
        conn.execute(text(f'ALTER DATABASE "{name}" CONNECTION LIMIT 0'))
        try:
            yield
        finally:
            conn.execute(text(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1'))


def test_worker_rides_out_a_database_outage(client, services, settings, drill):
    fake, workers = drill
    report(client, "ATUid_db1", phone="+85512345670")      # stored; its routing waits for a worker
    with database_away(services, settings.database_url):
        worker = workers.start()                           # every job and sweep meets the outage
        wait_for(lambda: "database unavailable" in workers.logs(), 30, "the worker to meet the outage")
        time.sleep(DATABASE_OUTAGE_SECONDS)
        assert worker.poll() is None, workers.logs()[-3000:]
        assert fake.accepted == []
    wait_for(lambda: sum(accepted(fake).values()) >= 2, 60, "alerts once the database is back")
    restart = os.environ.get("HOTLINE_TEST_PG_RESTART")
    if settings.database_url.startswith("postgresql") and restart:
        subprocess.run(restart, shell=True, check=True, timeout=120)   # then the server restarts under it
        services.db.dispose()                              # this process's pool too (the web app does not pre-ping)
    report(client, "ATUid_db2", phone="+85512345671")
    wait_for(lambda: sum(accepted(fake).values()) >= 4 and all_alerts_final(services), 90,
             what="alerts of the reports made before and after the outage")
    time.sleep(2)                                          # a doubled send would show up now
    assert accepted(fake) == {VILLAGE_LEADER: 2, NGO: 2}
    assert worker.poll() is None, workers.logs()[-3000:]
    assert client.get("/healthz").status_code == 200
    logs = workers.logs()                                  # each outage said once as it starts and once as it ends
    assert 1 <= logs.count("database unavailable") == logs.count("database is back"), logs[-3000:]
    assert "Traceback" not in logs and "[SQL" not in logs, logs[-3000:]
