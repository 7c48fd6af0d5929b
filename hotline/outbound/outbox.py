"""The outbox: rows are written in the request's transaction, jobs are enqueued after commit.

If Redis or the worker is down, the rows wait ('pending' reports, 'pending' messages) and
the periodic sweep enqueues them again (docs/safety.md rule 6).
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import queues, reports
from hotline.channels.base import StatusUpdate
from hotline.models import Alert, OutboundMessage, Report, utcnow
from hotline.outbound.claims import STATUS_ORDER
from hotline.queues import Work

log = logging.getLogger(__name__)

JOB_TIMEOUT = 60
"""Seconds a single job may run."""

RESULT_TTL, FAILURE_TTL = 3600, 30 * 86400
"""How long rq keeps a finished job's result, and a failed job (for `dead-letters`)."""


def new_sms(session: Session, s, key: str, to: str, body: str, purpose: str, urgent: bool = False,
            report_id: int | None = None, contact_id: str | None = None, via: str | None = None,
            sender: str | None = None) -> OutboundMessage:
    """Create (once, by key) an SMS to send; the caller's transaction stores it. A message to a
    reporter names the provider they used (`via`) and the number they wrote to (`sender`): it
    leaves only through them (pinned). Any other starts with the first provider of SMS_PROVIDERS."""
    from hotline.outbound import sending

    existing = session.scalar(select(OutboundMessage).where(OutboundMessage.key == key))
    if existing is not None:
        return existing
    to_reporter = contact_id is None and purpose in sending.REPORTER_PURPOSES
    provider = sending.reporter_provider(s, via) if to_reporter else s.settings.sms_providers[0]
    message = OutboundMessage(key=key, purpose=purpose, provider=provider, pinned=to_reporter,
                              sender=sender if to_reporter and provider == via else None,
                              recipient=s.vault.encrypt(to), recipient_hash=s.vault.lookup_hash(to),
                              contact_id=contact_id, report_id=report_id, body=body, urgent=urgent, status="pending")
    session.add(message)
    session.flush()
    return message


def routing_work(report_id: int, again: bool = False) -> Work:
    """The job that routes a report just stored (`again`: one whose place the reporter just gave,
    under a job id of its own, since the first routing's job may still be in Redis)."""
    return queues.ROUTE.work(report_id, f"-{uuid.uuid4().hex[:12]}" if again else "")


def add_new_jobs(s, pipe, items: list[tuple[Work, bool]]) -> None:
    """Put jobs for rows this request created on a Redis pipeline the caller executes.

    Their ids are new, so no job can exist yet: no lookup first (the sweep's `_enqueue` looks,
    because it may find the job still waiting). Routing is not retried by rq: the sweep routes
    a report again if its job is lost or fails. Deliveries are retried with backoff."""
    for work, urgent in items:
        retry = None if work.func == queues.ROUTE.func else _retry(s)
        queues.queue(queues.URGENT if urgent else queues.DEFAULT, s.redis).enqueue_call(
            work.func, (work.id,), job_id=work.job_id, timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL, retry=retry, pipeline=pipe)


def _retry(s) -> Retry:
    """rq's retries for a delivery: the deployment's intervals."""
    intervals = list(s.settings.retry_intervals)
    return Retry(max=len(intervals), interval=intervals)


def enqueue(s, work: Work, urgent: bool = False, at_front: bool = False) -> bool:
    """Hand one delivery to the workers, retried with backoff; on failure it waits for the sweep.
    `at_front`: before the jobs already waiting in its queue (a routed report's alerts do not
    wait behind the routing of every report that came after it)."""
    return _enqueue(s, queues.URGENT if urgent else queues.DEFAULT, work.func, work.id, work.job_id,
                    retry=_retry(s), at_front=at_front)


def max_attempts(s) -> int:
    """How many times a delivery is tried before it is a dead letter."""
    return len(s.settings.retry_intervals) + 1


def _enqueue(s, queue_name: str, func: str, arg: int, job_id: str, retry: Retry | None = None,
             at_front: bool = False) -> bool:
    """Enqueue a job by id (a job with the same id that is still waiting is not doubled)."""
    try:
        q = queues.queue(queue_name, s.redis)
        existing = q.fetch_job(job_id)
        if existing is not None and existing.get_status(refresh=False) in ("queued", "scheduled", "deferred", "started"):
            return True
        q.enqueue(func, arg, job_id=job_id, job_timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL,
                  failure_ttl=FAILURE_TTL, retry=retry, at_front=at_front)
        return True
    except RedisError as exc:
        log.warning("queue unavailable, %s waits for the sweep: %s", job_id, type(exc).__name__)
        return False


def _mark_enqueued(s, report_id: int) -> None:
    """Note when a report was last handed to the queue (the sweep's grace period counts from it)."""
    with s.Session.begin() as session:
        report = session.get(Report, report_id)
        if report is not None:
            report.routing_enqueued_at = utcnow()


def apply_status(session: Session, s, message: OutboundMessage, update: StatusUpdate) -> None:
    """Apply a provider status to a message, never backwards; STOP at the provider opts the phone out."""
    if STATUS_ORDER.get(update.status, 0) >= STATUS_ORDER.get(message.status, 0) and message.status not in ("delivered", "failed"):
        message.status = update.status
        if update.error:
            message.error = update.error[:255]
    if update.opted_out and message.contact_id is None:
        reports.reporter(session, message.recipient_hash).opted_out = True


STALE_ROUTING_SECONDS = 300
"""A report enqueued this long ago and still unrouted lost its job (a killed worker): enqueue a new one."""


def grace_cutoff(s, grace_seconds: int | None = None):
    """Rows waiting since before this are enqueued again by the sweep (HOTLINE_SWEEP_GRACE_SECONDS ago)."""
    return utcnow() - timedelta(seconds=s.settings.sweep_grace_seconds if grace_seconds is None else grace_seconds)


def sweep(s, grace_seconds: int | None = None) -> dict[str, int]:
    """Enqueue again every report still unrouted and every delivery still pending after a grace period.

    A delivery whose claim ran out was being sent by a worker that died: it gets a new job
    (its old one is stuck as 'started' until rq notices the dead worker).
    """
    now = utcnow()
    cutoff = grace_cutoff(s, grace_seconds)
    stale = now - timedelta(seconds=STALE_ROUTING_SECONDS)
    with s.Session() as session:
        report_rows = session.execute(
            select(Report.id, Report.type, Report.routing_enqueued_at, Report.created_at)
            .where(Report.routing == "pending")).all()
        message_rows = session.execute(
            select(OutboundMessage.id, OutboundMessage.urgent, OutboundMessage.updated_at,
                   OutboundMessage.claimed_until, OutboundMessage.attempts)
            .where(OutboundMessage.status == "pending")).all()
        alert_rows = session.execute(
            select(Alert.id, Alert.means, Alert.updated_at, Alert.claimed_until, Alert.attempts)
            .where(Alert.status == "pending", Alert.means.in_(_stateful_means()))).all()
    counts = {"reports": 0, "messages": 0, "deliveries": 0}
    for row in report_rows:
        since = row.routing_enqueued_at or row.created_at
        if _older(since, cutoff):
            work = queues.ROUTE.work(row.id, "" if not _older(since, stale) else f"-{int(now.timestamp())}")
            if _enqueue(s, queues.URGENT if s.directory.types.is_urgent(row.type) else queues.DEFAULT, work.func,
                        row.id, job_id=work.job_id):
                _mark_enqueued(s, row.id)
            counts["reports"] += 1
    deliveries = [("messages", queues.SEND_SMS, row, row.urgent) for row in message_rows]
    deliveries += [("deliveries", queues.DELIVER, row, False) for row in alert_rows]
    for count, kind, row, urgent in deliveries:
        if row.claimed_until is not None and not _older(row.claimed_until, now):
            continue  # a worker is sending it right now
        if not _older(row.updated_at, cutoff):
            continue
        dead_worker = row.claimed_until is not None  # claimed, never finished, claim ran out
        enqueue(s, kind.work(row.id, f"-r{row.attempts}" if dead_worker else ""), urgent)
        counts[count] += 1
    return counts


def _stateful_means() -> tuple[str, ...]:
    """The means whose alert rows carry their own delivery state (webhook, email)."""
    from hotline.outbound.means import MEANS

    return tuple(slug for slug, means in MEANS.items() if means.keeps_state)


def _older(moment, cutoff) -> bool:
    """True if `moment` (naive times are UTC, as SQLite returns them) is before `cutoff`."""
    if moment is None:
        return True
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=cutoff.tzinfo)
    return moment < cutoff
