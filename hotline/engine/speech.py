"""What a caller hears: each screen of the dialogue as speech, from the same flow data as USSD.

A screen on a call is a `Speech`: a list of items, each a text of the catalogue (with its
placeholders filled by further items), digits read one by one, or a place name; and how the
keypad answers it (one key, or several ended with '#'). Pure data, kept as JSON: the web
process turns it into TwiML (hotline.voice.twiml), the simulator into words, the check into
seconds (the voice patience budget).

Items: ["t", key, {placeholder: [items]}, lang?] a text; ["d", "117"] digits; ["p", code] a place;
["n"] the line's name.
"""
from __future__ import annotations

import json
import string
from dataclasses import dataclass, field

MAX_OPTIONS = 6
"""The most options a caller hears in one prompt: the patience budget's count. Six, since the
first menu's options 1-6 are all on its first page on every channel (docs/contract.md section 4);
a longer list is read in pages, '98' for more, as on USSD."""

MAX_SECONDS = 45.0
"""The most a prompt may take to hear (the patience budget's time): `python -m hotline check`
measures every screen in every language offered on calls, and refuses a longer one."""

WORDS_PER_SECOND = 2.5
"""Speaking rate assumed for text-to-speech and for a text whose clip is not recorded (150 a minute)."""

PLACE_SECONDS = 1.5
"""Time assumed for one place name (clips of place names are optional and not measured)."""

ONE_KEY_WAIT = 8
"""Seconds a one-key prompt waits for the key after it has been heard."""

KEYS_WAIT = 5
"""Seconds a prompt answered with several keys waits between keys (or for '#')."""

DIGIT_KEYS = tuple(f"voice_digit_{d}" for d in "0123456789")
"""The words of each digit: numbers are read digit by digit from these (a clip each)."""

VOICE_TEXTS = frozenset({
    "voice_option", "voice_repeat", "voice_back", "voice_more", "voice_skip", "voice_dont_know",
    "voice_code_hint", "voice_code_only", "voice_your_number", "voice_goodbye", "voice_idle", "voice_idle_end",
    "voice_rate_limited", "voice_err_choice", "voice_next_tip", "voice_or", *DIGIT_KEYS,
})
"""Texts only calls speak (beyond the flows' own): every messages file has them."""


def T(text_key: str, lang: str | None = None, /, **values: list) -> list:
    """A text item (in `lang`, when not the call's); its placeholders filled with lists of items."""
    item = ["t", text_key, values]
    return item + [lang] if lang else item


def D(digits: str) -> list:
    """Digits, read one by one."""
    return ["d", digits]


def P(code: str) -> list:
    """A place's name."""
    return ["p", code]


NAME = ["n"]
"""The line's name."""


@dataclass(frozen=True)
class SpokenLanguage:
    """How a language is spoken on calls: by the platform's text-to-speech (`say`: its <Say> voice and
    language attributes) or by recorded clips (`clips`: clip id to file name; `places`: area codes
    with a clip)."""

    code: str
    say: dict | None = None
    clips: dict[str, str] = field(default_factory=dict)
    places: frozenset[str] = frozenset()
    durations: dict[str, float] = field(default_factory=dict)

    def speaks_place(self, code: str) -> bool:
        """True if a place's name can be spoken (any, by text-to-speech; else only with its clip)."""
        return self.say is not None or code in self.places


@dataclass(frozen=True)
class VoiceSetup:
    """The voice line's languages and limits, as loaded with the configuration. `offered`: the
    languages a call may use (spoken by the platform, or every clip recorded), in the line's order."""

    offered: tuple[str, ...] = ()
    languages: dict[str, SpokenLanguage] = field(default_factory=dict)
    idle_seconds: int = 20
    """Silence (the waits of prompts nobody answered, added up) after which a call is ended politely."""

    def spoken(self, lang: str) -> SpokenLanguage:
        """How `lang` is spoken (clips, none recorded, when it is not configured)."""
        return self.languages.get(lang) or SpokenLanguage(lang)


def encode(speech: dict) -> str:
    """A speech as the engine's reply text (kept in Redis and the database for resends)."""
    return json.dumps(speech, separators=(",", ":"), ensure_ascii=False)


def decode(text: str) -> dict:
    """A speech from a reply text."""
    return json.loads(text)


def speech(lang: str, items: list, step: int | None = None, one_key: bool = False, end: bool = False,
           refused: str | None = None) -> dict:
    """A speech: what to say, then wait for keys (answered at `step`), or end the call."""
    gather = None if end or refused else {"one": one_key, "wait": ONE_KEY_WAIT if one_key else KEYS_WAIT}
    return {"lang": lang, "say": items, "gather": gather, "n": step, "end": end, "refused": refused}


def template_parts(words: str) -> list[tuple[str, str | None]]:
    """A text cut at its placeholders: (literal words, placeholder name or None) in order."""
    return [(literal, name) for literal, name, _, _ in string.Formatter().parse(words)]


def has_words(literal: str) -> bool:
    """True if a literal piece of a text says something (not only spaces and punctuation)."""
    return any(c.isalnum() for c in literal)


def clip_ids(key: str, words: str) -> list[str]:
    """The clips a text is recorded as: one for a text without placeholders, else one for each piece
    of words between them (`key.1`, `key.2`...), so digits and names are spoken from clips of their own."""
    parts = template_parts(words)
    if all(name is None for _, name in parts):
        return [key]
    pieces = [literal for literal, _ in parts if has_words(literal)]
    return [f"{key}.{i}" for i in range(1, len(pieces) + 1)]
