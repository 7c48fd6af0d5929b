"""Alerts to leaders and agencies: words in the recipient's language, one row each, never twice.

An alert names the report's number, type and place, and how to acknowledge it. It never
carries the reporter's number or the reporter's own words (docs/safety.md rule 1). Each means
of delivery (SMS, webhook, email) is a module of hotline.outbound.means.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import reports
from hotline.directory import Contact
from hotline.models import Alert, OutboundMessage, Report
from hotline.outbound import outbox
from hotline.outbound.means import MEANS
from hotline.queues import Work
from hotline.smsbudget import fits_sms

ALERT_PARTS = 2
"""An alert fits in this many SMS parts."""


def place(s, report: Report, lang: str, levels: int) -> str:
    """The report's area, most specific first, `levels` deep (the province last)."""
    gaz = s.directory.gazetteer
    if not report.area_code or report.area_code not in gaz:
        return s.engine.config.text(lang, "place_unknown")
    path = [a.name(lang) for a in reversed(gaz.path(report.area_code))]
    return ", ".join(path[:levels])


def text(s, report: Report, contact: Contact, kind: str) -> str:
    """The alert for one contact, shortened (fewer place levels) until it fits 2 SMS parts."""
    config = s.engine.config
    lang = contact.language
    name = config.texts.get(lang, {}).get("line_name", config.line.name)
    type_words = config.text(lang, f"alert_type_{report.type}")
    for levels in (4, 3, 2, 1):
        words = config.text(lang, f"alert_{kind}", name=name, type=type_words, number=report.number,
                            place=place(s, report, lang, levels))
        if fits_sms(words, ALERT_PARTS):
            return words
    return words


CLUSTER_VALUE_CHARS = 40
"""The most characters of a cluster's value (a name may be long) an alert carries."""


def cluster_text(s, cluster, contact: Contact, parts: int | None = ALERT_PARTS) -> str:
    """A cluster in the agency's language: how many reports in how many days name which recruiter, and
    the reports' numbers, newest first, as many as fit `parts` SMS parts (None: all of them)."""
    config = s.engine.config
    lang = contact.language
    name = config.texts.get(lang, {}).get("line_name", config.line.name)
    numbers = [m.number for m in reversed(cluster.reports)]
    for shown in range(len(numbers), 0, -1):
        listed = ", ".join(numbers[:shown]) + (" …" if shown < len(numbers) else "")
        words = config.text(lang, "alert_cluster", name=name, count=cluster.size, days=s.directory.clusters.days,
                            value=cluster.value[:CLUSTER_VALUE_CHARS], numbers=listed)
        if parts is None or fits_sms(words, parts):
            return words
    return words


def alert_contact(session: Session, s, report: Report, contact: Contact, kind: str, level: int) -> list[Work]:
    """Create (once) every delivery of one alert to one contact, by every means it has; the work to enqueue."""
    work = [means.create(session, s, report, contact, kind, level)
            for means in MEANS.values() if means.wanted(s, contact, kind)]
    return [w for w in work if w is not None]


def was_alerted(session: Session, report: Report, contact_id: str) -> bool:
    """True if this contact was alerted about this report (so its OK counts)."""
    return session.scalar(select(Alert.id).where(Alert.report_id == report.id, Alert.contact_id == contact_id).limit(1)) is not None


def tell_reporter_seen(session: Session, s, report: Report) -> OutboundMessage | None:
    """One neutral SMS to a reporter who agreed to follow-up and has not said STOP."""
    if not report.consent or report.reporter_phone is None:
        return None
    row = session.get(reports.Reporter, report.reporter_hash) if report.reporter_hash else None
    if row is not None and row.opted_out:
        return None
    phone = s.vault.decrypt(report.reporter_phone)
    if phone is None:
        return None
    words = s.engine.config.text(report.language, "alert_reporter_seen", number=report.number)
    return outbox.new_sms(session, s, f"seen:{report.id}", phone, words, purpose="follow_up",
                          urgent=s.directory.types.is_urgent(report.type), report_id=report.id,
                          via=report.provider, sender=report.line_number)
