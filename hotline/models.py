"""The database tables. Reporter numbers are only ever stored encrypted (and hashed for lookup)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, false,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

STATUSES = ("new", "acknowledged", "in_progress", "referred", "closed")
"""Report statuses (docs/contract.md section 4)."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Base of every table."""


class Report(Base):
    """One report from a phone, stored before the reporter is told anything."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(8), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="new")
    area_code: Mapped[str | None] = mapped_column(String(16))
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    provider: Mapped[str] = mapped_column(String(20))
    reporter_phone: Mapped[bytes | None] = mapped_column(LargeBinary)
    reporter_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    consent: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # The outbox mark: 'pending' until routing has completed, then 'routed'.
    routing: Mapped[str] = mapped_column(String(12), default="pending")
    routing_enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    routed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_reports_assigned_to_users"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    phone_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # For a report stored the moment its type was chosen: a keyed hash of (phone, session, type),
    # so a session replayed after Redis lost its state finds the report instead of storing another.
    session_ref: Mapped[str | None] = mapped_column(String(64))
    # The line's number or short code the reporter wrote to (when the provider says): replies leave from it.
    line_number: Mapped[str | None] = mapped_column(String(40))
    # Set when the report must be linked (again): routed, or words added. The link job clears it only if it
    # is still the value it read, so a change made while it ran is linked by the next run (hotline.linking).
    link_wanted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # A caseworker found this report to be the same event as another: that one (never itself a duplicate).
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("reports.id", name="fk_reports_duplicate_of_reports"),
                                                     index=True)

    events: Mapped[list["ReportEvent"]] = relationship(back_populates="report", order_by="ReportEvent.id")

    __table_args__ = (Index("ix_reports_routing", "routing", "created_at"),
                      UniqueConstraint("session_ref", name="uq_reports_session_ref"))


class ReportEvent(Base):
    """One entry of a report's timeline."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64), default="line")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    report: Mapped[Report] = relationship(back_populates="events")


class InboundMessage(Base):
    """Every provider request that stored something, by its step key (intake.step_key: the provider's
    id and the sender's phone, digested): resends get the same answer."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(8))
    reply: Mapped[str] = mapped_column(Text, default="")
    reply_end: Mapped[bool] = mapped_column(Boolean, default=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("provider", "external_id", name="uq_inbound_provider_id"),)


class OutboundMessage(Base):
    """One SMS the line sends (a reply, an alert, a relayed message), created once."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What makes this message unique (e.g. 'reply:<inbound id>'): a retried job never sends twice.
    key: Mapped[str] = mapped_column(String(128), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    # The provider that carried it (or will): for an alert, the first available of SMS_PROVIDERS, moved
    # along the list on failure until one takes it; for a reporter, the one they used, never moved.
    provider: Mapped[str] = mapped_column(String(20))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sender: Mapped[str | None] = mapped_column(String(40))  # the sender id to use, when not the provider's default
    recipient: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_hash: Mapped[str] = mapped_column(String(64), index=True)
    contact_id: Mapped[str | None] = mapped_column(String(64))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    error: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set while a worker sends it: a second job for the same row waits instead of sending again.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Reporter(Base):
    """What the line remembers of a phone, by keyed hash only: language and STOP."""

    __tablename__ = "reporters"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Alert(Base):
    """One alert of one report to one contact by one means, created once."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    contact_id: Mapped[str] = mapped_column(String(64), index=True)
    means: Mapped[str] = mapped_column(String(12))  # sms | webhook | email
    level: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="new")  # new | escalated | updated
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id"))
    # Webhook and email deliveries keep their own state (SMS keep it on the outbound message).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    delivery_id: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A cluster alert's cluster (its id as the agency reads it), with `report_id` its newest report and `level` its
    # size; empty for a report's own alerts. Part of what makes an alert once (never NULL, so that holds).
    cluster: Mapped[str] = mapped_column(String(40), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("report_id", "contact_id", "means", "kind", "level", "cluster",
                                       name="uq_alert_once"),
                      UniqueConstraint("delivery_id", name="uq_alerts_delivery_id"))


class ReportContact(Base):
    """A leader or agency a report was routed to (partner scoping reads this, not the means used)."""

    __tablename__ = "report_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    contact_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # leader | agency
    level: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("report_id", "contact_id", name="uq_report_contact"),)


class Identifier(Base):
    """Something reports name that links them (hotline.linking.identifiers): a recruiter's phone number, an
    agency's name, or a description's words. Found by a keyed hash of its value (`Vault.identifier_hash`); a
    number is kept only encrypted (`value`), a name or description in key form (`text`: reporters' own words,
    as the answers keep them) with the name as first written tidied (`label`)."""

    __tablename__ = "identifiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # phone | name | description
    hash: Mapped[str] = mapped_column(String(64))
    value: Mapped[bytes | None] = mapped_column(LargeBinary)
    text: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "hash", name="uq_identifier"),)


class ReportIdentifier(Base):
    """A report names an identifier. Indexed by identifier: the reports naming one are found without
    reading the others (linking costs the same with 1,000 reports stored or 100,000)."""

    __tablename__ = "report_identifiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", name="fk_report_identifiers_report_id_reports"))
    identifier_id: Mapped[int] = mapped_column(
        ForeignKey("identifiers.id", name="fk_report_identifiers_identifier_id_identifiers"), index=True)

    __table_args__ = (UniqueConstraint("report_id", "identifier_id", name="uq_report_identifier"),)


class ReportLink(Base):
    """A suggested link between two reports (similar agency names or descriptions, hotline.linking.suggest)
    and a caseworker's decision on it. `report_id` is the lower id of the two. Links by the same phone number
    are not rows: reports naming one number are linked by that, confirmed at once."""

    __tablename__ = "report_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", name="fk_report_links_report_id_reports"))
    other_id: Mapped[int] = mapped_column(ForeignKey("reports.id", name="fk_report_links_other_id_reports"), index=True)
    by: Mapped[str] = mapped_column(String(12))  # name | description
    score: Mapped[int] = mapped_column(Integer)  # 0-100
    state: Mapped[str] = mapped_column(String(12), default="suggested")  # suggested | confirmed | rejected
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("report_id", "other_id", "by", name="uq_report_link"),)


class User(Base):
    """A console user: line staff (no agency: sees every report) or a partner agency's caseworker."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin | caseworker | viewer
    agency_id: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The user's own phone, for masked call-backs (the line calls it, then bridges): encrypted like
    # reporters' numbers, never shown in full.
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)


class Call(Base):
    """A caseworker's masked call to a reporter: the line calls the caseworker's phone, then bridges
    to the reporter's; each sees only the line's number (hotline.voice.callback)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", name="fk_calls_report_id_reports"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", name="fk_calls_user_id_users"))
    # requested -> calling (the caseworker's phone rings) -> bridging (to the reporter) -> ended
    status: Mapped[str] = mapped_column(String(16), default="requested")
    outcome: Mapped[str | None] = mapped_column(String(32))  # how it ended: completed, no-answer, busy, ...
    caseworker_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    seconds: Mapped[int | None] = mapped_column(Integer)  # how long caseworker and reporter spoke
    error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ConsoleSession(Base):
    """One sign-in to the console. The cookie only names it: a session the server ended (signed out,
    signed out everywhere, password changed, account disabled, idle or too old) is over, whoever
    still holds a copy of the cookie."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # a random token, kept in the signed cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", name="fk_console_sessions_user_id_users"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReportTag(Base):
    """A short label a team puts on a report ("broker-x", "follow-up-friday"). Like a note, it is read by
    the writer's agency and by line staff (`scoping.visible_tags`); line staff's by line staff only."""

    __tablename__ = "report_tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", name="fk_report_tags_report_id_reports"), index=True)
    tag: Mapped[str] = mapped_column(String(32), index=True)
    agency_id: Mapped[str | None] = mapped_column(String(64))  # the writer's agency (None: line staff)
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("report_id", "tag", "agency_id", name="uq_report_tag"),)


class AuditEntry(Base):
    """One append-only audit record; each is chained to the one before by hash."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    # Indexed: a report's page reads who viewed it (action report.view, target its number).
    target: Mapped[str | None] = mapped_column(String(80), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # The actor's agency when the entry was written (None: line staff, the line, or written before 0005).
    agency_id: Mapped[str | None] = mapped_column(String(64), index=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # unique: the chain can never fork
    hash: Mapped[str] = mapped_column(String(64), unique=True)
