"""Dispatch: a stored report to the contacts routing names, now and on each escalation, and the
escalations that Redis lost scheduled again. The job functions of workers/jobs.py call these with
their process's Services; everything here takes `s` and row ids and may run twice without sending
anything twice (each alert is a row made once, each job id names its row)."""
from __future__ import annotations

from datetime import timedelta

from rq.job import Job
from sqlalchemy import select, update

from hotline import queues, reports, routing
from hotline.linking import work as linking
from hotline.models import Alert, OutboundMessage, Report, ReportContact, ReportEvent, utcnow
from hotline.outbound import alerts, outbox
from hotline.queues import Work
from hotline.routing import RouteInput


def route_report(s, report_id: int) -> str:
    """Alert the deepest leaders and every agency covering the report, once; schedule escalation.

    A report whose place came after it was first routed (a type stored the moment it was chosen)
    is routed again for the new place: the place's contacts are alerted, and those alerted before
    are told where ("located"). Nothing is ever sent twice."""
    with s.Session.begin() as session:
        if not reports.lock(session, report_id):
            return "missing"
        report = session.get(Report, report_id)
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
        linking.want_link(session, report)  # its agencies are known now (and may have changed with its place)
        reports.add_event(session, report, "routed", data={
            "leaders": [c.id for c in route.first_leaders], "agencies": [c.id for c in route.agencies],
            "skipped_conflict": len(route.skipped), "levels": len(route.leader_levels), "area": planned_area})
        urgent, type_ = s.directory.types.is_urgent(report.type), report.type
    _enqueue_all(s, work, urgent)
    outbox.enqueue(s, linking.link_job(report_id))
    if len(route.leader_levels) > 1:
        schedule_escalation(s, report_id, 1, s.directory.escalation[type_], urgent)
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


def escalate_report(s, report_id: int, level: int) -> str:
    """If nobody acknowledged, alert the next shallower leaders and tell the agencies; a no-op after OK."""
    with s.Session.begin() as session:
        if not reports.lock(session, report_id):
            return "missing"
        report = session.get(Report, report_id)
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
        schedule_escalation(s, report_id, level + 1, s.directory.escalation[type_], urgent)
    return "escalated"


def report_updated(s, event_id: int) -> str:
    """Tell every agency that has the report (by webhook) that its status changed."""
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


def schedule_escalation(s, report_id: int, level: int, seconds: int, urgent: bool) -> None:
    """Escalate after `seconds` (rq's scheduler runs it: workers start with --with-scheduler)."""
    q = queues.queue(queues.URGENT if urgent else queues.DEFAULT, s.redis)
    job_id = f"{queues.ESCALATE.prefix}-{report_id}-{level}"
    if seconds <= 0:
        q.enqueue(queues.ESCALATE.func, report_id, level, job_id=job_id + "-now", result_ttl=86400)
    else:
        q.enqueue_in(timedelta(seconds=seconds), queues.ESCALATE.func, report_id, level,
                     job_id=job_id, result_ttl=86400)


def message_failed(s, message_id: int) -> str:
    """An alert SMS failed for good: if no leader of its level can still get it, climb a level now."""
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
    schedule_escalation(s, report_id, level + 1, 0, urgent)
    return "moved on"


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
            job_id = f"{queues.ESCALATE.prefix}-{row.id}-{level}"
            pipe.exists(Job.key_for(job_id), Job.key_for(job_id + "-now"))
        held = pipe.execute()
    now = utcnow()
    scheduled = 0
    for (row, level, at), jobs_held in zip(due_next, held):
        if jobs_held:
            continue
        at = at if at.tzinfo else at.replace(tzinfo=now.tzinfo)
        due = (at + timedelta(seconds=s.directory.escalation[row.type]) - now).total_seconds()
        schedule_escalation(s, row.id, level, int(due) if due >= 1 else 0, s.directory.types.is_urgent(row.type))
        scheduled += 1
    return scheduled
