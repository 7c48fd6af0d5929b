"""rq jobs: route a report, send one SMS, sweep the outbox. Each takes an id, never an object."""
from __future__ import annotations

import logging

from sqlalchemy import select

from hotline import channels, outbox
from hotline.channels.base import SendError
from hotline.models import OutboundMessage, Reporter
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
