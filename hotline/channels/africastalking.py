"""Africa's Talking: SMS in and out, delivery reports, USSD and its end-of-session events.

Africa's Talking does not sign callbacks; they must carry ?token=AT_WEBHOOK_TOKEN.
Wire facts: docs/channels.md; https://developers.africastalking.com/docs/ussd/overview
"""
from __future__ import annotations

import hashlib
import hmac
import json

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from hotline.channels.base import (Answer, Endpoint, Inbound, Provider, Rejected, SendError, SendResult,
                                   SessionEnd, StatusUpdate, WebRequest, mapped_status, parse_date, required,
                                   sender)

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

PERMANENT_SEND_CODES = {402, 403, 404, 406}
"""InvalidSenderId, InvalidPhoneNumber, UnsupportedNumberType, UserInBlacklist."""

SESSION_STATUSES = ("Success", "Incomplete", "Failed")
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ")
USSD_MAX_INPUT = 2000


def parse_sms(req: WebRequest) -> Inbound:
    """An inbound SMS; the answer goes out later through the SMS API, from a worker."""
    message_id = required(req.form, "id", 128)
    number = sender(req.form, "from")
    text = required(req.form, "text", 1600, allow_empty=True)
    parse_date(req.form.get("date"), "date", DATE_FORMATS)
    return Inbound("africastalking", "sms", message_id, number, text, inline_reply=False)


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
    return Inbound("africastalking", "ussd", f"ussd:{session}:{step}", number, text, session_id=session)


def parse_session_end(req: WebRequest) -> SessionEnd:
    """The end-of-session notification."""
    session = required(req.form, "sessionId", 128)
    status = required(req.form, "status", 32)
    if status not in SESSION_STATUSES:
        raise Rejected(400, f"field status has unknown value {status[:40]!r}")
    return SessionEnd("africastalking", session, sender(req.form, "phoneNumber"), status)


def render_ussd(answer: Answer) -> tuple[str, str]:
    """CON (wait for input) or END (close the session), as plain text."""
    return ("END " if answer.end else "CON ") + answer.text, "text/plain; charset=utf-8"


class AfricasTalking(Provider):
    """Africa's Talking SMS and USSD."""

    slug = "africastalking"
    endpoints = (
        Endpoint("sms", "message", parse_sms),
        Endpoint("delivery", "status", parse_delivery),
        Endpoint("ussd", "message", parse_ussd, render_ussd),
        Endpoint("ussd/events", "session_end", parse_session_end),
    )

    def authenticate(self, req: WebRequest, settings) -> None:
        """Require ?token=AT_WEBHOOK_TOKEN (compared in constant time); open only in development."""
        expected = settings.at_webhook_token
        if not expected:
            if settings.production:
                raise Rejected(403, "AT_WEBHOOK_TOKEN is not set: Africa's Talking callbacks are closed")
            return
        given = req.args.get("token") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Rejected(403, "missing or wrong token")

    def send(self, settings, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Send through the AT SMS API (or AT_API_URL) with the official SDK."""
        if not (settings.at_username and settings.at_api_key):
            raise SendError("AT_USERNAME and AT_API_KEY are needed", permanent=True)
        service = SMSService(settings.at_username, settings.at_api_key)
        if settings.at_api_url:
            service._baseUrl = settings.at_api_url.rstrip("/") + "/version1"  # pinned SDK 2.0.3
        try:
            answer = service.send(body, [to], sender_id=settings.at_from, timeout=(3.05, float(settings.provider_timeout)))
        except (ValueError, TypeError):
            raise SendError("africastalking: invalid phone number", permanent=True) from None
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
        raise SendError(f"africastalking: no recipient in the answer ({str(reason)[:60]})") from None
    if code in SEND_STATUS:
        return SendResult(recipient.get("messageId"), SEND_STATUS[code])
    raise SendError(f"africastalking status {code} {recipient.get('status', '')}"[:120],
                    permanent=code in PERMANENT_SEND_CODES)


PROVIDER = AfricasTalking()
