"""From one normalised inbound message to a stored report and an answer.

The webhook path: one short transaction, a few Redis round trips, no provider calls.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import alerts, conversations, outbox, reports
from hotline.channels.base import Answer, Inbound, SessionEnd, StatusUpdate
from hotline.engine import Draft
from hotline.models import InboundMessage, OutboundMessage
from hotline.services import Services

log = logging.getLogger(__name__)


class DbBackend:
    """The engine's Backend for one sender, inside one transaction."""

    def __init__(self, services: Services, session: Session, inbound: Inbound, phone_hash: str):
        self.s = services
        self.session = session
        self.inbound = inbound
        self.phone_hash = phone_hash
        self.created: list[int] = []
        self.created_urgent = False
        self.work: list[outbox.Work] = []

    def language(self) -> str:
        """The sender's language: chosen before, else the contact's, else the line's first."""
        row = self.session.get(reports.Reporter, self.phone_hash)
        if row and row.language:
            return row.language
        contact = self.s.directory.contact_by_phone(self.inbound.sender)
        return contact.language if contact else self.s.directory.line.languages[0]

    def submit(self, draft: Draft) -> str:
        """Store the report now, before the reporter is told its number."""
        report = reports.create(self.session, self.s.vault, draft, self.inbound.sender, self.inbound.provider)
        self.created.append(report.id)
        self.created_urgent = self.created_urgent or draft.type == "urgent"
        return report.number

    def status(self, number: str) -> str | None:
        """A report's status by number."""
        report = reports.by_number(self.session, number)
        return report.status if report else None

    def add_detail(self, number: str, text: str) -> bool:
        """Add words to the sender's own report."""
        report = reports.by_number(self.session, number)
        if report is None or report.reporter_hash != self.phone_hash:
            return False
        reports.add_detail(self.session, report, text)
        return True

    def set_language(self, lang: str) -> None:
        """Remember the sender's language."""
        reports.reporter(self.session, self.phone_hash).language = lang

    def set_opt_out(self, opted_out: bool) -> None:
        """Remember STOP / START."""
        reports.reporter(self.session, self.phone_hash).opted_out = opted_out

    def acknowledge(self, number: str) -> str:
        """An OK from a leader or agency of the directory."""
        contact = self.s.directory.contact_by_phone(self.inbound.sender)
        if contact is None:
            return "not_contact"
        report = reports.by_number(self.session, number)
        if report is None or not alerts.was_alerted(self.session, report, contact.id):
            return "unknown"
        event = reports.acknowledge(self.session, report, contact.id)
        if event is None:
            return "already"
        self.work.append(outbox.Work("workers.jobs.report_updated", event.id, f"updated-{event.id}"))
        message = alerts.tell_reporter_seen(self.session, self.s, report)
        if message is not None:
            self.work.append(outbox.Work("workers.jobs.send_sms", message.id, f"sms-{message.id}"))
        return "done"


def handle_message(s: Services, inbound: Inbound, now: float | None = None) -> Answer:
    """Answer one inbound SMS or USSD step exactly once; a resend gets the stored answer."""
    now = now or time.time()
    with s.Session() as session:
        seen = _seen(session, inbound)
        if seen:
            return seen
    phone_hash = s.vault.lookup_hash(inbound.sender)
    if conversations.over_rate(s.redis, phone_hash, s.settings.rate_limit_per_minute, now):
        lang = s.directory.line.languages[0]
        return Answer(s.engine.config.text(lang, "rate_limited"), True)
    state = conversations.load(s.redis, inbound.channel, phone_hash)
    with s.Session() as session:
        try:
            with session.begin():
                backend = DbBackend(s, session, inbound, phone_hash)
                lang = backend.language()
                if inbound.channel == "ussd":
                    reply = s.engine.ussd(state, inbound.text, inbound.session_id or "", now, backend, lang)
                else:
                    reply = s.engine.sms(state, inbound.text, now, backend, lang)
                record = InboundMessage(provider=inbound.provider, external_id=inbound.external_id,
                                        channel=inbound.channel, reply=reply.text, reply_end=reply.end,
                                        report_id=backend.created[-1] if backend.created else None)
                session.add(record)
                session.flush()
                message = None
                if not inbound.inline_reply and reply.text:
                    message = outbox.new_sms(session, s, f"reply:{record.id}", inbound.sender, reply.text,
                                             purpose="reply", urgent=True, report_id=record.report_id)
        except IntegrityError:
            session.rollback()
            seen = _seen(session, inbound)
            if seen:  # a concurrent resend of the same message was handled first
                return seen
            raise
    conversations.save(s.redis, inbound.channel, phone_hash, reply.state)
    outbox.enqueue_routing(s, backend.created, urgent=backend.created_urgent)
    if message is not None:
        outbox.enqueue_send(s, message.id, urgent=True)
    for work in backend.work:
        outbox.enqueue(s, work)
    return Answer(reply.text, reply.end)


def _seen(session: Session, inbound: Inbound) -> Answer | None:
    """The answer already given to this provider message, if it was handled before."""
    row = session.scalar(select(InboundMessage).where(InboundMessage.provider == inbound.provider,
                                                      InboundMessage.external_id == inbound.external_id))
    return Answer(row.reply, row.reply_end) if row else None


def handle_status(s: Services, update: StatusUpdate) -> None:
    """A provider's delivery news for a message we sent (unknown ids are ignored)."""
    if update.status is None:
        return
    with s.Session.begin() as session:
        message = session.scalar(select(OutboundMessage).where(OutboundMessage.provider == update.provider,
                                                               OutboundMessage.provider_message_id == update.provider_message_id))
        if message is None:
            return
        outbox.apply_status(session, s, message, update)


def handle_session_end(s: Services, end: SessionEnd) -> None:
    """A USSD session ended; a dropped one is kept so the reporter may continue."""
    if end.status == "Incomplete":
        conversations.mark_dropped(s.redis, s.vault.lookup_hash(end.sender), end.session_id)
