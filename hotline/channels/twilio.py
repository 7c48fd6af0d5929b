"""Twilio SMS: signed webhooks, inline TwiML replies, status callbacks, and sending.

Wire facts: docs/channels.md ("Twilio SMS");
https://www.twilio.com/docs/usage/webhooks/webhooks-security
"""
from __future__ import annotations

import logging

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from hotline.channels.base import (Answer, Endpoint, Inbound, Provider, Rejected, SendError, SendResult,
                                   StatusUpdate, WebRequest, mapped_status, required, sender)

STATUS = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
    "sent": "sent", "partially_delivered": "sent",
    "delivered": "delivered", "read": "delivered",
    "undelivered": "failed", "failed": "failed", "canceled": "failed",
    "receiving": None, "received": None,
}
"""Twilio's message statuses to ours (None: says nothing about a message we sent)."""

# The SDK logs every request's URL and headers at INFO; the line's logs carry no such detail.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

PERMANENT_ERRORS = {"21211", "21212", "21214", "21217", "21408", "21610", "21612", "21614", "30003", "30004", "30005", "30006"}
"""Error codes after which sending again cannot help (invalid, unreachable or unsubscribed numbers)."""

UNSUBSCRIBED = "21610"


"""The recipient sent STOP to our number."""


def parse_sms(req: WebRequest) -> Inbound:
    """An inbound Twilio SMS. FromCity/FromState/FromZip locate the reporter: they are dropped here."""
    sid = required(req.form, "MessageSid", 64)
    return Inbound("twilio", "sms", sid, sender(req.form, "From"),
                   required(req.form, "Body", 1600, allow_empty=True) if "Body" in req.form else "")


def parse_status(req: WebRequest) -> StatusUpdate:
    """A Twilio status callback."""
    sid = required(req.form, "MessageSid", 64)
    field = "MessageStatus" if "MessageStatus" in req.form else "SmsStatus"
    status = mapped_status(STATUS, required(req.form, field, 32), field)
    code = (req.form.get("ErrorCode") or "").strip() or None
    return StatusUpdate("twilio", sid, status, f"twilio {code}" if code else None,
                        permanent=code in PERMANENT_ERRORS, opted_out=code == UNSUBSCRIBED)


def render_twiml(answer: Answer) -> tuple[str, str]:
    """The reply inline as TwiML (an empty <Response/> when there is nothing to say)."""
    response = MessagingResponse()
    if answer.text:
        response.message(answer.text)
    return str(response), "text/xml"


class Twilio(Provider):
    """Twilio SMS in and out."""

    slug = "twilio"
    endpoints = (
        Endpoint("sms", "message", parse_sms, render_twiml),
        Endpoint("status", "status", parse_status),
    )

    def authenticate(self, req: WebRequest, settings) -> None:
        """Check X-Twilio-Signature over PUBLIC_BASE_URL + path + query (or the request's URL)."""
        signature = req.headers.get("X-Twilio-Signature")
        token = settings.twilio_auth_token
        if not signature or not token:
            raise Rejected(403, "missing X-Twilio-Signature" if token else "Twilio is not configured")
        if settings.public_base_url:
            url = settings.public_base_url + req.path + (f"?{req.query_string}" if req.query_string else "")
        else:
            url = req.url
        # RequestValidator compares in constant time and tries the URL with and without the port.
        if not RequestValidator(token).validate(url, req.form, signature):
            raise Rejected(403, "X-Twilio-Signature does not match")

    def send(self, settings, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Send through Twilio's REST API (or TWILIO_API_URL) with the official SDK."""
        if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from):
            raise SendError("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM are needed", permanent=True)
        client = Client(settings.twilio_account_sid, settings.twilio_auth_token,
                        http_client=TwilioHttpClient(timeout=float(settings.provider_timeout)))  # the SDK waits for ever by default
        if settings.twilio_api_url:
            client.api.base_url = settings.twilio_api_url.rstrip("/")
        kwargs = {"status_callback": status_callback} if status_callback else {}
        try:
            message = client.messages.create(to=to, from_=settings.twilio_from, body=body, **kwargs)
        except (TwilioRestException, TwilioServiceException) as exc:
            # Only the recipient's own problems are permanent; a bad token or account is the
            # operator's to fix, so those messages wait (retries, then dead letters) instead.
            code = getattr(exc, "code", None)
            raise SendError(f"twilio {getattr(exc, 'status', '')} {code}", permanent=str(code) in PERMANENT_ERRORS) from None
        except (TwilioException, requests.RequestException, OSError, ValueError) as exc:
            raise SendError(f"twilio unreachable or unreadable: {type(exc).__name__}") from None
        if not message.sid:
            raise SendError("twilio answered without a message id")
        return SendResult(message.sid, STATUS.get(message.status or "queued") or "queued")


PROVIDER = Twilio()
