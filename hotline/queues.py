"""The rq queues, defined once. Urgent work has its own queue, which workers take first."""
from __future__ import annotations

from redis import Redis
from rq import Queue

URGENT = "urgent"
"""Reports of someone in danger, their alerts, and replies a reporter is waiting for."""

DEFAULT = "default"
"""All other routing, alerts and webhooks."""

ALL = (URGENT, DEFAULT)
"""Every queue, in the order a worker takes them."""


def queue(name: str, connection: Redis) -> Queue:
    """The named queue on an explicit connection."""
    if name not in ALL:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=connection)


def worker_ttl(settings) -> int:
    """Seconds rq keeps a worker registered without a heartbeat (its --worker-ttl): an idle worker
    beats every worker_ttl - 15 s, and its maintenance (the sweep) runs every HOTLINE_SWEEP_SECONDS."""
    return max(20, settings.sweep_seconds + 15)


def heartbeat_limit(settings) -> int:
    """How old a worker's last heartbeat may be while it still counts as alive: rq's own limit (the
    worker's key lives worker_ttl + 60 s after each heartbeat, which covers a job of up to a minute)."""
    return worker_ttl(settings) + 60
