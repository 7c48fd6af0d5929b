"""What a caller hears, piece by piece: each item of a speech (hotline.engine.speech) as the words
text-to-speech says and the clip that says it. A text is cut at its placeholders; the pieces
between them are its clips (`key.1`, `key.2`...), and what fills a placeholder is spoken by its own
items (digits one by one, a place's name, another text). The catalogue, the TwiML, the simulator
and the check's voice budget all read speech through here.
"""
from __future__ import annotations

import re

from hotline.engine.speech import (
    NAME,
    PLACE_SECONDS,
    WORDS_PER_SECOND,
    D,
    T,
    VoiceSetup,
    clip_ids,
    has_words,
    template_parts,
)

_TIGHT = re.compile(r" ([.,:;!?\u17d4\u17d6])")
"""A space text-to-speech need not hear before punctuation (digits are spaced out to be read one by one)."""

_ENDS = ".,:;!?\u17d4\u17d6"
"""What ends a sentence (the Khmer khan ។ and camnuc pii kuuh ៖ too): an item that ends without one gets a full stop."""

_KHMER_CONSONANT = re.compile(r"(?<!\u17d2)[\u1780-\u17a2]")
"""A Khmer consonant that starts a syllable (one after a coeng, U+17D2, is written under the one before it: the same syllable)."""

SYLLABLES_PER_SECOND = 4.0
"""Speaking rate in syllables, for a script that does not space its words."""


def template(config, lang: str, key: str) -> str:
    """The unfilled words of a text in `lang` (the line's name for `line_name` where a language has none)."""
    words = config.texts.get(lang, {}).get(key)
    if words is None and key == "line_name":
        return config.line.name
    return words if words is not None else config.texts[config.line.languages[0]][key]


def _default(config, name: str) -> list | None:
    """Items for a placeholder the engine leaves to the line: the emergency numbers, the line's name."""
    if name == "emergency":
        numbers = list(config.line.emergency_numbers)
        out: list = []
        for i, number in enumerate(numbers):
            if i:
                out.append(T("voice_or"))
            out.append(D(number))
        return out
    if name == "name":
        return [NAME]
    return None


def pieces(config, lang: str, item: list):
    """The speech of one item as (lang, words, clip id) pieces in order. `words` is what
    text-to-speech says (a digit, for digits; the area code, for a place: the caller's language
    names it); `clip` is the clip that says it (`areas/<code>` for a place), None for punctuation."""
    kind = item[0]
    if kind == "d":
        for digit in item[1]:
            yield lang, digit, f"voice_digit_{digit}"
        return
    if kind == "p":
        yield lang, item[1], f"areas/{item[1]}"
        return
    if kind == "n":
        yield lang, template(config, lang, "line_name"), "line_name"
        return
    key, values = item[1], item[2]
    own = item[3] if len(item) > 3 else lang
    unfilled = template(config, own, key)
    ids = iter(clip_ids(key, unfilled))
    for literal, name in template_parts(unfilled):
        if literal:
            yield own, literal, next(ids) if has_words(literal) else None
        if name is not None:
            for sub in values.get(name) or _default(config, name) or []:
                yield from pieces(config, own, sub)


def said(config, areas, speech: dict, item: list) -> list[tuple[str, str]]:
    """One item as text-to-speech would say it: (lang, words) runs, a run per language."""
    runs: list[list[str]] = []
    for lang, text, clip in pieces(config, speech["lang"], item):
        if clip is not None and clip.startswith("areas/"):
            area = areas.get(text)
            text = area.name(lang) if area else text
        elif clip is not None and clip.startswith("voice_digit_"):
            text = f" {text} "
        if runs and runs[-1][0] == lang:
            runs[-1][1] += text
        else:
            runs.append([lang, text])
    out = []
    for lang, text in runs:
        text = _TIGHT.sub(r"\1", " ".join(text.split()))
        out.append((lang, text if not text or text[-1] in _ENDS else text + "."))
    return out


def words(config, areas, speech: dict) -> str:
    """What a caller hears, as text (for the simulator, tests and the console)."""
    return " ".join(text for item in speech["say"] for _, text in said(config, areas, speech, item) if text)


def seconds(config, setup: VoiceSetup, speech: dict) -> float:
    """How long a speech takes to hear: recorded clips by their length, the rest at the speaking rate."""
    total = 0.0
    for item in speech["say"]:
        for lang, text, clip in pieces(config, speech["lang"], item):
            if clip is None:
                continue
            if clip.startswith("areas/"):
                total += PLACE_SECONDS
                continue
            spoken = setup.spoken(lang)
            recorded = spoken.durations.get(clip) if spoken.say is None else None
            total += recorded if recorded is not None else estimate(text)
    return total


def estimate(text: str) -> float:
    """Seconds to say words not recorded: by words at the speaking rate, or, for a script written
    without spaces between words (Khmer), by its syllables (each written around one consonant)."""
    syllables = len(_KHMER_CONSONANT.findall(text))
    return max(max(1, len(text.split())) / WORDS_PER_SECOND, syllables / SYLLABLES_PER_SECOND)
