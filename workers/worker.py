"""The line's rq worker: rq's SimpleWorker, plus the outbox sweep, the language mirror and retention
in its maintenance round."""
from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rq.worker import SimpleWorker

log = logging.getLogger(__name__)

RETENTION_EVERY = 3600
"""Seconds between runs of the retention job (across all workers)."""


class HotlineWorker(SimpleWorker):
    """rq's worker, running each job in its own process instead of forking one per job (the
    fork and fresh imports cost more than a job itself: bench/worker_rate.py went from 0.19x
    to 0.70x rq's no-op rate), and whose maintenance also re-enqueues what the queues lost."""

    def run_maintenance_tasks(self):
        """rq's maintenance, then the outbox sweep (at most once per interval across workers)."""
        super().run_maintenance_tasks()
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
            from hotline import conversations

            mirrored = conversations.mirror_languages(services().redis, services().Session)
            if mirrored is not None:
                log.info("mirrored the chosen language of %d phones into Redis", mirrored)
            if self.connection.set("hotline:retention-lock", self.name, nx=True, ex=RETENTION_EVERY):
                from workers.jobs import erase_expired_numbers

                erased = erase_expired_numbers()
                if erased:
                    log.info("retention: erased the reporter's number of %d closed reports", erased)
        except RedisError as exc:
            log.warning("outbox sweep skipped: %s", type(exc).__name__)
        except Exception:  # noqa: BLE001 - a sweep failure must never stop the worker
            log.exception("outbox sweep failed")
