"""The rq queues and the jobs put on them, each named once. Urgent work has its own queue, which
workers take first; every job takes a row id (workers/jobs.py holds their bodies)."""
from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from rq import Queue

URGENT = "urgent"
"""Reports of someone in danger, their alerts, and replies a reporter is waiting for."""

DEFAULT = "default"
"""All other routing, alerts and webhooks."""

ALL = (URGENT, DEFAULT)
"""Every queue, in the order a worker takes them."""


@dataclass(frozen=True)
class Work:
    """One job to enqueue after commit: a job function (by name), the row id it takes, its job id."""

    func: str
    id: int
    job_id: str


@dataclass(frozen=True)
class JobKind:
    """A job the line enqueues: the function rq imports, and how its job ids start (a job id names
    the row it works on, so the same work is never queued twice)."""

    func: str
    prefix: str

    def work(self, row_id: int, suffix: str = "") -> Work:
        """This job for one row."""
        return Work(self.func, row_id, f"{self.prefix}-{row_id}{suffix}")


ROUTE = JobKind("workers.jobs.route_report", "route")
"""Route a stored report: alert its leaders and agencies (reports.id)."""

ESCALATE = JobKind("workers.jobs.escalate_report", "escalate")
"""Alert the next level if nobody acknowledged (reports.id, level)."""

SEND_SMS = JobKind("workers.jobs.send_sms", "sms")
"""Send one stored SMS through the providers (outbound_messages.id)."""

DELIVER = JobKind("workers.jobs.deliver_alert", "alert")
"""Deliver one alert by a means that keeps its own state: webhook or email (alerts.id)."""

REPORT_UPDATED = JobKind("workers.jobs.report_updated", "updated")
"""Tell the agencies that have a report that it changed (report_events.id)."""

MESSAGE_FAILED = JobKind("workers.jobs.message_failed", "failed")
"""An alert SMS failed for good: climb a level at once if no leader of its level can get it."""

LINK = JobKind("workers.jobs.link_report", "link")
"""Store what a routed report names, and tell its agencies of the clusters it makes (reports.id)."""

SUGGEST = JobKind("workers.jobs.suggest_links", "suggest")
"""Score a report's names and words against the others' into suggested links (reports.id)."""

PLACE_CALL = JobKind("workers.jobs.place_call", "call")
"""Ring a caseworker's phone for a masked call-back to a reporter (calls.id)."""

FETCH_CLIP = JobKind("workers.jobs.fetch_clip", "clip")
"""Fetch a prompt recorded on the staff recording call, check it and keep it (a recording's row in
Redis, by a number of its own: hotline.voice.recording)."""

JOBS = (ROUTE, ESCALATE, SEND_SMS, DELIVER, REPORT_UPDATED, MESSAGE_FAILED, LINK, SUGGEST, PLACE_CALL, FETCH_CLIP)
"""Every job the line enqueues."""


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
