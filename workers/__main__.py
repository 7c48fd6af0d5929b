"""`python -m workers`: an rq worker with the scheduler on every queue, urgent first.

It reads the whole configuration from the environment (and `.env`) like the web process. Started
while Redis is away, it waits for it; once running it rides out Redis and database outages
(workers/worker.py).
"""
from __future__ import annotations

import logging
import os
import sys

from redis import Redis

from hotline import queues
from hotline.settings import Settings
from workers import outage

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The worker's log lines, rq's and the line's own alike (the web process uses the same)."""


def argv(settings: Settings, extra: list[str] | None = None) -> list[str]:
    """The rq command line for this deployment (maintenance, and so the sweep, every HOTLINE_SWEEP_SECONDS)."""
    return ["worker", "--with-scheduler", "--worker-class", "workers.worker.HotlineWorker",
            "--job-class", "workers.worker.HotlineJob",
            "--maintenance-interval", str(settings.sweep_seconds), "--worker-ttl", str(queues.worker_ttl(settings)),
            "--path", ".", *(extra or []), *queues.ALL]


def wait_for_redis(url: str) -> None:
    """Return once Redis answers, waiting with backoff (and one warning) while it does not."""
    away = outage.Outage("Redis")
    with Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5) as connection:
        for wait in outage.waits():
            try:
                connection.ping()
                break
            except outage.REDIS_DOWN as error:
                away.down(error)
            outage.pause(wait)
    away.up()


def main() -> None:
    """Run the worker until stopped."""
    settings = Settings.from_env()
    # One handler for rq's lines and the line's own (rq adds none of its own when the root has one).
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    os.environ["RQ_REDIS_URL"] = settings.redis_url  # not on the command line: it may hold a password
    try:
        wait_for_redis(settings.redis_url)
    except KeyboardInterrupt:
        raise SystemExit(0) from None
    from rq.cli import main as rq_main

    rq_main(argv(settings, sys.argv[1:]), prog_name="rq")


if __name__ == "__main__":
    main()
