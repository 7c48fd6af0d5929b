"""`python -m workers`: an rq worker with the scheduler on every queue, urgent first.

It reads the whole configuration from the environment (and `.env`) like the web process.
"""
from __future__ import annotations

import os
import sys

from hotline import queues
from hotline.settings import Settings

def argv(settings: Settings, extra: list[str] | None = None) -> list[str]:
    """The rq command line for this deployment (maintenance, and so the sweep, every HOTLINE_SWEEP_SECONDS)."""
    return ["worker", "--with-scheduler", "--worker-class", "workers.worker.HotlineWorker",
            "--maintenance-interval", str(settings.sweep_seconds), "--worker-ttl", str(max(20, settings.sweep_seconds + 15)),
            "--path", ".", *(extra or []), *queues.ALL]


def main() -> None:
    """Run the worker until stopped."""
    settings = Settings.from_env()
    os.environ["RQ_REDIS_URL"] = settings.redis_url  # not on the command line: it may hold a password
    from rq.cli import main as rq_main

    rq_main(argv(settings, sys.argv[1:]), prog_name="rq")


if __name__ == "__main__":
    main()
