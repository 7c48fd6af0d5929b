"""The voice line's webhooks: calls through TwiML (Twilio, Somleng, any Twilio-compatible platform).

`/webhooks/twilio/voice` takes "a call comes in" and each prompt's keys; `/voice/status` the
call status callback; `/voice/<lang>/<file>` serves the clips the platform plays. Requests are
signed like Twilio's SMS (the twilio provider checks them). Twilio's call fields are read here
and nowhere else: a call becomes an ordinary `Inbound` (channel "voice", its CallSid the
session) for the same intake as USSD and SMS. Bad input is a 4xx naming the problem.
https://www.twilio.com/docs/voice/twiml#request-parameters
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort, request, send_from_directory
from werkzeug.exceptions import HTTPException

from hotline import channels
from hotline.channels.base import (
    Inbound,
    Rejected,
    WebRequest,
    optional,
    required,
    sender,
)
from hotline.engine.speech import decode
from hotline.inbound import conversations, intake
from hotline.inbound.webhooks import _web_request
from hotline.voice import twiml
from hotline.voice.catalogue import CLIP_TYPES

bp = Blueprint("voice", __name__)

CALL_STATUS = {"queued": False, "initiated": False, "ringing": False, "in-progress": False, "answered": False,
               "completed": True, "busy": True, "failed": True, "no-answer": True, "canceled": True}
"""Twilio's call statuses, and whether the call is over (its state is then kept only for 'continue')."""

_CALL_SID = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_DIGITS = re.compile(r"^[0-9*#]{0,40}$")
_CLIP_FILE = re.compile(r"^(areas/)?[A-Za-z0-9_.-]{1,80}$")

MAX_STEP = 10_000
"""More prompts than this in one call is no call."""


def call_sid(form) -> str:
    """The CallSid: the call, and the session."""
    sid = required(form, "CallSid", 64).strip()
    if not _CALL_SID.match(sid):
        raise Rejected(400, "field CallSid is not a call id")
    return sid


def step_of(req: WebRequest) -> int | None:
    """The prompt a request answers (`?s=` of the action URL the line gave), None for a call's first."""
    raw = req.args.get("s")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_STEP:
        raise Rejected(400, "query s is not a prompt of this call")
    return int(raw)


def parse_call(req: WebRequest) -> Inbound:
    """A call's first request, or the keys pressed at one of its prompts (`Digits`; none when the
    caller was silent). Caller-location fields (FromCity, ...) are not read."""
    sid = call_sid(req.form)
    number = sender(req.form, "From", req.country)
    step = step_of(req)
    digits = "" if req.args.get("silent") else (req.form.get("Digits") or "")
    if not _DIGITS.match(digits):
        raise Rejected(400, "field Digits is not keys of a phone's keypad (0-9, * and #)")
    if step is None and digits:
        raise Rejected(400, "field Digits came without the prompt it answers (query s)")
    # The key that ends a number, if the platform keeps it. No keys at all (or '#' alone) is the
    # caller saying nothing, whichever way the platform tells it: the prompt is said again.
    digits = digits.rstrip("#")
    key = f"voice:{sid}:{step or 0}:{digits or '-'}"
    return Inbound("twilio", "voice", key, number, digits, session_id=sid, to=optional(req.form, "To", 40), step=step)


def _authenticated(s) -> WebRequest:
    """The current request, signed by the platform (else Rejected 403)."""
    request.get_data(cache=True)
    req = _web_request(s.directory.line.country)
    provider = channels.get("twilio")
    provider.authenticate(req, s.settings.provider("twilio"), s.settings)
    return req


def base_url(s) -> str:
    """The line's address as the platform reaches it."""
    return s.settings.public_base_url or request.host_url.rstrip("/")


def _text(message: str, status: int) -> Response:
    """A refusal naming the problem."""
    return Response(message + "\n", status=status, mimetype="text/plain")


def xml(body: str) -> Response:
    """TwiML."""
    return Response(body, status=200, content_type="text/xml; charset=utf-8")


@bp.post("/webhooks/twilio/voice")
def call():
    """A call comes in, or a prompt's keys: the same dialogue as USSD, spoken."""
    from hotline import current_services

    s = current_services()
    try:
        req = _authenticated(s)
        inbound = parse_call(req)
    except Rejected as exc:
        return _text(exc.message, exc.status)
    except HTTPException as exc:
        return _text(f"{exc.name}: {exc.description}", exc.code or 400)
    if not s.engine.voice_setup.offered:
        return xml(twiml.reject())  # no language can be spoken: the check says why
    answer = intake.handle_message(s, inbound)
    speech = decode(answer.text)
    if speech.get("refused"):
        return _text(speech["refused"], 409)
    return xml(twiml.render(s.engine, base_url(s), speech))


@bp.post("/webhooks/twilio/voice/status")
def status():
    """A call's status callback: a call that ended is ended for good (a later request of it is
    refused; its place in a report is kept 5 minutes for 'continue'); a masked call-back's leg
    records its progress and duration."""
    from hotline import current_services
    from hotline.voice import callback

    s = current_services()
    try:
        req = _authenticated(s)
        sid = call_sid(req.form)
        state = required(req.form, "CallStatus", 32).strip()
        if state not in CALL_STATUS:
            raise Rejected(400, f"field CallStatus has unknown status {state[:40]!r}")
        duration = optional(req.form, "CallDuration", 12)
        if duration is not None and not (duration.isascii() and duration.isdigit()):
            raise Rejected(400, "field CallDuration is not a number of seconds")
        if "call" in req.args:
            callback.leg_status(s, req.args.get("call", ""), sid, state, int(duration) if duration else None)
            return _text("", 200)
        number = sender(req.form, "From", req.country)
    except Rejected as exc:
        return _text(exc.message, exc.status)
    except HTTPException as exc:
        return _text(f"{exc.name}: {exc.description}", exc.code or 400)
    if CALL_STATUS[state]:
        conversations.mark_ended(s.redis, s.vault.lookup_hash(number), sid)
    return _text("", 200)


@bp.post("/webhooks/twilio/voice/bridge")
def bridge():
    """A masked call-back: the caseworker answered (bridge to the reporter), or the bridged call ended
    (`?done=1`, <Dial>'s action with DialCallStatus and DialCallDuration)."""
    from hotline import current_services
    from hotline.voice import callback

    s = current_services()
    try:
        req = _authenticated(s)
        sid = call_sid(req.form)
        call_id = req.args.get("call", "")
        if not req.args.get("done"):
            return xml(callback.bridge(s, call_id, sid, base_url(s)))
        outcome = required(req.form, "DialCallStatus", 32).strip()
        if outcome not in callback.DIAL_OUTCOMES:
            raise Rejected(400, f"field DialCallStatus has unknown status {outcome[:40]!r}")
        seconds = optional(req.form, "DialCallDuration", 12)
        if seconds is not None and not (seconds.isascii() and seconds.isdigit()):
            raise Rejected(400, "field DialCallDuration is not a number of seconds")
    except Rejected as exc:
        return _text(exc.message, exc.status)
    except HTTPException as exc:
        return _text(f"{exc.name}: {exc.description}", exc.code or 400)
    return xml(callback.bridged(s, call_id, sid, outcome, int(seconds) if seconds else None))


@bp.get("/voice/<lang>/<path:file>")
def clip(lang: str, file: str):
    """A recorded clip, for the platform to <Play> (and the console and simulator to play)."""
    from hotline import current_services

    s = current_services()
    if lang not in s.directory.line.languages or not _CLIP_FILE.match(file) or ".." in file \
            or Path(file).suffix not in CLIP_TYPES:
        abort(404)
    response = send_from_directory(Path(s.settings.voice_dir) / lang, file, mimetype=CLIP_TYPES[Path(file).suffix],
                                   max_age=86400)
    return response
