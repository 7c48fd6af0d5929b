"""The line's rq worker: rq's SimpleWorker, plus the outbox sweep, the language mirror and retention
in its maintenance round, and a worker that rides out Redis and database outages instead of quitting
(PRODUCT.md safety rule 6). Its scheduler and its jobs do the same: `HotlineScheduler`, `HotlineJob`."""
from __future__ import annotations

import logging
from contextlib import suppress

from redis.exceptions import RedisError
from rq import worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import Job, Retry
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker

from workers import outage
from workers.outage import REDIS_DOWN

log = logging.getLogger(__name__)

RETENTION_EVERY = 3600
"""Seconds between runs of the retention job (across all workers)."""

DATABASE_RETRIES = 10_000
"""How many times a job is put back because the database was away (MAX_WAIT apart at most: days),
on top of its own retries; after that it fails, and the sweep still finds its row."""


class _OneLinePerOutage(logging.Filter):
    """Drops rq's line for every failed reconnect attempt (its dequeue loop and pubsub thread log one
    per try, every 2 s for the latter): the worker logs an outage once, when it starts."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "could not connect to Redis instance" not in str(record.msg)


_ONE_LINE_PER_OUTAGE = _OneLinePerOutage()


class HotlineJob(Job):
    """rq's job, which a database outage does not fail: it is put back with backoff (rq's own Retry,
    returned as the job's result), without using up the retries it was enqueued with."""

    def perform(self):
        """Run the job; if the database was away, say so once and ask rq to try it again later."""
        try:
            result = super().perform()
        except Exception as error:
            if not outage.database_down(error):
                raise
            outage.DATABASE.down(error)
            return Retry(max=DATABASE_RETRIES, interval=outage.intervals())
        outage.DATABASE.up()
        return result


class HotlineScheduler(RQScheduler):
    """rq's scheduler, which waits through a Redis outage instead of dying with a traceback, and
    registers itself and takes its locks again when Redis is back. Its worker logs the outage."""

    def work(self):
        """rq's loop (heartbeat and enqueue due jobs every interval) until stopped, riding out outages."""
        self._install_signal_handlers()
        waits, registered = outage.waits(), False
        while not self._stop_requested:
            try:
                if not registered:  # first, and again after an outage: Redis may have lost all of it
                    self.register_birth()
                    self.acquire_locks()
                    registered, waits = True, outage.waits()
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                wait = self.interval
            except REDIS_DOWN:
                registered, wait = False, next(waits)
            outage.pause(wait, lambda: self._stop_requested)
        with suppress(*REDIS_DOWN):  # else its locks and registration expire by themselves
            self.stop()


class HotlineWorker(SimpleWorker):
    """rq's worker, running each job in its own process instead of forking one per job (the
    fork and fresh imports cost more than a job itself: bench/worker_rate.py went from 0.19x
    to 0.70x rq's no-op rate), and whose maintenance also re-enqueues what the queues lost.

    rq quits on most Redis errors outside its dequeue loop ("found an unhandled exception,
    quitting"). This worker instead waits wherever Redis fails it (backoff from outage.FIRST_WAIT to
    outage.MAX_WAIT, one warning per outage), registers itself again if Redis came back without its
    data, and carries on; a stop signal still stops it."""

    max_connection_wait_time = outage.MAX_WAIT
    """The cap of rq's own reconnect backoff in its dequeue loop (rq's default: 60 s)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.redis_outage = outage.Outage(f"Worker {self.name}: Redis", self.log)
        if _ONE_LINE_PER_OUTAGE not in self.log.filters:
            self.log.addFilter(_ONE_LINE_PER_OUTAGE)

    # ---- Redis outages: each step of rq's work loop waits for Redis instead of quitting ----------
    def _ride_out(self, error: BaseException) -> None:
        """Wait until Redis answers again, then beat (registering again if Redis lost this worker)."""
        self.redis_outage.down(error)
        for wait in outage.waits():
            outage.pause(wait, lambda: self._stop_requested)
            if self._stop_requested:  # a stop signal came meanwhile (in the middle of a job, else rq raised already)
                raise StopRequested()
            try:
                self.connection.ping()
                self._beat()
            except REDIS_DOWN:
                continue
            self.redis_outage.up()
            return

    def check_for_suspension(self, burst: bool):
        """rq's (it asks Redis whether workers are suspended), waiting through an outage."""
        while True:
            try:
                return super().check_for_suspension(burst)
            except REDIS_DOWN as error:
                self._ride_out(error)

    def _shutdown(self):
        """rq's answer to a stop signal. An idle worker is stopped by StopRequested, raised wherever the
        signal finds the worker; that can be a place that swallows it (a `__del__` run by the garbage
        collector, an `except Exception`), and the worker then ran on until killed. The stop is noted
        first, so the loop ends at its next turn whatever became of the exception."""
        self._stop_requested = True
        super()._shutdown()

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """rq's, waiting through an outage (rq's own loop catches only some Redis errors, and only in part);
        never waiting for a job once a stop was asked for."""
        if self._stop_requested:
            raise StopRequested()
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except REDIS_DOWN as error:
                self._ride_out(error)

    def execute_job(self, job, queue):
        """rq's. If Redis went away around the job, rq could not record how it ended: once Redis is
        back the job goes to the front of its queue again (a job may run twice without doing
        anything twice: a second run finds its work done in the database)."""
        try:
            super().execute_job(job, queue)
            return
        except REDIS_DOWN as error:
            self._ride_out(error)
        while True:
            try:
                with self.connection.pipeline() as pipe:
                    self.cleanup_execution(job, pipeline=pipe)
                    pipe.execute()
                queue.enqueue_job(job, at_front=True)
                break
            except REDIS_DOWN as error:
                self._ride_out(error)
        self.log.info("Worker %s: job %s queued again: Redis went away before its end was recorded", self.name, job.id)

    def heartbeat(self, timeout=None, pipeline=None):
        """rq's heartbeat; if Redis lost this worker's registration, register again; wait through an outage."""
        if pipeline is not None:  # part of a caller's pipeline: the caller sees its errors
            return super().heartbeat(timeout, pipeline)
        try:
            self._beat(timeout)
        except REDIS_DOWN as error:
            self._ride_out(error)

    def _beat(self, timeout=None) -> None:
        """One heartbeat; a worker hash it had to create means Redis lost this worker: register again."""
        with self.connection.pipeline() as pipe:
            super().heartbeat(timeout, pipe)
            created = pipe.execute()[0]
        if created and self.birth_date is not None:
            with self.connection.pipeline() as pipe:
                pipe.hset(self.key, mapping={**self.serialize(), "state": self.get_state()})
                worker_registration.register(self, pipe)
                pipe.expire(self.key, timeout or self.worker_ttl + 60)
                pipe.execute()
            self.log.info("Worker %s: registered again (Redis had lost its registration)", self.name)

    def set_shutdown_requested_date(self):
        """rq's note of a stop request, skipped while Redis is away (the stop itself goes ahead)."""
        with suppress(*REDIS_DOWN):
            super().set_shutdown_requested_date()

    def teardown(self):
        """rq's; if Redis is away as the worker stops, its registration expires by itself."""
        try:
            super().teardown()
        except REDIS_DOWN:
            if self.pubsub_thread:
                self.pubsub_thread.stop()
            self.log.info("Worker %s: stopped while Redis was away; its registration expires by itself", self.name)

    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=DEFAULT_LOGGING_DATE_FORMAT,
                         log_format=DEFAULT_LOGGING_FORMAT):
        """rq's, with HotlineScheduler (rq names its scheduler class inside this method)."""
        self.scheduler = HotlineScheduler(self.queues, connection=self.connection,
                                          logging_level=logging_level if logging_level is not None else self.log.level,
                                          date_format=date_format, log_format=log_format, serializer=self.serializer)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    # ---- maintenance -------------------------------------------------------------------------------
    def run_maintenance_tasks(self):
        """rq's maintenance, then the outbox sweep (at most once per interval across workers)."""
        try:
            super().run_maintenance_tasks()
            self._sweep()
        except REDIS_DOWN as error:
            self._ride_out(error)

    def _sweep(self) -> None:
        """The outbox sweep, the language mirror and retention. A database outage is said once and
        tried again next round; no failure of theirs stops the worker."""
        try:
            from workers.context import services
            from workers.jobs import sweep_outbox

            # Only one worker sweeps in each interval, however many run.
            lock_seconds = max(1, services().settings.sweep_seconds - 1)
            if not self.connection.set("hotline:sweep-lock", self.name, nx=True, ex=lock_seconds):
                return

            counts = sweep_outbox()
            if any(counts.values()):
                log.info("outbox sweep re-enqueued %s", counts)
            from hotline.inbound import conversations

            mirrored = conversations.mirror_languages(services().redis, services().Session)
            if mirrored is not None:
                log.info("mirrored the chosen language of %d phones into Redis", mirrored)
            if self.connection.set("hotline:retention-lock", self.name, nx=True, ex=RETENTION_EVERY):
                from workers.jobs import erase_expired_numbers

                erased = erase_expired_numbers()
                if erased:
                    log.info("retention: erased the reporter's number of %d closed reports", erased)
        except REDIS_DOWN:
            raise  # the worker waits for Redis
        except StopRequested:
            raise  # a stop signal came during the sweep: rq stops the worker (swallowed, it ran on)
        except RedisError as exc:
            log.warning("outbox sweep skipped: %s", type(exc).__name__)
        except Exception as error:  # noqa: BLE001 - a sweep failure must never stop the worker
            if outage.database_down(error):
                outage.DATABASE.down(error)
            else:
                log.exception("outbox sweep failed")
        else:
            outage.DATABASE.up()
