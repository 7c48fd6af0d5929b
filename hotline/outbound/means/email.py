"""Alerts by email: an agency with an `email` gets new and escalated reports (and where they are),
through SMTP_HOST; none are sent while SMTP_HOST is unset."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

from sqlalchemy.orm import Session

from hotline import queues
from hotline.channels.base import RECIPIENT, REFUSED, SendError
from hotline.directory import Contact
from hotline.models import Alert, Report
from hotline.outbound.means.base import CLUSTER, Means, stateful_alert
from hotline.queues import Work

TIMEOUT = 15
"""Seconds the SMTP server may take."""


class Email(Means):
    """The alert's words, with the line's name and the report's number as the subject."""

    slug = "email"

    def wanted(self, s, contact: Contact, kind: str) -> bool:
        """Agencies with an address, when SMTP is set up; not for status updates."""
        return contact.kind == "agency" and bool(contact.email) and bool(s.settings.smtp_host) and kind != "updated"

    def create(self, session: Session, s, report: Report, contact: Contact, kind: str, level: int) -> Work | None:
        """The delivery with its subject and text, built once."""
        from hotline.outbound import alerts

        alert = stateful_alert(session, report.id, contact, self.slug, kind, level,
                               lambda: {"subject": f"{s.directory.line.name}: {report.type} {report.number}",
                                        "text": alerts.text(s, report, contact, kind)})
        return queues.DELIVER.work(alert.id) if alert.status == "pending" else None

    def create_cluster(self, session: Session, s, cluster, contact: Contact) -> Work | None:
        """The cluster's words with every report's number, once per cluster, size and newest report."""
        from hotline.outbound import alerts

        alert = stateful_alert(session, cluster.newest.id, contact, self.slug, CLUSTER, cluster.size,
                               lambda: {"subject": f"{s.directory.line.name}: {cluster.size} reports, {cluster.value}",
                                        "text": alerts.cluster_text(s, cluster, contact, parts=None)}, cluster.id)
        return queues.DELIVER.work(alert.id) if alert.status == "pending" else None

    def send(self, s, contact: Contact, alert: Alert) -> None:
        """Hand it to SMTP_HOST; a refused address is final, anything else is tried again later."""
        settings = s.settings
        if not contact.email or not settings.smtp_host:
            raise SendError("no email address, or SMTP_HOST is not set", outcome=REFUSED)
        payload = dict(alert.payload or {})
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = settings.smtp_from, contact.email, payload["subject"]
        message.set_content(payload["text"])
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise SendError("email address refused", outcome=RECIPIENT) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP: {type(exc).__name__}") from None


MEANS = Email()
"""This module's means (registered by hotline.outbound.means)."""
