"""The one interface of a means of alerting: who gets it, the row that delivers it, and sending it."""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.channels.base import REFUSED, SendError
from hotline.directory import Contact
from hotline.models import Alert, Report
from hotline.queues import Work


class Means(ABC):
    """SMS, webhook or email. `keeps_state`: its Alert rows carry the delivery's own state (webhook,
    email); an SMS alert's state is its message's."""

    slug: str = ""
    keeps_state: bool = True

    @abstractmethod
    def wanted(self, s, contact: Contact, kind: str) -> bool:
        """True when this contact gets this kind of alert by this means."""

    @abstractmethod
    def create(self, session: Session, s, report: Report, contact: Contact, kind: str, level: int) -> Work | None:
        """Create (once) what delivers the alert; the job to enqueue while it is still to be sent."""

    def create_cluster(self, session: Session, s, cluster, contact: Contact) -> Work | None:
        """Create (once per cluster, size and newest report) what tells an agency of a cluster
        (hotline.linking.clusters); the job to enqueue while it is still to be sent."""
        return None

    def send(self, s, contact: Contact, alert: Alert) -> None:
        """Deliver a claimed alert that keeps its own state; raise SendError on failure."""
        raise SendError(f"{self.slug} alerts are delivered by their message, not by themselves", outcome=REFUSED)


CLUSTER = "cluster"
"""The kind of an alert that tells an agency of a cluster (its `level` is the cluster's size)."""


def existing(session: Session, report_id: int, contact: Contact, means: str, kind: str, level: int,
             cluster: str = "") -> Alert | None:
    """The alert row already made for this report, contact, means, kind and level (and cluster), if any."""
    return session.scalar(select(Alert).where(Alert.report_id == report_id, Alert.contact_id == contact.id,
                                              Alert.means == means, Alert.kind == kind, Alert.level == level,
                                              Alert.cluster == cluster))


def stateful_alert(session: Session, report_id: int, contact: Contact, means: str, kind: str, level: int,
                   payload, cluster: str = "") -> Alert:
    """The alert row of a webhook or email delivery, created once with its payload (a function, so it
    is built only the first time)."""
    alert = existing(session, report_id, contact, means, kind, level, cluster)
    if alert is not None:
        return alert
    alert = Alert(report_id=report_id, contact_id=contact.id, means=means, level=level, kind=kind, status="pending",
                  delivery_id=str(uuid.uuid4()), payload=payload(), attempts=0, cluster=cluster)
    session.add(alert)
    session.flush()
    return alert
