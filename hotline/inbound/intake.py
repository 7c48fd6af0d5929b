"""From one normalised inbound message to a stored report and an answer.

The webhook path: two Redis round trips, a database transaction only for a step that needs
one, no provider calls.
"""
from __future__ import annotations

import hashlib
import logging
import time

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from hotline import db, queues, reportnumber, reports, routing
from hotline.channels.base import Answer, Inbound, SessionEnd, StatusUpdate
from hotline.engine import Draft, Reply
from hotline.engine import voice as voice_screens
from hotline.inbound import conversations
from hotline.linking import work as linking
from hotline.models import InboundMessage, OutboundMessage, Report, Reporter
from hotline.outbound import alerts, outbox
from hotline.services import Services

log = logging.getLogger(__name__)


_LANGUAGE = select(Reporter.language).where(Reporter.hash == bindparam("hash"))
_INSERT_INBOUND = insert(InboundMessage).returning(InboundMessage.id)
"""Statements of the hot path, built once (building one costs more than running it on SQLite)."""


class DbBackend:
    """The engine's Backend for one sender: one transaction, opened only when a step needs the database.

    A step that only moves through the menus never touches the database (its answer is kept in
    Redis for resends); a step that writes stores its answer in the same transaction."""

    def __init__(self, services: Services, inbound: Inbound, phone_hash: str, cached_language: str | None):
        self.s = services
        self.inbound = inbound
        self.phone_hash = phone_hash
        self.cached_language = cached_language
        self.learned_language: str | None = None
        self.wrote = False
        self.created: list[tuple[int, bool]] = []  # (report id, urgent) of the reports the step stored
        self.pending: list[tuple[str, dict]] = []
        self.work: list[tuple[outbox.Work, bool]] = []  # (job, urgent) to enqueue after commit
        self._conn: Connection | None = None
        self._session: Session | None = None

    @property
    def conn(self) -> Connection:
        """The step's connection, its transaction begun on first use (the common writes are Core)."""
        if self._conn is None:
            self._conn = self.s.db.connect()
            self._conn.begin()
        return self._conn

    @property
    def session(self) -> Session:
        """An ORM session in the same transaction, for the rarer steps that need one."""
        if self._session is None:
            self._session = self.s.Session(bind=self.conn)
        return self._session

    def commit(self) -> None:
        """Commit what the step wrote (if it opened the database at all)."""
        if self._session is not None:
            self._session.flush()
        if self._conn is not None:
            self._conn.commit()

    def close(self) -> None:
        """End the transaction (rolling back whatever was not committed) and give the connection back."""
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def language(self) -> str:
        """The sender's language: chosen before, else the contact's, else the line's first."""
        chosen = self.cached_language
        if chosen is None:  # not cached: ask the database, and cache the answer after the step
            if self._conn is not None:
                chosen = self._conn.execute(_LANGUAGE, {"hash": self.phone_hash}).scalar() or ""
            else:  # one statement outside any transaction: no BEGIN and COMMIT round trips
                with self.s.db_autocommit.connect() as conn:
                    chosen = conn.execute(_LANGUAGE, {"hash": self.phone_hash}).scalar() or ""
            self.learned_language = chosen
        if chosen and chosen != conversations.NO_LANGUAGE:
            return chosen
        contact = self.s.directory.contact_by_phone(self.inbound.sender)
        return contact.language if contact else self.s.directory.line.languages[0]

    def submit(self, draft: Draft) -> str:
        """A number for the report, stored with the step's other writes at its end (`store_reports`),
        before the reporter is told it: the write lock is held only for the inserts and the commit.
        A draft whose `ref` this phone stored before (a USSD session replayed after Redis lost its
        state) gets that report's number instead."""
        self.wrote = True
        ref = self.s.vault.lookup_hash(f"session:{self.phone_hash}:{draft.ref}") if draft.ref else None
        if ref is not None:
            known = next((n for n, v in self.pending if v["session_ref"] == ref), None) \
                or self.conn.execute(select(Report.number).where(Report.session_ref == ref)).scalar()
            if known is not None:
                return known
        number = reportnumber.generate()
        self.pending.append((number, reports.new_values(self.s.vault, draft, self.inbound.sender,
                                                        self.inbound.provider, self.country, ref, self.inbound.to)))
        return number

    def update(self, number: str, draft: Draft) -> bool:
        """New answers for the sender's own report stored earlier in this conversation (a type stored
        the moment it was chosen). A new place routes it again: contacts of the place are alerted,
        and those alerted before are told where."""
        values = reports.answer_values(draft, self.inbound.sender, self.country)
        for pending_number, pending in self.pending:
            if pending_number == number:
                pending.update(values)
                return True
        report = reports.by_number(self.session, number)
        if report is None or report.reporter_hash != self.phone_hash:
            return False
        self.wrote = True
        if reports.update_answers(self.session, report, values):
            self.work.append((outbox.routing_work(report.id, again=True), self.s.directory.types.is_urgent(report.type)))
        return True

    def reach(self, draft: Draft) -> str:
        """Who routing will tell (routing.plan is a pure function, so the step knows it): the reporter
        is promised that, and nothing more (docs/safety.md rule 5)."""
        values = reports.answer_values(draft, self.inbound.sender, self.country)
        plan = routing.plan(routing.RouteInput(draft.type, values["area_code"], values["answers"]), self.s.directory)
        return "leader" if plan.first_leaders else "agency" if plan.agencies else "staff"

    @property
    def country(self) -> str:
        """Where numbers written without a country code are read."""
        return self.s.directory.line.country

    def store_reports(self) -> None:
        """Insert the reports the step submitted; NumberTaken if a number went to another report."""
        for number, values in self.pending:
            report_id = reports.insert(self.conn, number, values)
            if report_id is None:
                raise NumberTaken(number)
            self.created.append((report_id, self.s.directory.types.is_urgent(values["type"])))
        self.pending.clear()

    def status(self, number: str) -> str | None:
        """A report's status by number."""
        report = reports.by_number(self.session, number)
        return report.status if report else None

    def add_detail(self, number: str, text: str) -> bool:
        """Add words to the sender's own report."""
        report = reports.by_number(self.session, number)
        if report is None or report.reporter_hash != self.phone_hash:
            return False
        self.wrote = True
        reports.add_detail(self.session, report, text, self.inbound.sender, self.country)
        if report.routing == "routed":  # else routing links it once routed
            linking.want_link(self.session, report)
            self.work.append((linking.link_job(report.id), False))
        return True

    def set_language(self, lang: str) -> None:
        """Remember the sender's language."""
        self.wrote = True
        reports.reporter(self.session, self.phone_hash).language = lang
        self.learned_language = lang

    def set_opt_out(self, opted_out: bool) -> None:
        """Remember STOP / START."""
        self.wrote = True
        reports.reporter(self.session, self.phone_hash).opted_out = opted_out

    def acknowledge(self, number: str) -> str:
        """An OK from a leader or agency of the directory."""
        contact = self.s.directory.contact_by_phone(self.inbound.sender)
        if contact is None:
            return "not_contact"
        report = reports.by_number(self.session, number)
        if report is None or not alerts.was_alerted(self.session, report, contact.id):
            return "unknown"
        self.wrote = True
        event = reports.acknowledge(self.session, report, contact.id)
        if event is None:
            return "already"
        self.work.append((queues.REPORT_UPDATED.work(event.id), False))
        message = alerts.tell_reporter_seen(self.session, self.s, report)
        if message is not None:
            self.work.append((queues.SEND_SMS.work(message.id), False))
        return "done"


SESSION_CHANNELS = ("ussd", "voice")
"""Channels whose steps make sessions (a USSD session, a call): the rate limit counts each session
once, at its first step, so it never cuts one in progress."""

STEP_ATTEMPTS = 3
"""A step whose commit hit a unique constraint (a concurrent first use of a phone's row) is run
again up to this many times in all; one whose report number was taken meanwhile, up to
reports.NUMBER_TRIES times."""


class NumberTaken(Exception):
    """The report number a step drew went to another report before the step stored its own."""


def step_key(external_id: str, phone_hash: str) -> str:
    """What makes an inbound message one message: the provider's id (for USSD, the session and its
    input) *and the phone it came from*. A provider id reused by another phone is another message,
    so no phone is ever given another's answer, screen or report number (docs/safety.md rule 7). A
    fixed-length digest: provider ids can be long, and this is all that is stored of them."""
    return hashlib.sha256(f"{phone_hash}\n{external_id}".encode("utf-8", "surrogatepass")).hexdigest()[:48]


def handle_message(s: Services, inbound: Inbound, now: float | None = None) -> Answer:
    """Answer one inbound SMS or USSD step exactly once; a resend gets the stored answer.

    One Redis round trip before the engine, at most one database transaction (only for a step
    that reads or writes stored data), and one Redis round trip after the commit that saves the
    conversation and the answer and enqueues the step's jobs."""
    now = now or time.time()
    phone_hash = s.vault.lookup_hash(inbound.sender)
    key = step_key(inbound.external_id, phone_hash)
    opening = conversations.open_step(s.redis, inbound.provider, key, inbound.channel, phone_hash,
                                      s.settings.rate_limit_per_minute, now,
                                      inbound.session_id if inbound.channel in SESSION_CHANNELS else None)
    if opening.seen is not None:
        return Answer(*opening.seen)
    if opening.over_rate:
        return Answer(_rate_limited(s, inbound, phone_hash, opening), True)

    def run_once() -> tuple[DbBackend, Reply, list[tuple[outbox.Work, bool]]]:
        backend = DbBackend(s, inbound, phone_hash, opening.language)
        try:
            return backend, *_run_step(s, inbound, key, backend, opening.state, now)
        finally:
            backend.close()

    conflicts = taken = 0
    while True:
        try:
            backend, reply, jobs = db.retry_on_disconnect(run_once)
            break
        except IntegrityError:
            seen = _seen(s, inbound, key)
            if seen:  # a resend of this message was handled first (or Redis forgot the answer)
                return seen
            conflicts += 1
            if conflicts == STEP_ATTEMPTS:
                raise
        except NumberTaken:  # nothing was kept: run the step again, with another number, as
            taken += 1       # often as reports.create would try one (numbers fill up over the years)
            if taken == reports.NUMBER_TRIES:
                raise

    conversations.finish_step(s.redis, inbound.provider, key, inbound.channel, phone_hash,
                              reply.state, (reply.text, reply.end), backend.learned_language,
                              (lambda pipe: outbox.add_new_jobs(s, pipe, jobs)) if jobs else None)
    return Answer(reply.text, reply.end)


def _rate_limited(s: Services, inbound: Inbound, phone_hash: str, opening: conversations.Opening) -> str:
    """The polite "wait a minute", in the phone's own language (chosen, else a contact's, else the line's)."""
    backend = DbBackend(s, inbound, phone_hash, opening.language)
    try:
        lang = db.retry_on_disconnect(backend.language)
    except SQLAlchemyError:  # the database is down: the line's first language still says it
        lang = s.directory.line.languages[0]
    finally:
        backend.close()
    if inbound.channel == "voice":
        return voice_screens.rate_limited(s.engine.channel_language("voice", lang))
    return s.engine.config.text(s.engine.channel_language(inbound.channel, lang), "rate_limited")


def _run_step(s: Services, inbound: Inbound, key: str, backend: DbBackend, state: dict | None,
              now: float) -> tuple[Reply, list[tuple[outbox.Work, bool]]]:
    """Run the engine for one step and commit what it stored; the reply and the jobs to enqueue."""
    lang = backend.language()
    message = None
    if inbound.channel == "ussd":
        reply = s.engine.ussd(state, inbound.text, inbound.session_id or "", now, backend, lang, inbound.separator)
    elif inbound.channel == "voice":
        reply = s.engine.voice(state, inbound.text or None, inbound.session_id or "", inbound.step, now, backend, lang)
    else:
        reply = s.engine.sms(state, inbound.text, now, backend, lang)
    if backend.wrote or not inbound.inline_reply:
        backend.store_reports()
        # The answer is stored with what the step wrote: a resend never writes twice.
        report_id = backend.created[-1][0] if backend.created else None
        record_id = backend.conn.execute(_INSERT_INBOUND, {
            "provider": inbound.provider, "external_id": key, "channel": inbound.channel,
            "reply": reply.text, "reply_end": reply.end, "report_id": report_id}).scalar()
        if not inbound.inline_reply and reply.text:
            message = outbox.new_sms(backend.session, s, f"reply:{record_id}", inbound.sender, reply.text,
                                     purpose="reply", urgent=True, report_id=report_id, via=inbound.provider,
                                     sender=inbound.to)
    backend.commit()
    jobs = [(outbox.routing_work(report_id), urgent) for report_id, urgent in backend.created]
    jobs += backend.work
    if message is not None:
        jobs.append((queues.SEND_SMS.work(message.id), True))
    return reply, jobs


def _seen(s: Services, inbound: Inbound, key: str) -> Answer | None:
    """The answer stored with this message (`step_key`), if a step that wrote handled it before."""
    with s.Session() as session:
        row = session.scalar(select(InboundMessage).where(InboundMessage.provider == inbound.provider,
                                                          InboundMessage.external_id == key))
    return Answer(row.reply, row.reply_end) if row else None


def handle_status(s: Services, update: StatusUpdate) -> None:
    """A provider's delivery news for a message we sent (unknown ids are ignored)."""
    if update.status is None:
        return
    db.retry_on_disconnect(lambda: _apply_status(s, update))


def _apply_status(s: Services, update: StatusUpdate) -> None:
    """handle_status's transaction."""
    with s.Session.begin() as session:
        message = session.scalar(select(OutboundMessage).where(OutboundMessage.provider == update.provider,
                                                               OutboundMessage.provider_message_id == update.provider_message_id))
        if message is None:
            return
        outbox.apply_status(session, s, message, update)


def handle_session_end(s: Services, end: SessionEnd) -> None:
    """A USSD session ended; a dropped one is kept so the reporter may continue."""
    if end.dropped:
        conversations.mark_dropped(s.redis, s.vault.lookup_hash(end.sender), end.session_id)
