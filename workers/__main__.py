"""`python -m workers`: an rq worker with the scheduler on every queue, urgent first.

It reads the whole configuration from the environment (and `.env`) like the web process.
"""
from __future__ import annotations

import os
import sys

from hotline import queues
from hotline.settings import Settings

MAINTENANCE_SECONDS = 30
"""How often a worker runs rq's maintenance and the outbox sweep."""


def argv(extra: list[str] | None = None) -> list[str]:
    """The rq command line for this deployment."""
    return ["worker", "--with-scheduler", "--worker-class", "workers.worker.HotlineWorker",
            "--maintenance-interval", str(MAINTENANCE_SECONDS), "--worker-ttl", "60",
            "--path", ".", *(extra or []), *queues.ALL]


def main() -> None:
    """Run the worker until stopped."""
    settings = Settings.from_env()
    os.environ["RQ_REDIS_URL"] = settings.redis_url  # not on the command line: it may hold a password
    from rq.cli import main as rq_main

    rq_main(argv(sys.argv[1:]), prog_name="rq")


if __name__ == "__main__":
    main()
