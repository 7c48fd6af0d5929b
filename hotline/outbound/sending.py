"""Sending one stored SMS: which provider carries it, and what a failure means.

- An alert to a leader or agency goes through the first provider of SMS_PROVIDERS that is up; when
  that one fails without having taken it (refused, unreachable, 5xx) or is down, the next one is
  tried at once, so an alert moves on within seconds, never waiting out a dead provider.
- A message to a reporter leaves only through the provider (and from the number) the reporter used,
  and waits for it: it is "pinned" from the start.
- A message every provider refused for good (a 4xx, missing credentials) fails at once: retrying
  cannot mend it (the console can send it again once the cause is mended).
- A provider that took a message (2xx) is the only one that ever carries it; one that never answered
  may have taken it, so the message is pinned to it too and only ever tried there again.
- Every send waits for a place in its provider's rate (throttle) and tells the provider's health
  (circuit) how it went. The provider that carried a message is recorded on it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from hotline import channels
from hotline.channels.base import RECIPIENT, REFUSED, UNKNOWN, Outgoing, SendError
from hotline.models import OutboundMessage, Reporter
from hotline.outbound import circuit, claims, throttle

log = logging.getLogger(__name__)

RATE_WAIT_SECONDS = 30
"""The longest one send waits for a place in its provider's rate before the job tries again later."""

REPORTER_PURPOSES = ("reply", "follow_up", "relay")
"""Messages to a reporter: they leave through the reporter's own provider, or not at all."""


@dataclass(frozen=True)
class Outcome:
    """How one delivery attempt ended: the status to record, the provider that carried (or last
    tried) it, its id at that provider, an error in words, and whether to try again later."""

    status: str | None
    provider: str
    provider_message_id: str | None = None
    error: str | None = None
    retry: bool = False
    pinned: bool = False


def reporter_provider(s, used: str | None) -> str:
    """The provider a message to a reporter leaves through: the one they used, when it can send SMS
    with this deployment's settings, else the first of SMS_PROVIDERS."""
    provider = channels.PROVIDERS.get(used or "")
    if provider is not None and provider.can_send and not s.settings.provider(provider.slug).missing():
        return provider.slug
    return s.settings.sms_providers[0]


def candidates(s, message: OutboundMessage) -> list[str]:
    """The providers to try, in order: the pinned one alone, else SMS_PROVIDERS from the message's
    current one (a retry starts where the last attempt left off), those up before those down."""
    if message.pinned:
        return [message.provider]
    order = list(s.settings.sms_providers)
    if message.provider in order:
        start = order.index(message.provider)
        order = order[start:] + order[:start]
    up = [slug for slug in order if circuit.available(s.redis, slug)]
    return up + [slug for slug in order if slug not in up]


def deliver(s, message_id: int) -> Outcome | None:
    """Send one claimed SMS row; the outcome to record (None: the recipient said STOP, recorded)."""
    with s.Session() as session:
        message = session.get(OutboundMessage, message_id)
        opted_out = session.scalar(select(Reporter.opted_out).where(Reporter.hash == message.recipient_hash))
        if opted_out and message.contact_id is None and message.purpose != "reply":
            claims.finish(s, OutboundMessage, message_id, "failed", "recipient said STOP")
            return None
        outgoing = Outgoing(s.vault.decrypt(message.recipient), message.body, str(message.id), message.sender)
        order, urgent, pinned = candidates(s, message), message.urgent, message.pinned
    if pinned and not circuit.available(s.redis, order[0]):
        # Its only provider is taken to be down: wait for it without tying up a worker on it.
        return Outcome(None, order[0], error=f"{order[0]} is taken to be down: the message waits for it", retry=True)
    errors: list[str] = []
    refused_by_all = True  # every provider refused it for good (a 4xx, no credentials): not retried
    for slug in order:
        if not throttle.take(s.redis, slug, s.settings.provider(slug).tps, urgent, RATE_WAIT_SECONDS):
            errors.append(f"{slug}: its send rate is full")
            refused_by_all = False
            continue
        try:
            result = channels.get(slug).send(s.settings.provider(slug), outgoing, s.settings)
        except SendError as exc:
            errors.append(str(exc))
            if exc.outcome == RECIPIENT:  # the number itself: no provider will take it
                return Outcome("failed", slug, error=str(exc))
            circuit.failed(s.redis, slug, str(exc)[:60], weight=circuit.SILENCE_WEIGHT if exc.outcome == UNKNOWN else 1)
            if exc.outcome == UNKNOWN:  # it may have been taken: only ever this provider again
                return Outcome(None, slug, error=str(exc), retry=True, pinned=True)
            refused_by_all = refused_by_all and exc.outcome == REFUSED
            continue  # not taken (refused, unreachable, 5xx): the next provider, at once
        circuit.succeeded(s.redis, slug)
        if errors:
            log.info("SMS %s went out through %s after %d failed attempt(s)", message_id, slug, len(errors))
        return Outcome(result.status, slug, result.provider_message_id)
    if refused_by_all:
        return Outcome("failed", order[-1], error="; ".join(errors)[:255])
    return Outcome(None, order[0], error="; ".join(errors)[:255], retry=True)
