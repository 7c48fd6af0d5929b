"""Dead letters: deliveries whose every retry failed stay in rq's failed registries until an
operator lists them and sends them again (`python -m hotline dead-letters [--requeue]`)."""
from __future__ import annotations

from rq.job import Job
from rq.registry import FailedJobRegistry

from hotline import queues
from hotline.outbound import outbox
from hotline.models import Alert, OutboundMessage

ROWS = {queues.SEND_SMS.func: OutboundMessage, queues.DELIVER.func: Alert,
        "workers.jobs.deliver_webhook": Alert, "workers.jobs.send_email": Alert}
"""The row each delivery job works on, reset to pending when it is requeued (with the names webhook
and email deliveries had before, for dead letters from then)."""

MEANS = {queues.SEND_SMS.func: "sms", "workers.jobs.deliver_webhook": "webhook", "workers.jobs.send_email": "email"}
"""How a delivery job delivers, where its name says (an alert's job, DELIVER, serves webhooks and
email alike: its row's `means` says which)."""

_ALERT_MEANS = ("webhook", "email")
"""The means an Alert row delivers by itself (SMS alerts are delivered as outbound messages)."""

MEANS_ALL = ("sms", *_ALERT_MEANS)
"""Every means a delivery can be sent again by."""


def work(means: str, row_id: int):
    """The job that delivers one row by a means (its job id is the one rq holds as a dead letter)."""
    return (queues.SEND_SMS if means == "sms" else queues.DELIVER).work(row_id)


def job_ids(means: str, row_id: int) -> tuple[str, ...]:
    """Every job id a row's delivery may have had (today's, and the one from before jobs were merged)."""
    return (work(means, row_id).job_id,) + ((f"{means}-{row_id}",) if means in _ALERT_MEANS else ())


def list_dead(s) -> list[dict]:
    """Every failed job of every queue: id, job, argument, last error line, when it ended."""
    dead = []
    for name in queues.ALL:
        registry = FailedJobRegistry(queue=queues.queue(name, s.redis))
        for job in Job.fetch_many(registry.get_job_ids(), connection=s.redis):
            if job is None:
                continue
            error = (job.latest_result().exc_string if job.latest_result() else "") or ""
            dead.append({"queue": name, "job_id": job.id, "func": job.func_name, "args": list(job.args),
                         "error": error.strip().splitlines()[-1][:200] if error.strip() else "",
                         "ended_at": job.ended_at.isoformat() if job.ended_at else None})
    return dead


def requeue(s, job_ids: list[str] | None = None) -> int:
    """Send failed jobs again (all, or those named), their rows reset to pending with fresh attempts."""
    count = 0
    for name in queues.ALL:
        registry = FailedJobRegistry(queue=queues.queue(name, s.redis))
        for job_id in registry.get_job_ids():
            if job_ids and job_id not in job_ids:
                continue
            job = Job.fetch(job_id, connection=s.redis)
            model = ROWS.get(job.func_name)
            if model is not None and job.args:
                with s.Session.begin() as session:
                    row = session.get(model, job.args[0])
                    if row is not None and row.status == "failed":
                        row.status, row.attempts, row.claimed_until = "pending", 0, None
            registry.requeue(job_id)
            count += 1
    return count


def dead_rows(s) -> dict[str, set[int]]:
    """The ids of the rows whose delivery is a dead letter, by means: {"sms": {message ids}, "webhook": …}.
    An alert's job id does not say its means; alert ids are unique, so they count under both."""
    rows: dict[str, set[int]] = {means: set() for means in MEANS_ALL}
    for name in queues.ALL:
        for job_id in FailedJobRegistry(queue=queues.queue(name, s.redis)).get_job_ids():
            prefix, _, row_id = job_id.partition("-")
            if not (row_id.isascii() and row_id.isdigit()):
                continue
            if prefix == queues.SEND_SMS.prefix:
                rows["sms"].add(int(row_id))
            elif prefix == queues.DELIVER.prefix:
                for means in _ALERT_MEANS:
                    rows[means].add(int(row_id))
            elif prefix in _ALERT_MEANS:
                rows[prefix].add(int(row_id))
    return rows


def resend(s, means: str, row_id: int, report_id: int, urgent: bool = False) -> bool:
    """Send again one delivery of a report that failed for good (never retried: a secret that was not
    set, a number since corrected), once its cause is mended; its row pending with fresh attempts.
    False if there is no such failed delivery of that report."""
    if means not in MEANS_ALL:
        return False
    model = OutboundMessage if means == "sms" else Alert
    with s.Session.begin() as session:
        row = session.get(model, row_id)
        if row is None or row.status != "failed" or row.report_id != report_id or getattr(row, "means", means) != means:
            return False
        row.status, row.attempts, row.claimed_until = "pending", 0, None
    outbox.enqueue(s, work(means, row_id), urgent=urgent)
    return True
