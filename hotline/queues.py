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
