"""rq jobs: route a report, send one SMS, sweep the outbox. Each takes an id, never an object."""
from __future__ import annotations

import logging

from sqlalchemy import select

from hotline import alerts, channels, outbox, queues, reports, routing
from hotline.channels.base import SendError
from hotline.models import OutboundMessage, Report, Reporter, utcnow
from hotline.routing import RouteInput
from workers.context import services

log = logging.getLogger(__name__)


def send_sms(message_id: int) -> str:
    """Send one stored SMS through the configured provider, once; returns its status."""
    s = services()
    with s.Session.begin() as session:
        message = session.get(OutboundMessage, message_id)
        if message is None:
            return "missing"
        if message.status != "pending":
            return message.status  # already sent by an earlier run of this job
        if message.contact_id is None and message.purpose != "reply":
            opted_out = session.scalar(select(Reporter.opted_out).where(Reporter.hash == message.recipient_hash))
            if opted_out:
                message.status, message.error = "failed", "recipient said STOP"
                return message.status
        message.attempts += 1
        to, body, provider_slug = s.vault.decrypt(message.recipient), message.body, message.provider
    provider = channels.get(provider_slug)
    callback = _status_callback(s, provider_slug)
    try:
        result = provider.send(s.settings, to, body, callback)
    except SendError as exc:
        with s.Session.begin() as session:
            message = session.get(OutboundMessage, message_id)
            message.error = str(exc)[:255]
            if exc.permanent:
                message.status = "failed"
                return "failed"
        raise  # transient: rq retries with backoff
    with s.Session.begin() as session:
        message = session.get(OutboundMessage, message_id)
        message.provider_message_id = result.provider_message_id
        message.status = result.status if outbox.STATUS_ORDER[result.status] > outbox.STATUS_ORDER[message.status] else message.status
        message.error = None
        return message.status


def _status_callback(s, provider_slug: str) -> str | None:
    """Where the provider should report delivery (Twilio takes it per message)."""
    if provider_slug == "twilio" and s.settings.public_base_url:
        return s.settings.public_base_url + "/webhooks/twilio/status"
    return None


def sweep_outbox() -> dict:
    """Re-enqueue unrouted reports and unsent SMS whose jobs were lost."""
    return outbox.sweep(services())


def route_report(report_id: int) -> str:
    """Alert the deepest leaders and every agency covering the report, once; schedule escalation."""
    s = services()
    with s.Session.begin() as session:
        report = session.get(Report, report_id)
        if report is None:
            return "missing"
        if report.routing == "routed":
            return "routed"  # an earlier run finished: nothing is sent twice
        route = _plan(s, report)
        sent = [alerts.alert_by_sms(session, s, report, c, "new", 0) for c in (*route.first_leaders, *route.agencies)]
        report.routing, report.routed_at = "routed", utcnow()
        reports.add_event(session, report, "routed", data={
            "leaders": [c.id for c in route.first_leaders], "agencies": [c.id for c in route.agencies],
            "skipped_conflict": len(route.skipped), "levels": len(route.leader_levels)})
        urgent, type_ = report.type == "urgent", report.type
    _enqueue_all(s, sent, urgent)
    if len(route.leader_levels) > 1:
        _schedule_escalation(s, report_id, 1, s.directory.escalation[type_], urgent)
    return "routed"


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
        sent = [alerts.alert_by_sms(session, s, report, c, "new", level) for c in route.leader_levels[level]]
        sent += [alerts.alert_by_sms(session, s, report, c, "escalated", level) for c in route.agencies]
        reports.add_event(session, report, "escalated", data={
            "level": level, "leaders": [c.id for c in route.leader_levels[level]]})
        urgent, type_, more = report.type == "urgent", report.type, level + 1 < len(route.leader_levels)
    _enqueue_all(s, sent, urgent)
    if more:
        _schedule_escalation(s, report_id, level + 1, s.directory.escalation[type_], urgent)
    return "escalated"


def _schedule_escalation(s, report_id: int, level: int, seconds: int, urgent: bool) -> None:
    """Escalate later (needs a worker run with --with-scheduler)."""
    from datetime import timedelta

    q = queues.queue(queues.URGENT if urgent else queues.DEFAULT, s.redis)
    q.enqueue_in(timedelta(seconds=seconds), "workers.jobs.escalate_report", report_id, level,
                 job_id=f"escalate-{report_id}-{level}", result_ttl=86400)


def _plan(s, report: Report) -> routing.Plan:
    """The routing plan of a stored report against the current directory."""
    return routing.plan(RouteInput(report.type, report.area_code, report.answers), s.directory)


def _enqueue_all(s, messages: list, urgent: bool) -> None:
    """Hand every created SMS to the queue (None: the contact has no phone)."""
    for message in messages:
        if message is not None:
            outbox.enqueue_send(s, message.id, urgent=urgent)
