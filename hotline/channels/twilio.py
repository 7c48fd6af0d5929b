"""Twilio SMS, and any platform that speaks Twilio's API and signs its webhooks the same way
(Somleng, which runs Cambodia's early-warning line 1294): signed webhooks, inline TwiML replies,
status callbacks, and sending with the official SDK.

Settings (prefix `TWILIO_`): ACCOUNT_SID, AUTH_TOKEN, FROM, API_URL (Somleng: its API's base,
e.g. https://api.somleng.org), TPS. Wire facts: docs/channels.md ("Twilio SMS", "Somleng");
https://www.twilio.com/docs/usage/webhooks/webhooks-security
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Mapping

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from hotline.channels.base import (RECIPIENT, REFUSED, TRANSIENT, UNKNOWN, Answer, Endpoint, Inbound, Mode,
                                   Outgoing, Provider, ProviderConfig, Rejected, SendError, SendResult, Simulated,
                                   StatusUpdate, WebRequest, env, mapped_status, optional, read_tps, read_url, required, sender)

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

DEV_AUTH_TOKEN = "dev-twilio-auth-token"
"""The auth token used in development when none is set, so the simulator can sign its requests."""

DEFAULT_TPS = 10.0
"""Twilio queues what a number cannot send at once; a long code sends about 1 a second, a short code far more."""


@dataclass(frozen=True)
class TwilioConfig(ProviderConfig):
    """Twilio's (or a Twilio-compatible platform's) credentials, sending number and API base."""

    account_sid: str | None = None
    auth_token: str | None = None
    from_: str | None = None
    api_url: str | None = None

    def missing(self) -> list[str]:
        """Settings still needed to send."""
        names = (("TWILIO_ACCOUNT_SID", self.account_sid), ("TWILIO_AUTH_TOKEN", self.auth_token),
                 ("TWILIO_FROM", self.from_))
        return [name for name, value in names if not value]


def parse_sms(req: WebRequest) -> Inbound:
    """An inbound Twilio SMS. FromCity/FromState/FromZip locate the reporter: they are dropped here."""
    sid = required(req.form, "MessageSid", 64)
    return Inbound("twilio", "sms", sid, sender(req.form, "From"),
                   required(req.form, "Body", 1600, allow_empty=True) if "Body" in req.form else "",
                   to=optional(req.form, "To", 40))


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


SIMULATED_LINE_NUMBER = "+85512345000"
"""The line's number the phone simulator writes to (and calls)."""


def _simulated_call(phone: str, keys: str, call_sid: str | None, config: TwilioConfig, base: str,
                    action: str | None) -> Simulated:
    """One request of a call, as Twilio makes it, signed (see Twilio.simulate)."""
    sid = call_sid or "CA" + secrets.token_hex(16)
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone, "To": SIMULATED_LINE_NUMBER,
            "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    if action == "status":
        url = base + "/webhooks/twilio/voice/status"
        form.update(CallStatus=keys or "completed", CallDuration="30")
    elif action:
        if not action.startswith(base + "/webhooks/twilio/voice"):
            raise Rejected(400, "action must be a URL the line gave in its TwiML")
        url = action
        if keys:
            form["Digits"] = keys
    else:
        url = base + "/webhooks/twilio/voice"
    path, _, query = url[len(base):].partition("?")
    signature = RequestValidator(config.auth_token or "").compute_signature(url, form)
    return Simulated("POST", path, query, form, {"X-Twilio-Signature": signature}, session_id=sid)


class Twilio(Provider):
    """Twilio SMS in and out (and Twilio-compatible platforms)."""

    slug = "twilio"
    title = "Twilio API (Twilio, Somleng)"
    prefix = "TWILIO_"
    default_tps = DEFAULT_TPS
    endpoints = (
        Endpoint("sms", "message", parse_sms, render_twiml),
        Endpoint("status", "status", parse_status),
    )
    modes = {"twilio": Mode("SMS via Twilio", "sms", inline=True),
             "call": Mode("Call via Twilio (voice)", "voice", inline=True)}

    def read_config(self, environ: Mapping[str, str], production: bool) -> TwilioConfig:
        """TWILIO_* settings; in development a fixed auth token stands in so the simulator can sign."""
        token = env(environ, "TWILIO_AUTH_TOKEN") or (None if production else DEV_AUTH_TOKEN)
        return TwilioConfig(tps=read_tps(environ, self.prefix, self.default_tps),
                            account_sid=env(environ, "TWILIO_ACCOUNT_SID"), auth_token=token,
                            from_=env(environ, "TWILIO_FROM"), api_url=read_url(environ, "TWILIO_API_URL"))

    def authenticate(self, req: WebRequest, config: TwilioConfig, settings) -> None:
        """Check X-Twilio-Signature over PUBLIC_BASE_URL + path + query (or the request's URL).
        Somleng signs the same way, with the account's auth token (its notify-webhook workflow)."""
        signature = req.headers.get("X-Twilio-Signature")
        token = config.auth_token
        if not signature or not token:
            raise Rejected(403, "missing X-Twilio-Signature" if token else "Twilio is not configured")
        if settings.public_base_url:
            url = settings.public_base_url + req.path + (f"?{req.query_string}" if req.query_string else "")
        else:
            url = req.url
        # RequestValidator compares in constant time and tries the URL with and without the port.
        if not RequestValidator(token).validate(url, req.form, signature):
            raise Rejected(403, "X-Twilio-Signature does not match")

    def simulate(self, mode: str, phone: str, text: str, session_id: str | None, config: TwilioConfig,
                 settings, action: str | None = None) -> Simulated:
        """An inbound SMS as Twilio posts it, signed with the auth token; or, for a call, a request of it
        as the platform makes it: the call coming in, the keys pressed (`text`) at the prompt whose
        <Gather> action (or <Redirect>, nobody pressed anything) is `action`, or with `action` "status"
        the status callback saying the call ended (`text`: its CallStatus)."""
        base = settings.public_base_url or "http://localhost"
        if mode == "call":
            return _simulated_call(phone, text, session_id, config, base, action)
        sid = "SM" + secrets.token_hex(16)
        form = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone,
                "To": SIMULATED_LINE_NUMBER, "Body": text, "NumMedia": "0", "NumSegments": "1",
                "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        url = (settings.public_base_url or "http://localhost") + "/webhooks/twilio/sms"
        signature = RequestValidator(config.auth_token or "").compute_signature(url, form)
        return Simulated("POST", "/webhooks/twilio/sms", form=form, headers={"X-Twilio-Signature": signature})

    def send(self, config: TwilioConfig, message: Outgoing, settings) -> SendResult:
        """Send through Twilio's REST API (or TWILIO_API_URL) with the official SDK; Twilio reports
        delivery to /webhooks/twilio/status when the line knows its public address."""
        if config.missing():
            raise SendError(f"{', '.join(config.missing())} not set", outcome=REFUSED)
        client = Client(config.account_sid, config.auth_token,
                        http_client=TwilioHttpClient(timeout=float(settings.provider_timeout)))  # the SDK waits for ever by default
        if config.api_url:
            client.api.base_url = config.api_url
        kwargs = {}
        if settings.public_base_url:
            kwargs["status_callback"] = settings.public_base_url + "/webhooks/twilio/status"
        try:
            sent = client.messages.create(to=message.to, from_=message.sender or config.from_, body=message.body,
                                          **kwargs)
        except (TwilioRestException, TwilioServiceException) as exc:
            code, status = getattr(exc, "code", None), getattr(exc, "status", None) or 0
            if str(code) in PERMANENT_ERRORS:
                outcome = RECIPIENT
            elif status == 429 or status >= 500:
                outcome = TRANSIENT
            else:  # a bad token, account or request: this provider will not send it, another may
                outcome = REFUSED
            raise SendError(f"twilio {status} {code}", outcome=outcome) from None
        except requests.ReadTimeout:
            raise SendError("twilio did not answer in time (it may have taken the message)", outcome=UNKNOWN) from None
        except (TwilioException, requests.RequestException, OSError, ValueError) as exc:
            raise SendError(f"twilio unreachable or unreadable: {type(exc).__name__}") from None
        if not sent.sid:
            raise SendError("twilio answered without a message id", outcome=UNKNOWN)
        return SendResult(sent.sid, STATUS.get(sent.status or "queued") or "queued")


PROVIDER = Twilio()
"""This module's provider (registered by hotline.channels)."""
