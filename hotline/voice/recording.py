"""The staff recording call: record the line's prompts from any phone, without a studio.

The operator points a number (or a second number) at `/webhooks/twilio/voice/recording`. A caller
types the PIN (HOTLINE_VOICE_RECORDING_PIN; unset, the line is closed; three wrong PINs shut the
phone out for a quarter of an hour), chooses a language spoken from clips, and hears each prompt
in turn: its number on the console's script (Voice prompts page), and its words in English, the
language the platform can speak. After the tone the recorder says it in the chosen language and
presses '#'; the recording is played back, and kept with 1 (again with 2, skipped with 3).

A kept recording is fetched from the platform by a worker (never in the webhook), checked like an
upload (hotline.voice.audio) and stored; meanwhile the call says "one moment" and asks again.
What the call is doing is kept in Redis under its CallSid, so any web process can answer it.
https://www.twilio.com/docs/voice/twiml/record
"""
from __future__ import annotations

import hmac
import json

from babel import Locale
from flask import request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from hotline.channels.base import Rejected, sender
from hotline.voice import catalogue, recordings
from hotline.voice.webhooks import (
    _authenticated,
    _text,
    base_url,
    bp,
    call_sid,
    step_of,
    xml,
)

PATH = "/webhooks/twilio/voice/recording"
"""The recording call's webhook (every step of it)."""

SAY = {"language": "en-US"}
"""The recording call speaks to staff in English, by the platform's text-to-speech."""

PIN_TRIES, LOCKOUT_SECONDS = 3, 15 * 60
"""Wrong PINs a phone may type before it is shut out, and for how long."""

STATE_SECONDS = 2 * 3600
"""How long a recording call's state is kept (a long session of recording)."""

MAX_RECORDING = 30
"""The longest recording the call takes (a prompt is at most audio.MAX_SECONDS)."""

WAITS = 10
"""How many times the call says "one moment" while a recording is being fetched and checked."""

def _key(sid: str) -> str:
    return f"hotline:voice:recording:{sid}"


def _say(response, words: str) -> None:
    response.say(words.strip(), **SAY)


def _ask(s, base: str, state: dict, words: str, one_key: bool = True) -> str:
    """Words, then wait for keys answered at the call's next step."""
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=f"{base}{PATH}?s={state['n']}", method="POST", timeout=8,
                             finish_on_key="#", **({"num_digits": 1} if one_key else {}))
    _say(gather, words)
    response.redirect(f"{base}{PATH}?s={state['n']}&silent=1", method="POST")
    return str(response)


def _bye(words: str) -> str:
    response = VoiceResponse()
    _say(response, words)
    response.hangup()
    return str(response)


def clip_languages(s) -> list[str]:
    """The line's languages spoken from recorded clips (those the recording call is for)."""
    return [lang for lang in s.directory.line.languages if s.engine.voice_setup.spoken(lang).say is None]


def script(s, lang: str) -> list[catalogue.Clip]:
    """The clips of a language in the order the recording call and the console's script give them."""
    clips = catalogue.needed(s.engine, lang)
    aliases = catalogue.shared(clips)
    return [c for c in clips if c.id not in aliases]


def english(s) -> dict[str, str]:
    """The English words of each clip id (what the recorder hears of a prompt)."""
    if "en" not in s.engine.config.texts:
        return {}
    return {c.id: c.words for c in catalogue.needed(s.engine, "en")}


def _name(lang: str) -> str:
    """A language's name in English (the platform cannot say it in its own script)."""
    try:
        return Locale.parse(lang).get_display_name("en")
    except (ValueError, TypeError):
        return lang


def _prompt(s, base: str, state: dict, before: str = "") -> str:
    """The clip the call is at (after a few words about the one before): its number, its English
    words, the tone, and <Record>."""
    clips = script(s, state["lang"])
    todo = state["todo"]
    if state["i"] >= len(todo):
        return _bye(f"{before} That was the last clip. Thank you. Goodbye.".strip())
    clip_id = todo[state["i"]]
    number = next((i for i, c in enumerate(clips, 1) if c.id == clip_id), 0)
    gloss = english(s).get(clip_id) or clip_id.replace("_", " ")
    response = VoiceResponse()
    _say(response, f"{before} Clip {state['i'] + 1} of {len(todo)}: number {number} on the script. In English: {gloss}. "
                   f"Say it in {_name(state['lang'])} after the tone, then press hash.")
    response.record(action=f"{base}{PATH}?s={state['n']}", method="POST", max_length=MAX_RECORDING, timeout=4,
                    finish_on_key="#", play_beep=True, trim="trim-silence")
    response.redirect(f"{base}{PATH}?s={state['n']}&silent=1", method="POST")
    return str(response)


def _load(s, sid: str) -> dict | None:
    raw = s.redis.get(_key(sid))
    return json.loads(raw) if raw else None


def _save(s, sid: str, state: dict) -> None:
    s.redis.set(_key(sid), json.dumps(state), ex=STATE_SECONDS)


@bp.post(PATH)
def recording_call():
    """One step of the staff recording call."""
    from hotline import current_services

    s = current_services()
    try:
        req = _authenticated(s)
        sid = call_sid(req.form)
        phone = sender(req.form, "From", req.country)
        step = step_of(req)
        pin = s.settings.voice_recording_pin
        if pin is None:
            raise Rejected(403, "the recording line is closed: HOTLINE_VOICE_RECORDING_PIN is not set")
        digits = (req.form.get("Digits") or "").rstrip("#")
        if not all(c in "0123456789*" for c in digits) or len(digits) > 20:
            raise Rejected(400, "field Digits is not keys of a phone's keypad (0-9, * and #)")
        state = _load(s, sid)
        if step is not None and (state is None or step != state["n"]):
            raise Rejected(409, "this request answers a prompt the recording call is no longer at")
        recorded = req.form.get("RecordingUrl") if state and state["at"] == "record" and not req.args.get("silent") else None
        url = recordings.recording_url(s, recorded) if recorded else None  # none: nothing was recorded, ask again
    except Rejected as exc:
        return _text(exc.message, exc.status)
    except HTTPException as exc:
        return _text(f"{exc.name}: {exc.description}", exc.code or 400)
    base = base_url(s)
    lockout = f"hotline:voice:pin-tries:{s.vault.lookup_hash(phone)}"
    if int(s.redis.get(lockout) or 0) >= PIN_TRIES:
        return xml(_bye("Too many wrong PINs from this phone. Try again later. Goodbye."))
    if state is None:
        state = {"at": "pin", "n": 1}
        _save(s, sid, state)
        return xml(_ask(s, base, state, "Staff recording line. Type your PIN, then press hash.", one_key=False))
    state["n"] += 1
    silent = bool(request.args.get("silent"))
    answer = _step(s, base, sid, state, digits, silent, url, lockout, request.form.get("RecordingDuration"))
    _save(s, sid, state)
    return xml(answer)


def _step(s, base: str, sid: str, state: dict, digits: str, silent: bool, url: str | None, lockout: str,
          duration: str | None) -> str:
    """What the call does next, from where it is (`state["at"]`) and what was pressed or recorded."""
    at = state["at"]
    if at == "pin":
        if silent or not hmac.compare_digest(digits.encode(), s.settings.voice_recording_pin.encode()):
            if not silent:
                tries = s.redis.incr(lockout)
                s.redis.expire(lockout, LOCKOUT_SECONDS)
                if tries >= PIN_TRIES:
                    return _bye("Too many wrong PINs. Goodbye.")
            return _ask(s, base, state, "That PIN is not right. Type your PIN, then press hash.", one_key=False)
        s.redis.delete(lockout)
        state["at"] = "lang"
        return _languages(s, base, state)
    if at == "lang":
        langs = clip_languages(s)
        if silent or not digits.isdigit() or not 1 <= int(digits) <= len(langs):
            return _languages(s, base, state)
        state.update(at="mode", lang=langs[int(digits) - 1])
        return _modes(s, base, state)
    if at == "mode":
        if digits not in ("1", "2"):
            return _modes(s, base, state)
        missing = set(_missing(s, state["lang"]))
        state.update(at="record", i=0, todo=[c.id for c in script(s, state["lang"]) if digits == "2" or c.id in missing])
        return _prompt(s, base, state)
    if at == "record":
        if silent or url is None:
            return _prompt(s, base, state)
        state.update(at="review", url=url)
        return _review(s, base, state)
    if at == "review":
        if digits == "1":
            state.update(at="wait", job=recordings.enqueue(s, sid, state), waits=0)
            return _moment(base, state, "Checking the recording.")
        if digits == "3":
            state.update(at="record", i=state["i"] + 1)
            return _prompt(s, base, state)
        if digits == "2":
            state["at"] = "record"
            return _prompt(s, base, state)
        return _review(s, base, state)
    # wait: a worker fetches and checks the recording
    result = s.redis.hget(recordings.job_key(state["job"]), "result")
    if result is None:
        state["waits"] += 1
        if state["waits"] <= WAITS:
            return _moment(base, state, "One moment.")
        state.update(at="record", i=state["i"] + 1)
        return _prompt(s, base, state, before="This is taking long: the console's Voice prompts page will show "
                                                "whether it was kept.")
    result = result.decode()
    if result == "kept":
        state.update(at="record", i=state["i"] + 1)
        return _prompt(s, base, state, before="Kept.")
    state["at"] = "record"
    return _prompt(s, base, state, before=f"Not kept: {result}. Please record it again.")


def _missing(s, lang: str) -> list[str]:
    """The clips of a language not recorded yet."""
    report = next((r for r in getattr(s.engine, "voice_report", []) if r.lang == lang), None)
    return [c.id for c in report.missing] if report else []


def _languages(s, base: str, state: dict) -> str:
    langs = clip_languages(s)
    if not langs:
        return _bye("Every language of the line is spoken by the platform: there is nothing to record. Goodbye.")
    words = " ".join(f"For {_name(lang)}, press {i}." for i, lang in enumerate(langs, 1))
    return _ask(s, base, state, f"Which language will you record? {words}")


def _modes(s, base: str, state: dict) -> str:
    missing = len(_missing(s, state["lang"]))
    total = len(script(s, state["lang"]))
    return _ask(s, base, state, f"{_name(state['lang'])} has {total} clips, {missing} not recorded yet. To record "
                                f"the {missing} missing, press 1. To record every clip from the first, press 2.")


def _review(s, base: str, state: dict) -> str:
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=f"{base}{PATH}?s={state['n']}", method="POST", timeout=8,
                             num_digits=1)
    gather.play(state["url"])
    _say(gather, "To keep it, press 1. To record it again, press 2. To skip this clip, press 3.")
    response.redirect(f"{base}{PATH}?s={state['n']}&silent=1", method="POST")
    return str(response)


def _moment(base: str, state: dict, words: str) -> str:
    response = VoiceResponse()
    _say(response, words)
    response.redirect(f"{base}{PATH}?s={state['n']}&silent=1", method="POST")
    return str(response)
