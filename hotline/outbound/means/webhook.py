"""Alerts by webhook: an agency with a `webhook` gets every event about the reports routed to it,
as signed JSON (docs/contract.md section 5): X-Hotline-Event, X-Hotline-Delivery (the same on every
retry of one delivery) and X-Hotline-Signature (HMAC-SHA256 of the raw body with its secret)."""
from __future__ import annotations

import hashlib
import hmac
import json
import os

import requests
from sqlalchemy.orm import Session

from hotline import payloads, queues
from hotline.channels.base import REFUSED, SendError
from hotline.directory import Contact
from hotline.models import Alert, Report
from hotline.outbound.means.base import CLUSTER, Means, stateful_alert
from hotline.queues import Work

TIMEOUT = 10
"""Seconds an agency's webhook may take to answer."""

EVENTS = {"new": "report.created", "escalated": "report.escalated", "updated": "report.updated",
          "located": "report.updated", CLUSTER: "cluster.detected"}
"""The event pushed for each kind of alert."""


def sign(secret: str, body: bytes) -> str:
    """The X-Hotline-Signature of a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook(Means):
    """A signed POST of the report's partner view."""

    slug = "webhook"

    def wanted(self, s, contact: Contact, kind: str) -> bool:
        """Agencies with a webhook, for every kind of event."""
        return contact.kind == "agency" and contact.webhook is not None

    def create(self, session: Session, s, report: Report, contact: Contact, kind: str, level: int) -> Work | None:
        """The delivery with its payload, built once (retries send the very same body)."""
        alert = stateful_alert(session, report.id, contact, self.slug, kind, level,
                               lambda: {"event": EVENTS[kind], "report": payloads.report_payload(s, report)})
        return queues.DELIVER.work(alert.id) if alert.status == "pending" else None

    def create_cluster(self, session: Session, s, cluster, contact: Contact) -> Work | None:
        """`cluster.detected` with the cluster's partner view, once per cluster, size and newest report."""
        alert = stateful_alert(session, cluster.newest.id, contact, self.slug, CLUSTER, cluster.size,
                               lambda: {"event": EVENTS[CLUSTER], "cluster": payloads.cluster_payload(cluster)},
                               cluster.id)
        return queues.DELIVER.work(alert.id) if alert.status == "pending" else None

    def send(self, s, contact: Contact, alert: Alert) -> None:
        """POST it; a 2xx is delivered, anything else is tried again later."""
        if contact.webhook is None:
            raise SendError("the contact has no webhook any more", outcome=REFUSED)
        secret = os.environ.get(contact.webhook.secret_env)
        if not secret:
            raise SendError(f"webhook secret {contact.webhook.secret_env} is not set: nothing was sent",
                            outcome=REFUSED)
        payload = dict(alert.payload or {})
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Hotline-Event": payload["event"],
                   "X-Hotline-Delivery": alert.delivery_id, "X-Hotline-Signature": sign(secret, body),
                   "User-Agent": "hotline-webhooks/1"}
        try:
            response = requests.post(contact.webhook.url, data=body, headers=headers, timeout=TIMEOUT,
                                     allow_redirects=False)
        except requests.RequestException as exc:
            raise SendError(f"webhook unreachable: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise SendError(f"webhook answered {response.status_code}")


MEANS = Webhook()
"""This module's means (registered by hotline.outbound.means)."""
