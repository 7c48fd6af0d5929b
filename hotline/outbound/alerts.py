"""Alerts to leaders and agencies: words in the recipient's language, one row each, never twice.

An alert names the report's number, type and place, and how to acknowledge it. It never
carries the reporter's number or the reporter's own words (docs/safety.md rule 1).
"""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import payloads, reports
from hotline.outbound import outbox
from hotline.directory import Contact
from hotline.models import Alert, OutboundMessage, Report
from hotline.outbound.outbox import Work
from hotline.smsbudget import fits_sms

EVENTS = {"new": "report.created", "escalated": "report.escalated", "updated": "report.updated",
          "located": "report.updated"}
"""The webhook event (docs/contract.md section 5) for each kind of alert."""

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


def alert_by_sms(session: Session, s, report: Report, contact: Contact, kind: str, level: int) -> OutboundMessage | None:
    """Create (once) the alert row and its SMS for one contact; None if the contact has no phone."""
    if not contact.phone:
        return None
    existing = session.scalar(select(Alert).where(Alert.report_id == report.id, Alert.contact_id == contact.id,
                                                  Alert.means == "sms", Alert.kind == kind, Alert.level == level))
    if existing is not None:
        return session.get(OutboundMessage, existing.outbound_id) if existing.outbound_id else None
    message = outbox.new_sms(session, s, f"alert:{report.id}:{contact.id}:{kind}:{level}", contact.phone,
                             text(s, report, contact, kind), purpose="alert", urgent=s.directory.types.is_urgent(report.type),
                             report_id=report.id, contact_id=contact.id)
    session.add(Alert(report_id=report.id, contact_id=contact.id, means="sms", level=level, kind=kind,
                      outbound_id=message.id))
    return message


def alert_contact(session: Session, s, report: Report, contact: Contact, kind: str, level: int) -> list[Work]:
    """Create (once) every delivery of one alert to one contact, by every means it has; returns the work to enqueue."""
    work: list[Work] = []
    if kind != "updated" and (contact.kind == "leader" or contact.phone):
        message = alert_by_sms(session, s, report, contact, kind, level)
        if message is not None and message.status == "pending":
            work.append(Work("workers.jobs.send_sms", message.id, f"sms-{message.id}"))
    if contact.kind != "agency":
        return work
    if contact.webhook:
        alert = _delivery(session, report, contact, "webhook", kind, level,
                          lambda: {"event": EVENTS[kind], "report": payloads.report_payload(s, report)})
        if alert.status == "pending":
            work.append(Work("workers.jobs.deliver_webhook", alert.id, f"webhook-{alert.id}"))
    if contact.email and s.settings.smtp_host and kind != "updated":
        alert = _delivery(session, report, contact, "email", kind, level,
                          lambda: {"subject": f"{s.directory.line.name}: {report.type} {report.number}",
                                   "text": text(s, report, contact, kind)})
        if alert.status == "pending":
            work.append(Work("workers.jobs.send_email", alert.id, f"email-{alert.id}"))
    return work


def _delivery(session: Session, report: Report, contact: Contact, means: str, kind: str, level: int, payload) -> Alert:
    """The alert row for a webhook or email delivery, created once with its payload."""
    existing = session.scalar(select(Alert).where(Alert.report_id == report.id, Alert.contact_id == contact.id,
                                                  Alert.means == means, Alert.kind == kind, Alert.level == level))
    if existing is not None:
        return existing
    alert = Alert(report_id=report.id, contact_id=contact.id, means=means, level=level, kind=kind, status="pending",
                  delivery_id=str(uuid.uuid4()), payload=payload(), attempts=0)
    session.add(alert)
    session.flush()
    return alert


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
                          urgent=s.directory.types.is_urgent(report.type), report_id=report.id)
