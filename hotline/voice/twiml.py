"""A speech as TwiML, built with the twilio SDK's classes: `<Gather input="dtmf">` around what the
caller hears, `<Say>` for a language the platform speaks, `<Play>` of the line's clips for one
recorded, then a `<Redirect>` back to the line if the caller pressed nothing (the silence is
counted), or `<Hangup/>` after the last words.

Only what both Twilio and Somleng take is used: `<Gather>` holds only `<Say>` and `<Play>`
(Somleng refuses `<Pause>` inside it), and no `<Pause>` at all (Somleng has none).
https://www.twilio.com/docs/voice/twiml/gather
"""
from __future__ import annotations

from urllib.parse import quote, urlencode

from twilio.twiml.voice_response import VoiceResponse

from hotline.voice.pieces import pieces, said

VOICE_PATH = "/webhooks/twilio/voice"
"""Where a call's prompts are answered (docs/contract.md section 3)."""


def clip_url(base: str, lang: str, file: str) -> str:
    """The URL the platform fetches a clip from (`file` carries its version: a new recording is fetched anew)."""
    return f"{base}/voice/{quote(lang)}/{file}"


def action_url(base: str, step: int, silent: bool = False, path: str = VOICE_PATH) -> str:
    """Where the keys pressed at prompt `step` are posted (or, `silent`, where the call comes back
    when nobody pressed anything)."""
    query = {"s": step, **({"silent": 1} if silent else {})}
    return f"{base}{path}?{urlencode(query)}"


def spoken(engine, base: str, speech: dict) -> list[tuple[str, str, dict]]:
    """What to say as verbs in order: ("say", words, <Say> attributes) and ("play", url, {});
    consecutive words of one language are one <Say>."""
    verbs: list[tuple[str, str, dict]] = []
    for item in speech["say"]:
        if engine.voice_setup.spoken(speech["lang"]).say is not None and all(
                engine.voice_setup.spoken(lang).say is not None for lang, _, _ in pieces(engine.config, speech["lang"], item)):
            for lang, text in said(engine.config, engine.areas, speech, item):
                attrs = engine.voice_setup.spoken(lang).say
                if verbs and verbs[-1][0] == "say" and verbs[-1][2] == attrs:
                    verbs[-1] = ("say", f"{verbs[-1][1]} {text}", attrs)
                else:
                    verbs.append(("say", text, attrs))
            continue
        for lang, text, clip in pieces(engine.config, speech["lang"], item):
            how = engine.voice_setup.spoken(lang)
            if clip is None:
                continue
            if how.say is not None:  # a piece of a language the platform speaks, inside a recorded text
                verbs.append(("say", said(engine.config, engine.areas, speech, ["d", text])[0][1]
                              if clip.startswith("voice_digit_") else text.strip(), how.say))
                continue
            place = clip.startswith("areas/")
            file = how.places.get(clip[6:]) if place else how.clips.get(clip)
            if file is None:
                raise LookupError(f"no clip {lang}/{clip}")
            verbs.append(("play", clip_url(base, lang, ("areas/" if place else "") + file), {}))
    return verbs


def render(engine, base: str, speech: dict, path: str = VOICE_PATH) -> str:
    """The TwiML document for one speech (`path`: where its keys are answered)."""
    response = VoiceResponse()
    verbs = spoken(engine, base, speech)
    gather = speech.get("gather")
    target = response
    if gather is not None:
        kwargs = {"input": "dtmf", "action": action_url(base, speech["n"], path=path), "method": "POST",
                  "timeout": gather["wait"], "finish_on_key": "#"}
        if gather["one"]:
            kwargs["num_digits"] = 1
        target = response.gather(**kwargs)
    for kind, value, attrs in verbs:
        if kind == "say":
            target.say(value.strip(), **attrs)
        else:
            target.play(value)
    if gather is not None:
        response.redirect(action_url(base, speech["n"], silent=True, path=path), method="POST")
    else:
        response.hangup()
    return str(response)


def reject() -> str:
    """A call the line cannot take (no language can be spoken): refused before it is answered."""
    response = VoiceResponse()
    response.reject()
    return str(response)
