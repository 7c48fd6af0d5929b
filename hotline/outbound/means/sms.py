"""Alerts by SMS: to every leader, and to agencies that have a phone; never for a status update.
The message (an outbox row) carries the delivery's state and goes out through the providers
(hotline.outbound.sending)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from hotline import queues
from hotline.directory import Contact
from hotline.models import Alert, OutboundMessage, Report
from hotline.outbound import outbox
from hotline.outbound.means.base import CLUSTER, Means, existing
from hotline.queues import Work


class Sms(Means):
    """A short alert in the contact's language: number, type, place and how to acknowledge."""

    slug = "sms"
    keeps_state = False

    def wanted(self, s, contact: Contact, kind: str) -> bool:
        """Leaders always (they need a phone), agencies with a phone; not for status updates. A cluster only
        to an agency that nothing else would reach (it has only a phone); never to a leader."""
        if kind == CLUSTER:
            from hotline.outbound.means import MEANS

            return contact.kind == "agency" and bool(contact.phone) and not any(
                means.wanted(s, contact, kind) for means in MEANS.values() if means.slug != self.slug)
        return kind != "updated" and bool(contact.phone) and contact.kind in ("leader", "agency")

    def create(self, session: Session, s, report: Report, contact: Contact, kind: str, level: int) -> Work | None:
        """The alert row and its SMS, once; the send job while the SMS is still to go."""
        from hotline.outbound import alerts

        alert = existing(session, report.id, contact, self.slug, kind, level)
        if alert is not None:
            message = session.get(OutboundMessage, alert.outbound_id) if alert.outbound_id else None
        else:
            message = outbox.new_sms(session, s, f"alert:{report.id}:{contact.id}:{kind}:{level}", contact.phone,
                                     alerts.text(s, report, contact, kind), purpose="alert",
                                     urgent=s.directory.types.is_urgent(report.type), report_id=report.id,
                                     contact_id=contact.id)
            session.add(Alert(report_id=report.id, contact_id=contact.id, means=self.slug, level=level, kind=kind,
                              outbound_id=message.id))
        if message is not None and message.status == "pending":
            return queues.SEND_SMS.work(message.id)
        return None

    def create_cluster(self, session: Session, s, cluster, contact: Contact) -> Work | None:
        """The cluster's alert row and its SMS, once per cluster, size and newest report."""
        from hotline.outbound import alerts

        report_id, size = cluster.newest.id, cluster.size
        alert = existing(session, report_id, contact, self.slug, CLUSTER, size, cluster.id)
        if alert is not None:
            message = session.get(OutboundMessage, alert.outbound_id) if alert.outbound_id else None
        else:
            message = outbox.new_sms(session, s, f"cluster:{cluster.id}:{size}:{report_id}:{contact.id}", contact.phone,
                                     alerts.cluster_text(s, cluster, contact), purpose="alert", report_id=report_id,
                                     contact_id=contact.id)
            session.add(Alert(report_id=report_id, contact_id=contact.id, means=self.slug, level=size, kind=CLUSTER,
                              outbound_id=message.id, cluster=cluster.id))
        if message is not None and message.status == "pending":
            return queues.SEND_SMS.work(message.id)
        return None


MEANS = Sms()
"""This module's means (registered by hotline.outbound.means)."""
