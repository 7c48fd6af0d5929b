"""Masked call-back: a caseworker presses "Call" on a report; the line calls the caseworker's own phone
and, when it is answered, bridges it to the reporter's with `<Dial>`. Each sees only the line's
number, neither learns the other's. Only while the reporter agreed to be contacted and has not
sent STOP (checked when asked, when placed and again when bridged), recorded in the audit log,
with the call's outcome and duration on the report's timeline.

The console asks (`request`), a worker places the call through the Calls API with the official
SDK (`place`), and the platform asks the line what to do when the caseworker answers (`bridge`)
and when the conversation ends (`bridged`).
https://www.twilio.com/docs/voice/twiml/dial
"""
from __future__ import annotations

import logging

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from hotline import audit, casework, phones, queues
from hotline import reports as report_store
from hotline.models import Call, Report, User

log = logging.getLogger(__name__)

BRIDGE_PATH = "/webhooks/twilio/voice/bridge"
"""What the platform asks once the caseworker answers, and again when the bridged call ends."""

RING_SECONDS = 30
"""How long each phone rings before the call gives up."""

SAY = {"language": "en-US"}
"""The caseworker hears the line's few words by text-to-speech (the console's staff read English)."""

DIAL_OUTCOMES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")
"""How a <Dial> ends (DialCallStatus)."""


def _voice_ready(s) -> str | None:
    """Why the line cannot place calls now, or None."""
    config = s.settings.provider("twilio")
    missing = config.missing()
    if missing:
        return f"{', '.join(missing)} not set"
    if not s.settings.public_base_url:
        return "PUBLIC_BASE_URL is not set, so the platform could not reach the line during the call"
    return None


def blocked(session: Session, s, report: Report, user: User) -> str | None:
    """Why this caseworker may not call this reporter now, or None."""
    why = casework.contact_blocked(session, report)
    if why:
        return why
    if user.phone is None:
        return "you have no phone of your own on your account (Account: my phone for call-backs)"
    return _voice_ready(s)


def request(session: Session, s, report: Report, user: User, actor: str) -> queues.Work:
    """A caseworker asks the line to connect them to the reporter: recorded, then placed by a worker."""
    why = blocked(session, s, report, user)
    if why:
        raise casework.CaseworkError(f"cannot call the reporter: {why}", status=409)
    call = Call(report_id=report.id, user_id=user.id, status="requested")
    session.add(call)
    session.flush()
    report_store.add_event(session, report, "call_requested", actor=actor, data={"call": call.id})
    audit.record(session, actor, "report.call", report.number, details={"call": call.id})
    return queues.PLACE_CALL.work(call.id)


def _client(s) -> Client:
    """The official SDK, pointed at TWILIO_API_URL when set (Somleng, a local fake)."""
    config = s.settings.provider("twilio")
    client = Client(config.account_sid, config.auth_token,
                    http_client=TwilioHttpClient(timeout=float(s.settings.provider_timeout)))
    if config.api_url:
        client.api.base_url = config.api_url
    return client


def line_number(s, report: Report) -> str:
    """The number both phones see: the one the reporter reached, when it is a phone number (a short
    code cannot call out), else TWILIO_FROM."""
    reached = phones.normalise(report.line_number or "", s.directory.line.country) if report.line_number else None
    return reached or s.settings.provider("twilio").from_


def _end(session: Session, call: Call, report: Report, outcome: str, seconds: int | None = None,
         error: str | None = None) -> None:
    """The call is over: its outcome (and how long they spoke) on the report's timeline."""
    call.status, call.outcome, call.seconds, call.error = "ended", outcome, seconds, error
    report_store.add_event(session, report, "call_ended", data={"call": call.id, "outcome": outcome,
                                                                 **({"seconds": seconds} if seconds is not None else {})})


def place(s, call_id: int) -> str:
    """Ring the caseworker's phone from the line's number (the worker's job; never twice)."""
    with s.Session.begin() as session:
        call = session.get(Call, call_id, with_for_update=True)
        if call is None or call.status != "requested":
            return call.status if call else "unknown"
        report, user = session.get(Report, call.report_id), session.get(User, call.user_id)
        why = blocked(session, s, report, user)
        if why:
            _end(session, call, report, "refused", error=why[:255])
            return "ended"
        caseworker = s.vault.decrypt(user.phone)
        base = s.settings.public_base_url
        try:
            placed = _client(s).calls.create(
                to=caseworker, from_=line_number(s, report), url=f"{base}{BRIDGE_PATH}?call={call.id}", method="POST",
                status_callback=f"{base}/webhooks/twilio/voice/status?call={call.id}", status_callback_method="POST",
                timeout=RING_SECONDS)
        except (TwilioException, requests.RequestException, OSError) as exc:
            log.warning("call-back %s not placed: %s", call.id, type(exc).__name__)
            _end(session, call, report, "failed", error=f"the platform refused or did not answer: {type(exc).__name__}")
            return "ended"
        call.status, call.caseworker_sid = "calling", placed.sid
        return "calling"


def _speak(words: str, hangup: bool = True) -> str:
    """A few words to the caseworker, then the call ends."""
    response = VoiceResponse()
    response.say(words, **SAY)
    if hangup:
        response.hangup()
    return str(response)


def bridge(s, call_id: str, call_sid: str, base: str) -> str:
    """The caseworker answered: dial the reporter with the line's number as caller id (unless the
    reporter has since said STOP, or no longer agrees)."""
    with s.Session.begin() as session:
        call = _call(session, call_id)
        if call is None or call.caseworker_sid != call_sid or call.status != "calling":
            return _speak("This call is not expected. Goodbye.")
        report = session.get(Report, call.report_id)
        why = casework.contact_blocked(session, report)
        if why:
            _end(session, call, report, "refused", error=why[:255])
            return _speak("The reporter can no longer be called through the line. Goodbye.")
        call.status = "bridging"
        reporter = s.vault.decrypt(report.reporter_phone)
        spaced = " ".join(report.number)
        response = VoiceResponse()
        response.say(f"Connecting you to the reporter of report {spaced}. Your number stays hidden, and so does theirs.",
                     **SAY)
        dial = response.dial(caller_id=line_number(s, report), timeout=RING_SECONDS,
                             time_limit=s.settings.voice_callback_minutes * 60,
                             action=f"{base}{BRIDGE_PATH}?call={call.id}&done=1", method="POST")
        dial.number(reporter)
        return str(response)


def bridged(s, call_id: str, call_sid: str, outcome: str, seconds: int | None) -> str:
    """The bridged call ended (<Dial>'s action): its outcome and length on the timeline."""
    with s.Session.begin() as session:
        call = _call(session, call_id)
        if call is None or call.caseworker_sid != call_sid or call.status != "bridging":
            return _speak("Goodbye.")
        report = session.get(Report, call.report_id)
        _end(session, call, report, outcome, seconds if outcome == "completed" else None)
    if outcome == "completed":
        return _speak("The call with the reporter has ended. Goodbye.")
    return _speak("The reporter did not answer. Goodbye.")


def leg_status(s, call_id: str, call_sid: str, status: str, seconds: int | None) -> None:
    """The caseworker's leg ended: if it never reached the reporter (not answered, busy, failed), say so."""
    from hotline.voice.webhooks import CALL_STATUS

    if not CALL_STATUS.get(status):
        return
    with s.Session.begin() as session:
        call = _call(session, call_id)
        if call is None or call.caseworker_sid != call_sid or call.status != "calling":
            return  # a bridged call's end is told by <Dial>'s action (`bridged`), with its length
        _end(session, call, session.get(Report, call.report_id), f"caseworker {status}")


def _call(session: Session, call_id: str) -> Call | None:
    """The call named in a callback's URL, locked for the update."""
    if not (call_id.isascii() and call_id.isdigit() and len(call_id) <= 12):
        return None
    return session.scalar(select(Call).where(Call.id == int(call_id)).with_for_update())
