"""Retention: reporters' numbers are not kept for ever (docs/safety.md rule 2)."""
from __future__ import annotations

from datetime import timedelta, timezone

from sqlalchemy import and_, or_, select, update

from hotline import reports
from hotline.models import OutboundMessage, Report, utcnow


def erase_expired_numbers(s) -> int:
    """Erase reporters' numbers (and their lookup hashes) from reports closed longer than the retention
    period, and from reports never closed but older than the open-report limit: no number is kept
    for ever because nobody closed its report (docs/safety.md rule 2)."""
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
