"""The worker's own parts, in-process against the test Redis and database: what counts as an outage,
one warning per outage, a job put back when the database was away, a worker registering again when
Redis lost it. The drills (tests/test_drills.py) run the same with real processes and real outages."""
from __future__ import annotations

import logging

import pytest
from redis import Redis
from rq import worker_registration
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from hotline import db, queues
from hotline.models import OutboundMessage, Report
from tests.kit import direct_report
from workers import outage
from workers.worker import HotlineJob, HotlineWorker


def _dbapi_error(cls, invalidated: bool = False):
    return cls("SELECT 1", {}, Exception("driver says no"), connection_invalidated=invalidated)


@pytest.mark.parametrize("error, down", [
    (_dbapi_error(OperationalError), True),                 # refused, closed, locked, cannot open the file
    (_dbapi_error(DBAPIError, invalidated=True), True),     # the connection died under a statement
    (_dbapi_error(IntegrityError), False),                  # a fault of the job, not an outage
    (_dbapi_error(DBAPIError), False),
    (ValueError("no"), False),
])
def test_what_counts_as_a_database_outage(error, down):
    assert outage.database_down(error) is down


def test_backoff_doubles_up_to_its_cap():
    waits = outage.waits()
    assert [next(waits) for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert outage.intervals() == [1, 2, 4, 8, 16, 30]


def test_an_outage_is_said_once_when_it_starts_and_once_when_it_ends(caplog):
    away = outage.Outage("database")
    with caplog.at_level(logging.INFO, logger="workers.outage"):
        for _ in range(5):
            away.down(_dbapi_error(OperationalError))
        away.up()
        away.up()
        away.down(_dbapi_error(OperationalError))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in lines] == ["WARNING", "INFO", "WARNING"]
    assert lines[0][1].startswith("database unavailable (OperationalError)")
    assert "driver says no" not in caplog.text and "SELECT" not in caplog.text  # only the error's type
    assert lines[1][1].startswith("database is back after")


@pytest.fixture
def database_away(services, tmp_path, monkeypatch):
    """Every new database session of this process fails to connect, as when the server is down."""
    monkeypatch.setattr(services, "Session", db.make_sessionmaker(db.make_engine(f"sqlite:///{tmp_path}")))
    monkeypatch.setattr(outage, "DATABASE", outage.Outage("database"))


def _worker(services) -> HotlineWorker:
    return HotlineWorker([queues.queue(n, services.redis) for n in queues.ALL], connection=services.redis,
                         job_class=HotlineJob)


def test_a_job_that_meets_a_database_outage_is_put_back_without_using_its_retries(services, database_away, caplog):
    from hotline.outbound.outbox import Work, enqueue

    enqueue(services, Work("workers.jobs.send_sms", 1, "sms-1"))          # a delivery, with its own retries
    queue = queues.queue(queues.DEFAULT, services.redis)
    retries = queue.fetch_job("sms-1").retries_left
    with caplog.at_level(logging.INFO):
        assert _worker(services).work(burst=True)                        # the worker does not stop
    job = queue.fetch_job("sms-1")
    assert job.get_status() == "scheduled" and "sms-1" in ScheduledJobRegistry(queue=queue)
    assert job.retries_left == retries and job.number_of_retries == 1   # its own retries are all left
    assert caplog.text.count("database unavailable") == 1
    assert "Traceback" not in caplog.text


def test_a_job_put_back_runs_when_the_database_is_back(services, monkeypatch, tmp_path):
    number = direct_report(services, route=False)
    with services.Session() as session:
        report_id = session.scalars(select(Report.id).where(Report.number == number)).one()
    queue = queues.queue(queues.DEFAULT, services.redis)
    queue.enqueue("workers.jobs.route_report", report_id, job_id="route-1")
    session_factory = services.Session
    monkeypatch.setattr(services, "Session", db.make_sessionmaker(db.make_engine(f"sqlite:///{tmp_path}")))
    _worker(services).work(burst=True)
    assert queue.fetch_job("route-1").get_status() == "scheduled"
    monkeypatch.setattr(services, "Session", session_factory)              # the database is back
    queue.enqueue_job(queue.fetch_job("route-1"))                         # what the scheduler does when it is due
    _worker(services).work(burst=True)
    with services.Session() as session:
        assert session.get(Report, report_id).routing == "routed"
        assert session.scalars(select(OutboundMessage.id)).all()           # its alerts were created


def test_the_sweep_meets_a_database_outage_with_one_warning_and_no_traceback(services, database_away, caplog):
    worker = _worker(services)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            services.redis.delete("hotline:sweep-lock")
            worker.run_maintenance_tasks()
    assert caplog.text.count("database unavailable") == 1
    assert "Traceback" not in caplog.text and "sweep failed" not in caplog.text


def test_a_stop_signal_during_the_sweep_stops_the_worker(services, monkeypatch):
    """rq's SIGTERM handler raises StopRequested wherever an idle worker is; in the sweep it was taken
    for a failure of the sweep, and the worker ran on until it was killed (a drill's teardown showed it)."""
    from rq.exceptions import StopRequested

    from workers import jobs

    def signal_arrives():
        raise StopRequested()

    monkeypatch.setattr(jobs, "sweep_outbox", signal_arrives)
    worker = _worker(services)
    services.redis.delete("hotline:sweep-lock")
    with pytest.raises(StopRequested):
        worker.run_maintenance_tasks()


def test_a_stop_signal_whose_exception_was_swallowed_still_stops_the_worker(services):
    """rq stops an idle worker by raising StopRequested wherever the signal lands; a drill caught it
    landing in a garbage-collected `__del__`, which swallows exceptions. The stop is noted anyway."""
    from rq.exceptions import StopRequested

    worker = _worker(services)
    with pytest.raises(StopRequested):
        worker._shutdown()                   # what rq's SIGTERM handler does to an idle worker
    # Wherever that exception went, the loop ends at its next turn and waits for no job first.
    assert worker._stop_requested
    with pytest.raises(StopRequested):
        worker.dequeue_job_and_maintain_ttl(1)


def test_a_worker_registers_again_when_redis_lost_its_registration(services):
    connection = Redis.from_url(services.settings.redis_url)  # rq changes its connection's socket timeout
    worker = HotlineWorker([queues.queue(n, connection) for n in queues.ALL], connection=connection)
    worker.register_birth()
    connection.flushall()                                     # Redis restarted without its data
    worker.heartbeat()
    assert worker.key in worker_registration.get_keys(connection=connection)
    assert connection.hget(worker.key, "birth") is not None
    worker.register_death()
    connection.close()
