"""rq jobs. Each takes an id, never an object, and may run twice without doing anything twice; each
is named once, in hotline/queues.py. The work itself is in hotline/outbound (dispatch, sending,
means) and hotline/retention.py: these functions give it the worker's Services and tell rq what
to retry."""
from __future__ import annotations

import logging

from hotline import queues, retention
from hotline.linking import work as linking
from hotline.channels.base import SendError
from hotline.models import Alert, OutboundMessage
from hotline.outbound import claims, dispatch, outbox, sending
from hotline.outbound.means import MEANS
from workers.context import services

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """A transient failure: rq retries the job with backoff."""


def _retry_or_give_up(s, model, row_id: int, error: str, final: bool = False, **values) -> None:
    """A failed attempt: a final one, or the last of HOTLINE_RETRY_INTERVALS, marks the row failed (an
    SMS then lets its report climb a level at once if need be); any other is retried by rq with
    backoff, and after its last retry the job stays in rq's failed registry (a dead letter)."""
    last = final or claims.attempts(s, model, row_id) >= outbox.max_attempts(s)
    claims.finish(s, model, row_id, "failed" if last else None, error, **values)
    if last and model is OutboundMessage:
        outbox.enqueue(s, queues.MESSAGE_FAILED.work(row_id))
    if not final:
        raise DeliveryFailed(error)


# ---- deliveries -------------------------------------------------------------------------
def send_sms(message_id: int) -> str:
    """Send one stored SMS through the providers (hotline.outbound.sending), once; its status."""
    s = services()
    if not claims.claim(s, OutboundMessage, message_id):
        return claims.state(s, OutboundMessage, message_id)  # sent already, or another worker is sending it
    outcome = sending.deliver(s, message_id)
    if outcome is None:
        return "failed"  # the recipient said STOP (recorded)
    values = {"provider": outcome.provider}
    if outcome.pinned:
        values["pinned"] = True
    if outcome.retry:
        _retry_or_give_up(s, OutboundMessage, message_id, outcome.error or "not sent", **values)
    elif outcome.status == "failed":
        _retry_or_give_up(s, OutboundMessage, message_id, outcome.error or "refused", final=True, **values)
    else:
        claims.finish(s, OutboundMessage, message_id, outcome.status, provider_message_id=outcome.provider_message_id,
                      **values)
    return claims.state(s, OutboundMessage, message_id)


def deliver_alert(alert_id: int) -> str:
    """Deliver one alert that keeps its own state (webhook, email) by its means, once; its status."""
    s = services()
    if not claims.claim(s, Alert, alert_id):
        return claims.state(s, Alert, alert_id)
    with s.Session() as session:
        alert = session.get(Alert, alert_id)
        session.expunge(alert)
    contact = s.directory.contact(alert.contact_id)
    if contact is None:
        claims.finish(s, Alert, alert_id, "failed", "the contact is no longer in the directory")
        return "failed"
    try:
        MEANS[alert.means].send(s, contact, alert)
    except SendError as exc:
        _retry_or_give_up(s, Alert, alert_id, str(exc), final=exc.permanent)
        return "failed"
    claims.finish(s, Alert, alert_id, "delivered")
    return "delivered"


deliver_webhook = send_email = deliver_alert
"""The names webhook and email deliveries had: jobs queued before the upgrade still run."""


def message_failed(message_id: int) -> str:
    """An alert SMS failed for good: if no leader of its level can still get it, climb a level now."""
    return dispatch.message_failed(services(), message_id)


# ---- routing and escalation ------------------------------------------------------------
def route_report(report_id: int) -> str:
    """Alert the deepest leaders and every agency covering the report, once; schedule escalation."""
    return dispatch.route_report(services(), report_id)


def escalate_report(report_id: int, level: int) -> str:
    """If nobody acknowledged, alert the next shallower leaders and tell the agencies."""
    return dispatch.escalate_report(services(), report_id, level)


def report_updated(event_id: int) -> str:
    """Tell every agency that has the report (by webhook) that it changed."""
    return dispatch.report_updated(services(), event_id)


def recover_escalations(s) -> int:
    """Schedule again every escalation Redis lost (dispatch.recover_escalations)."""
    return dispatch.recover_escalations(s)


# ---- linking -----------------------------------------------------------------------------
def link_report(report_id: int) -> str:
    """Store what a routed report names; tell its agencies of the clusters it makes (hotline.linking)."""
    return linking.link_report(services(), report_id)


def suggest_links(report_id: int) -> int:
    """Store the suggested links of one report (similar names and descriptions)."""
    return linking.suggest_links(services(), report_id)


# ---- the voice line -----------------------------------------------------------------------
def place_call(call_id: int) -> str:
    """Ring a caseworker's phone for a masked call-back (hotline.voice.callback), once."""
    from hotline.voice import callback

    return callback.place(services(), call_id)


def fetch_clip(recording_id: int) -> str:
    """Fetch, check and keep one prompt recorded on the staff recording call (hotline.voice.recordings)."""
    from hotline.voice import recordings

    return recordings.fetch(services(), recording_id)


# ---- maintenance --------------------------------------------------------------------------
def sweep_outbox() -> dict:
    """Re-enqueue unrouted reports, undelivered messages and due escalations whose jobs were lost."""
    s = services()
    counts = outbox.sweep(s)
    counts["escalations"] = dispatch.recover_escalations(s)
    counts["linking"] = linking.sweep(s, outbox.grace_cutoff(s))
    return counts


def erase_expired_numbers() -> int:
    """Erase the reporter numbers retention says must go (hotline.retention)."""
    return retention.erase_expired_numbers(services())
