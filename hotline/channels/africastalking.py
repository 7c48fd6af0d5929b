"""Africa's Talking: SMS in and out, delivery reports, USSD and its end-of-session events.

Africa's Talking does not sign callbacks; they must carry ?token=AT_WEBHOOK_TOKEN.
Settings (prefix `AT_`): USERNAME, API_KEY, FROM, API_URL, WEBHOOK_TOKEN, TPS.
Wire facts: docs/channels.md; https://developers.africastalking.com/docs/ussd/overview
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Mapping

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from hotline.channels.base import (RECIPIENT, REFUSED, UNKNOWN, Answer, Endpoint, Inbound, Mode, Outgoing,
                                   Provider, ProviderConfig, Rejected, SendError, SendResult, SessionEnd, Simulated,
                                   StatusUpdate,
                                   WebRequest, env, mapped_status, optional, parse_date, read_tps, read_url,
                                   required, sender)

DELIVERY_STATUS = {
    "Sent": "sent", "Submitted": "sent", "Buffered": "sent",
    "Success": "delivered",
    "Rejected": "failed", "Failed": "failed", "Expired": "failed",
}
"""Delivery report statuses to ours."""

PERMANENT_REASONS = {"UserInBlackList", "UserAccountSuspended", "NotNetworkSubscriber",
                     "UserNotSubscribedToProduct", "UserDoesNotExist", "InvalidLinkId"}
"""failureReason values after which sending again cannot help."""

SEND_STATUS = {100: "queued", 101: "sent", 102: "queued"}
"""Per-recipient statusCode of a send that was accepted."""

PERMANENT_SEND_CODES = {403, 404, 406}
"""InvalidPhoneNumber, UnsupportedNumberType, UserInBlacklist: the number itself."""

REFUSED_SEND_CODES = {401, 402, 405}
"""RiskHold, InvalidSenderId, InsufficientBalance: this account will not send it; another provider may."""

SESSION_STATUSES = ("Success", "Incomplete", "Failed")
DROPPED = "Incomplete"
"""The end-of-session status of a session the network lost while waiting for the reporter."""

SIMULATED_SERVICE_CODE = "*384*123#"
"""The USSD code the phone simulator dials."""

USSD_SEPARATOR = "*"
"""`text` of a USSD step is every input of the session so far, joined by this."""
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ")
USSD_MAX_INPUT = 2000


def parse_sms(req: WebRequest) -> Inbound:
    """An inbound SMS; the answer goes out later through the SMS API, from a worker."""
    message_id = required(req.form, "id", 128)
    number = sender(req.form, "from")
    text = required(req.form, "text", 1600, allow_empty=True)
    parse_date(req.form.get("date"), "date", DATE_FORMATS)
    return Inbound("africastalking", "sms", message_id, number, text, inline_reply=False, to=optional(req.form, "to", 40))


def parse_delivery(req: WebRequest) -> StatusUpdate:
    """A delivery report for a message we sent."""
    message_id = required(req.form, "id", 128)
    status = mapped_status(DELIVERY_STATUS, required(req.form, "status", 32), "status")
    reason = (req.form.get("failureReason") or "").strip() or None
    return StatusUpdate("africastalking", message_id, status, reason and f"africastalking {reason[:64]}",
                        permanent=reason in PERMANENT_REASONS, opted_out=reason == "UserInBlackList")


def parse_ussd(req: WebRequest) -> Inbound:
    """One USSD step. `text` is every input of the session so far joined by '*'."""
    session = required(req.form, "sessionId", 128)
    number = sender(req.form, "phoneNumber")
    text = required(req.form, "text", USSD_MAX_INPUT, allow_empty=True)
    # The same session and input is the same step: a resend gets the same answer.
    step = hashlib.sha256(text.encode()).hexdigest()[:32]
    return Inbound("africastalking", "ussd", f"ussd:{session}:{step}", number, text, session_id=session,
                   separator=USSD_SEPARATOR)


def parse_session_end(req: WebRequest) -> SessionEnd:
    """The end-of-session notification."""
    session = required(req.form, "sessionId", 128)
    status = required(req.form, "status", 32)
    if status not in SESSION_STATUSES:
        raise Rejected(400, f"field status has unknown value {status[:40]!r}")
    return SessionEnd("africastalking", session, sender(req.form, "phoneNumber"), status == DROPPED)


def render_ussd(answer: Answer) -> tuple[str, str]:
    """CON (wait for input) or END (close the session), as plain text."""
    return ("END " if answer.end else "CON ") + answer.text, "text/plain; charset=utf-8"


@dataclass(frozen=True)
class ATConfig(ProviderConfig):
    """Africa's Talking's credentials, sender id, API base and webhook token."""

    username: str | None = None
    api_key: str | None = None
    from_: str | None = None
    api_url: str | None = None
    webhook_token: str | None = None

    def missing(self) -> list[str]:
        """Settings still needed to send."""
        return [name for name, value in (("AT_USERNAME", self.username), ("AT_API_KEY", self.api_key)) if not value]


class AfricasTalking(Provider):
    """Africa's Talking SMS and USSD."""

    slug = "africastalking"
    title = "Africa's Talking"
    prefix = "AT_"
    modes = {"ussd": Mode(f"USSD dial ({SIMULATED_SERVICE_CODE})", "ussd", dial=SIMULATED_SERVICE_CODE),
             "at-sms": Mode("SMS via Africa's Talking", "sms")}
    endpoints = (
        Endpoint("sms", "message", parse_sms),
        Endpoint("delivery", "status", parse_delivery),
        Endpoint("ussd", "message", parse_ussd, render_ussd),
        Endpoint("ussd/events", "session_end", parse_session_end),
    )

    def read_config(self, environ: Mapping[str, str], production: bool) -> ATConfig:
        """AT_* settings."""
        return ATConfig(tps=read_tps(environ, self.prefix, self.default_tps), username=env(environ, "AT_USERNAME"),
                        api_key=env(environ, "AT_API_KEY"), from_=env(environ, "AT_FROM"),
                        api_url=read_url(environ, "AT_API_URL"), webhook_token=env(environ, "AT_WEBHOOK_TOKEN"))

    def authenticate(self, req: WebRequest, config: ATConfig, settings) -> None:
        """Require ?token=AT_WEBHOOK_TOKEN (compared in constant time); open only in development."""
        expected = config.webhook_token
        if not expected:
            if settings.production:
                raise Rejected(403, "AT_WEBHOOK_TOKEN is not set: Africa's Talking callbacks are closed")
            return
        given = req.args.get("token") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Rejected(403, "missing or wrong token")

    def simulate(self, mode: str, phone: str, text: str, session_id: str | None, config: ATConfig,
                 settings) -> Simulated:
        """A USSD step (`text`: the session's inputs joined by '*') or an inbound SMS, as AT posts them,
        with the webhook token."""
        query = f"token={urllib.parse.quote(config.webhook_token)}" if config.webhook_token else ""
        if mode == "ussd":
            session_id = session_id or f"ATUid_{secrets.token_hex(16)}"
            form = {"sessionId": session_id, "serviceCode": SIMULATED_SERVICE_CODE, "phoneNumber": phone,
                    "networkCode": "99999", "text": text}
            return Simulated("POST", "/webhooks/africastalking/ussd", query, form, session_id=session_id)
        form = {"from": phone, "to": "21512", "text": text, "id": secrets.token_hex(16),
                "date": "2026-01-01 00:00:00", "networkCode": "99999"}
        return Simulated("POST", "/webhooks/africastalking/sms", query, form)

    def send(self, config: ATConfig, message: Outgoing, settings) -> SendResult:
        """Send through the AT SMS API (or AT_API_URL) with the official SDK."""
        if config.missing():
            raise SendError(f"{' and '.join(config.missing())} not set", outcome=REFUSED)
        service = SMSService(config.username, config.api_key)
        if config.api_url:
            service._baseUrl = config.api_url + "/version1"  # pinned SDK 2.0.3
        try:
            answer = service.send(message.body, [message.to], sender_id=message.sender or config.from_,
                                  timeout=(3.05, float(settings.provider_timeout)))
        except (ValueError, TypeError):
            raise SendError("africastalking: invalid phone number", outcome=RECIPIENT) from None
        except requests.ReadTimeout:
            raise SendError("africastalking did not answer in time (it may have taken the message)",
                            outcome=UNKNOWN) from None
        except (AfricasTalkingException, requests.RequestException, OSError) as exc:
            raise SendError(f"africastalking unreachable or refused: {type(exc).__name__}") from None
        return _send_result(answer)


def _send_result(answer) -> SendResult:
    """Read the SDK's answer (parsed JSON or raw text) for our one recipient."""
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except ValueError:
            raise SendError("africastalking: answer is not JSON") from None
    try:
        recipient = answer["SMSMessageData"]["Recipients"][0]
        code = int(recipient["statusCode"])
    except (KeyError, IndexError, TypeError, ValueError):
        # e.g. {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}: the operator's to fix.
        reason = answer.get("SMSMessageData", {}).get("Message") if isinstance(answer, dict) else None
        raise SendError(f"africastalking: no recipient in the answer ({str(reason)[:60]})", outcome=REFUSED) from None
    if code in SEND_STATUS:
        return SendResult(recipient.get("messageId"), SEND_STATUS[code])
    outcome = RECIPIENT if code in PERMANENT_SEND_CODES else REFUSED if code in REFUSED_SEND_CODES else None
    raise SendError(f"africastalking status {code} {recipient.get('status', '')}"[:120], outcome=outcome)


PROVIDER = AfricasTalking()
