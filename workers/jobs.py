"""rq jobs. Each takes an id, never an object, and may run twice without doing anything twice."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
from datetime import timedelta, timezone
from email.message import EmailMessage

import requests
from rq.job import Job
from sqlalchemy import and_, or_, select, update

from hotline import channels, queues, reports, routing
from hotline.outbound import alerts, outbox
from hotline.channels.base import SendError
from hotline.models import Alert, OutboundMessage, Report, ReportContact, ReportEvent, Reporter, utcnow
from hotline.outbound.outbox import Work
from hotline.routing import RouteInput
from workers.context import services

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 10
"""Seconds an agency's webhook may take to answer."""


class DeliveryFailed(Exception):
    """A transient failure: rq retries the job with backoff."""


# ---- claims: one worker at a time per delivery ---------------------------------
def _claim(model, row_id: int) -> bool:
    """Take a pending row for this worker (and count the attempt); False if done or taken."""
    s = services()
    now = utcnow()
    with s.Session.begin() as session:
        result = session.execute(
            update(model).where(model.id == row_id, model.status == "pending",
                                or_(model.claimed_until.is_(None), model.claimed_until < now))
            .values(claimed_until=now + timedelta(seconds=s.settings.claim_seconds), attempts=model.attempts + 1))
        return result.rowcount == 1


def _finish(model, row_id: int, status: str | None, error: str | None = None, **values) -> None:
    """Record a delivery's outcome and release the claim (status None: still pending)."""
    s = services()
    with s.Session.begin() as session:
        row = session.get(model, row_id)
        row.claimed_until = None
        row.error = error[:255] if error else None
        for name, value in values.items():
            setattr(row, name, value)
        if status and outbox.STATUS_ORDER.get(status, 0) >= outbox.STATUS_ORDER.get(row.status, 0):
            row.status = status


def _fail(model, row_id: int, error: str, permanent: bool) -> None:
    """A failed attempt: permanent or last ones mark the row failed, else rq retries."""
    s = services()
    with s.Session() as session:
        attempts = session.get(model, row_id).attempts
    last = permanent or attempts >= outbox.max_attempts(s)
    _finish(model, row_id, "failed" if last else None, error)
    if last and model is OutboundMessage:
        outbox.enqueue(s, Work("workers.jobs.message_failed", row_id, f"failed-{row_id}"))
    if not permanent:
        # Transient: rq retries; after the last try the job stays in rq's failed registry (a dead letter).
        raise DeliveryFailed(error)


def _state(model, row_id: int) -> str:
    """A row's status, or 'missing'."""
    with services().Session() as session:
        row = session.get(model, row_id)
        return row.status if row else "missing"


# ---- SMS ------------------------------------------------------------------------
def send_sms(message_id: int) -> str:
    """Send one stored SMS through the configured provider, once; returns its status."""
    s = services()
    if not _claim(OutboundMessage, message_id):
        return _state(OutboundMessage, message_id)  # sent already, or another worker is sending it
    with s.Session() as session:
        message = session.get(OutboundMessage, message_id)
        opted_out = session.scalar(select(Reporter.opted_out).where(Reporter.hash == message.recipient_hash))
        to, body, slug, purpose, contact = (s.vault.decrypt(message.recipient), message.body, message.provider,
                                            message.purpose, message.contact_id)
    if opted_out and contact is None and purpose != "reply":
        _finish(OutboundMessage, message_id, "failed", "recipient said STOP")
        return "failed"
    try:
        result = channels.get(slug).send(s.settings, to, body, _status_callback(s, slug))
    except SendError as exc:
        _fail(OutboundMessage, message_id, str(exc), exc.permanent)
        return "failed"
    _finish(OutboundMessage, message_id, result.status, provider_message_id=result.provider_message_id)
    return _state(OutboundMessage, message_id)


def _status_callback(s, provider_slug: str) -> str | None:
    """Where the provider should report delivery (Twilio takes it per message)."""
    if provider_slug == "twilio" and s.settings.public_base_url:
        return s.settings.public_base_url + "/webhooks/twilio/status"
    return None


def message_failed(message_id: int) -> str:
    """An alert SMS failed for good: if no leader of its level can still get it, climb a level now."""
    s = services()
    with s.Session() as session:
        alert = session.scalar(select(Alert).where(Alert.outbound_id == message_id))
        if alert is None or alert.kind != "new":
            return "not an alert"
        contact = s.directory.contact(alert.contact_id)
        report = session.get(Report, alert.report_id)
        if contact is None or contact.kind != "leader" or report.status != "new":
            return "nothing to do"
        siblings = session.execute(
            select(Alert.contact_id, OutboundMessage.status).join(OutboundMessage, Alert.outbound_id == OutboundMessage.id)
            .where(Alert.report_id == report.id, Alert.level == alert.level, Alert.kind == "new")).all()
        alive = [c for c, status in siblings if status != "failed" and (s.directory.contact(c) or contact).kind == "leader"]
        if alive:
            return "others may still see it"
        report_id, level, urgent = report.id, alert.level, s.directory.types.is_urgent(report.type)
    _schedule_escalation(s, report_id, level + 1, 0, urgent)
    return "moved on"


# ---- webhooks and email for agencies ---------------------------------------------
def _claimed_alert(s, alert_id: int):
    """(contact now in the directory, payload, delivery id) of an alert this worker has claimed."""
    with s.Session() as session:
        alert = session.get(Alert, alert_id)
        return s.directory.contact(alert.contact_id), dict(alert.payload or {}), alert.delivery_id


def deliver_webhook(alert_id: int) -> str:
    """POST one signed event to an agency's webhook (docs/contract.md section 5), once."""
    s = services()
    if not _claim(Alert, alert_id):
        return _state(Alert, alert_id)
    contact, payload, delivery_id = _claimed_alert(s, alert_id)
    if contact is None or contact.webhook is None:
        _finish(Alert, alert_id, "failed", "the contact has no webhook any more")
        return "failed"
    secret = os.environ.get(contact.webhook.secret_env)
    if not secret:
        _fail(Alert, alert_id, f"{contact.webhook.secret_env} is not set: nothing was sent", permanent=True)
        return "failed"
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-Hotline-Event": payload["event"],
               "X-Hotline-Delivery": delivery_id,
               "X-Hotline-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
               "User-Agent": "hotline-webhooks/1"}
    try:
        response = requests.post(contact.webhook.url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT,
                                  allow_redirects=False)
    except requests.RequestException as exc:
        _fail(Alert, alert_id, f"webhook unreachable: {type(exc).__name__}", permanent=False)
        return "failed"
    if not 200 <= response.status_code < 300:
        _fail(Alert, alert_id, f"webhook answered {response.status_code}", permanent=False)
        return "failed"
    _finish(Alert, alert_id, "delivered")
    return "delivered"


def send_email(alert_id: int) -> str:
    """Send one alert by email through SMTP_HOST, once."""
    s = services()
    if not _claim(Alert, alert_id):
        return _state(Alert, alert_id)
    contact, payload, _ = _claimed_alert(s, alert_id)
    if contact is None or not contact.email or not s.settings.smtp_host:
        _finish(Alert, alert_id, "failed", "no email address or no SMTP_HOST")
        return "failed"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = s.settings.smtp_from, contact.email, payload["subject"]
    message.set_content(payload["text"])
    try:
        with smtplib.SMTP(s.settings.smtp_host, s.settings.smtp_port, timeout=15) as smtp:
            if s.settings.smtp_starttls:
                smtp.starttls()
            if s.settings.smtp_username:
                smtp.login(s.settings.smtp_username, s.settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused:
        _fail(Alert, alert_id, "email address refused", permanent=True)
        return "failed"
    except (smtplib.SMTPException, OSError) as exc:
        _fail(Alert, alert_id, f"SMTP: {type(exc).__name__}", permanent=False)
        return "failed"
    _finish(Alert, alert_id, "delivered")
    return "delivered"


# ---- routing and escalation -------------------------------------------------------
def route_report(report_id: int) -> str:
    """Alert the deepest leaders and every agency covering the report, once; schedule escalation.

    A report whose place came after it was first routed (a type stored the moment it was chosen)
    is routed again for the new place: the place's contacts are alerted, and those alerted before
    are told where ("located"). Nothing is ever sent twice."""
    s = services()
    with s.Session.begin() as session:
        report = session.get(Report, report_id)
        if report is None:
            return "missing"
        planned_area = report.area_code
        before = _routed_area(session, report)
        if before is not _NEVER and before == planned_area:
            if report.routing != "routed":  # a job for a place since given back: nothing new to tell
                _mark_routed(session, report_id, planned_area)
            return "routed"  # an earlier run finished: nothing is sent twice
        route = _plan(s, report)
        told = set(session.scalars(select(ReportContact.contact_id).where(ReportContact.report_id == report.id)))
        _remember_recipients(session, report, route.first_leaders + route.agencies, 0)
        work = [w for c in (*route.first_leaders, *route.agencies)
                for w in alerts.alert_contact(session, s, report, c, "located" if c.id in told else "new", 0)]
        _mark_routed(session, report_id, planned_area)
        reports.add_event(session, report, "routed", data={
            "leaders": [c.id for c in route.first_leaders], "agencies": [c.id for c in route.agencies],
            "skipped_conflict": len(route.skipped), "levels": len(route.leader_levels), "area": planned_area})
        urgent, type_ = s.directory.types.is_urgent(report.type), report.type
    _enqueue_all(s, work, urgent)
    if len(route.leader_levels) > 1:
        _schedule_escalation(s, report_id, 1, s.directory.escalation[type_], urgent)
    return "routed"


_NEVER = object()
"""The area of a report that was never routed."""


def _routed_area(session, report: Report):
    """The place the report's last routing was for (_NEVER if it was never routed)."""
    data = session.scalar(select(ReportEvent.data).where(ReportEvent.report_id == report.id, ReportEvent.kind == "routed")
                          .order_by(ReportEvent.id.desc()).limit(1))
    if data is None:
        return _NEVER
    return data.get("area", report.area_code)  # routings before places could change named none


def _mark_routed(session, report_id: int, planned_area: str | None) -> None:
    """Mark the report routed, unless its place changed since this job read it: then the job the
    change enqueued (or the sweep) routes it for the new place."""
    same_place = Report.area_code.is_(None) if planned_area is None else Report.area_code == planned_area
    session.execute(update(Report).where(Report.id == report_id, same_place)
                    .values(routing="routed", routed_at=utcnow()).execution_options(synchronize_session=False))


def escalate_report(report_id: int, level: int) -> str:
    """If nobody acknowledged, alert the next shallower leaders and tell the agencies; a no-op after OK."""
    s = services()
    with s.Session.begin() as session:
        report = session.get(Report, report_id)
        if report is None:
            return "missing"
        if report.status != "new":
            return "acknowledged"
        route = _plan(s, report)
        if level >= len(route.leader_levels):
            return "top"
        _remember_recipients(session, report, route.leader_levels[level], level)
        work = [w for c in route.leader_levels[level] for w in alerts.alert_contact(session, s, report, c, "new", level)]
        work += [w for c in route.agencies for w in alerts.alert_contact(session, s, report, c, "escalated", level)]
        reports.add_event(session, report, "escalated", data={
            "level": level, "leaders": [c.id for c in route.leader_levels[level]]})
        urgent, type_, more = s.directory.types.is_urgent(report.type), report.type, level + 1 < len(route.leader_levels)
    _enqueue_all(s, work, urgent)
    if more:
        _schedule_escalation(s, report_id, level + 1, s.directory.escalation[type_], urgent)
    return "escalated"


def report_updated(event_id: int) -> str:
    """Tell every agency that has the report (by webhook) that its status changed."""
    s = services()
    with s.Session.begin() as session:
        event = session.get(ReportEvent, event_id)
        if event is None:
            return "missing"
        report = event.report
        route = _plan(s, report)
        work = [w for c in route.agencies for w in alerts.alert_contact(session, s, report, c, "updated", event_id)]
    _enqueue_all(s, work, s.directory.types.is_urgent(report.type))
    return "told"


def _remember_recipients(session, report: Report, contacts, level: int) -> None:
    """Record who the report was routed to (once each): partner scoping reads this."""
    known = set(session.scalars(select(ReportContact.contact_id).where(ReportContact.report_id == report.id)))
    for contact in contacts:
        if contact.id not in known:
            session.add(ReportContact(report_id=report.id, contact_id=contact.id, kind=contact.kind, level=level))


def _plan(s, report: Report) -> routing.Plan:
    """The routing plan of a stored report against the current directory."""
    return routing.plan(RouteInput(report.type, report.area_code, report.answers), s.directory)


def _enqueue_all(s, work: list[Work], urgent: bool) -> None:
    """Hand every created delivery to the queue, retried with backoff, ahead of the jobs waiting
    there: in a burst, a report's alerts leave as soon as it is routed, not after every report
    behind it has been routed too."""
    for item in work:
        outbox.enqueue(s, item, urgent, at_front=True)


def _schedule_escalation(s, report_id: int, level: int, seconds: int, urgent: bool) -> None:
    """Escalate after `seconds` (rq's scheduler runs it: workers start with --with-scheduler)."""
    q = queues.queue(queues.URGENT if urgent else queues.DEFAULT, s.redis)
    job_id = f"escalate-{report_id}-{level}"
    if seconds <= 0:
        q.enqueue("workers.jobs.escalate_report", report_id, level, job_id=job_id + "-now", result_ttl=86400)
    else:
        q.enqueue_in(timedelta(seconds=seconds), "workers.jobs.escalate_report", report_id, level,
                     job_id=job_id, result_ttl=86400)


def sweep_outbox() -> dict:
    """Re-enqueue unrouted reports, undelivered messages and due escalations whose jobs were lost."""
    s = services()
    counts = outbox.sweep(s)
    counts["escalations"] = recover_escalations(s)
    return counts


RECOVERY_BATCH = 1000
"""Open reports the escalation recovery reads at a time: it never holds more, and no statement has
more parameters than this (PostgreSQL's protocol allows 65,535; SQLite's default build 32,766)."""


def recover_escalations(s) -> int:
    """Schedule again every escalation of an unacknowledged report whose job Redis no longer has.

    The sweep runs this every HOTLINE_SWEEP_SECONDS over every open routed report, so it goes in
    batches of RECOVERY_BATCH reports (in id order): two queries and one Redis round trip each."""
    scheduled = 0
    after = 0
    while True:
        with s.Session() as session:
            batch = session.execute(select(Report.id, Report.type, Report.area_code, Report.answers)
                                    .where(Report.status == "new", Report.routing == "routed", Report.id > after)
                                    .order_by(Report.id).limit(RECOVERY_BATCH)).all()
            if not batch:
                return scheduled
            after = batch[-1].id
            steps = session.execute(select(ReportEvent.report_id, ReportEvent.kind, ReportEvent.data,
                                           ReportEvent.created_at)
                                    .where(ReportEvent.report_id.in_([r.id for r in batch]),
                                           ReportEvent.kind.in_(("routed", "escalated")))
                                    .order_by(ReportEvent.id)).all()
        scheduled += _recover_batch(s, batch, steps)


def _recover_batch(s, batch, steps) -> int:
    """Schedule the missing next escalation of each report of one batch; how many were scheduled."""
    last: dict[int, tuple[int, object]] = {}
    for step in steps:  # the last level alerted, and when
        last[step.report_id] = (0 if step.kind == "routed" else int(step.data.get("level", 0)), step.created_at)
    due_next = []
    for row in batch:
        if row.id not in last:
            continue
        level, at = last[row.id]
        route = routing.plan(RouteInput(row.type, row.area_code, row.answers), s.directory)
        if level + 1 < len(route.leader_levels):  # else the top level was alerted already
            due_next.append((row, level + 1, at))
    if not due_next:
        return 0
    # Whether Redis still holds each next escalation, scheduled or due now: one round trip.
    with s.redis.pipeline(transaction=False) as pipe:
        for row, level, _ in due_next:
            job_id = f"escalate-{row.id}-{level}"
            pipe.exists(Job.key_for(job_id), Job.key_for(job_id + "-now"))
        held = pipe.execute()
    now = utcnow()
    scheduled = 0
    for (row, level, at), jobs_held in zip(due_next, held):
        if jobs_held:
            continue
        at = at if at.tzinfo else at.replace(tzinfo=now.tzinfo)
        due = (at + timedelta(seconds=s.directory.escalation[row.type]) - now).total_seconds()
        _schedule_escalation(s, row.id, level, int(due) if due >= 1 else 0, s.directory.types.is_urgent(row.type))
        scheduled += 1
    return scheduled


def erase_expired_numbers() -> int:
    """Erase reporters' numbers (and their lookup hashes) from reports closed longer than the retention
    period, and from reports never closed but older than the open-report limit: no number is kept
    for ever because nobody closed its report (docs/safety.md rule 2)."""
    s = services()
    now = utcnow()
    closed_before = now - timedelta(days=s.settings.retention_days)
    opened_before = now - timedelta(days=s.settings.open_retention_days)
    with s.Session.begin() as session:
        expired = session.scalars(select(Report).where(
            Report.reporter_phone.is_not(None),
            or_(and_(Report.status == "closed", Report.closed_at < closed_before), Report.created_at < opened_before))).all()
        for report in expired:
            session.execute(update(OutboundMessage).where(OutboundMessage.report_id == report.id,
                                                          OutboundMessage.contact_id.is_(None))
                            .values(recipient=b"", recipient_hash="erased"))
            why = "closed" if report.status == "closed" and _aware(report.closed_at) < closed_before else "open"
            report.reporter_phone, report.reporter_hash, report.phone_erased_at = None, None, now
            reports.add_event(session, report, "number_erased", data={
                "retention_days": s.settings.retention_days if why == "closed" else s.settings.open_retention_days,
                "because": why})
        if expired:
            from hotline import audit

            audit.record(session, "system", "retention.erase", details={"reports": [r.number for r in expired]})
        return len(expired)


def _aware(moment):
    """Naive database times (SQLite) are UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment
