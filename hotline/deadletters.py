"""Dead letters: deliveries whose every retry failed stay in rq's failed registries until an
operator lists them and sends them again (`python -m hotline dead-letters [--requeue]`)."""
from __future__ import annotations

from rq.job import Job
from rq.registry import FailedJobRegistry

from hotline import outbox, queues
from hotline.models import Alert, OutboundMessage

ROWS = {"workers.jobs.send_sms": OutboundMessage, "workers.jobs.deliver_webhook": Alert, "workers.jobs.send_email": Alert}
"""The row each delivery job works on, reset to pending when it is requeued."""

MEANS = {"workers.jobs.send_sms": "sms", "workers.jobs.deliver_webhook": "webhook", "workers.jobs.send_email": "email"}
"""How each delivery job delivers (the console counts dead letters by means)."""

JOB_IDS = {"sms": "sms-{}", "webhook": "webhook-{}", "email": "email-{}"}
"""The id of the job that delivers a row, by means (outbox.Work's job ids)."""

JOBS = {means: func for func, means in MEANS.items()}
"""The job that delivers a row, by means."""


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
    """The ids of the rows whose delivery is a dead letter, by means: {"sms": {message ids}, "webhook": …}."""
    rows: dict[str, set[int]] = {means: set() for means in JOB_IDS}
    for name in queues.ALL:
        for job_id in FailedJobRegistry(queue=queues.queue(name, s.redis)).get_job_ids():
            means, _, row_id = job_id.partition("-")
            if means in rows and row_id.isdigit():
                rows[means].add(int(row_id))
    return rows


def resend(s, means: str, row_id: int, report_id: int, urgent: bool = False) -> bool:
    """Send again one delivery of a report that failed for good (never retried: a secret that was not
    set, a number since corrected), once its cause is mended; its row pending with fresh attempts.
    False if there is no such failed delivery of that report."""
    model = OutboundMessage if means == "sms" else Alert
    with s.Session.begin() as session:
        row = session.get(model, row_id) if means in JOBS else None
        if row is None or row.status != "failed" or row.report_id != report_id or getattr(row, "means", means) != means:
            return False
        row.status, row.attempts, row.claimed_until = "pending", 0, None
    outbox.enqueue(s, outbox.Work(JOBS[means], row_id, JOB_IDS[means].format(row_id)), urgent=urgent)
    return True
