"""The normal form of what reporters write, so that one name written several ways is one name.

Khmer: Unicode NFC, invisible characters dropped, deprecated characters replaced, the two subscripts
that look alike (coeng ta, coeng da) made one, and the marks of each syllable put in the order the
Unicode Standard gives (chapter 16.4: subscripts, subscript RO last, then register shifter, vowel,
signs), whatever order they were typed in. Latin (romanised Khmer, English): accents dropped, case
folded, and the spellings romanisation varies between folded to one (`fold_roman`). Digits of any
script are ASCII digits. Punctuation is space; runs of space are one.
"""
from __future__ import annotations

import re
import unicodedata

from hotline.phones import ascii_digits

INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u17b4\u17b5"))
"""Zero-width spaces and joiners, soft hyphens, and Khmer's invisible inherent vowels (U+17B4, U+17B5)."""

KHMER_REPLACED = {"\u17a3": "\u17a2", "\u17a4": "\u17a2\u17b6", "\u17d8": "\u17d4\u179b\u17d4",
                  "\u17d2\u178a": "\u17d2\u178f"}
"""Deprecated Khmer characters (QAQ, QAA, BEYYAL) by their replacements, and subscript DA by subscript TA,
which look the same under a consonant and are typed either way (ផ្ដើម, ផ្តើម)."""

COENG, RO = "\u17d2", "\u179a"
SHIFTERS = frozenset("\u17c9\u17ca")
ROBAT = "\u17cc"
VOWELS = frozenset(chr(c) for c in range(0x17B6, 0x17C6))
SIGNS = frozenset(chr(c) for c in (*range(0x17C6, 0x17C9), *range(0x17CB, 0x17D2), 0x17D3, 0x17DD)) - {ROBAT}


def _khmer_syllables(text: str) -> str:
    """Each Khmer syllable's marks in the standard order (robat, subscripts with RO last, register
    shifter, vowels, signs), however they were typed; everything else as it was."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        out.append(ch)
        i += 1
        if not ("\u1780" <= ch <= "\u17b3"):  # not a consonant or independent vowel: no syllable starts
            continue
        robat, subs, shifters, vowels, signs = [], [], [], [], []
        while i < n:
            mark = text[i]
            if mark == COENG and i + 1 < n and "\u1780" <= text[i + 1] <= "\u17a2":
                subs.append(text[i:i + 2])
                i += 2
            elif mark == ROBAT:
                robat.append(mark)
                i += 1
            elif mark in SHIFTERS:
                shifters.append(mark)
                i += 1
            elif mark in VOWELS:
                vowels.append(mark)
                i += 1
            elif mark in SIGNS:
                signs.append(mark)
                i += 1
            else:
                break
        subs.sort(key=lambda s: s[1] == RO)  # stable: subscript RO after the others
        out.extend(robat + subs + shifters + vowels + signs)
    return "".join(out)


def _replace_khmer(text: str) -> str:
    """KHMER_REPLACED applied (pairs first)."""
    for old, new in sorted(KHMER_REPLACED.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(old, new)
    return text


_NOT_WORD = re.compile(r"[^\w\u1780-\u17dd]+")
"""Anything but letters, digits and Khmer (its marks are not \\w to Python's re)."""


def tidy(text: str | None) -> str:
    """What a person wrote, as one writes it when careful: NFC, Khmer in normal order, ASCII digits,
    case folded, accents off Latin letters, punctuation as space, single spaces."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text)).translate(INVISIBLE)
    text = _khmer_syllables(_replace_khmer(text))
    text = ascii_digits(text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFD", text)
                   if not (unicodedata.combining(c) and c < "\u0370"))  # accents of Latin letters only
    text = unicodedata.normalize("NFC", text)
    return " ".join(_NOT_WORD.sub(" ", text).split())


ROMAN_FOLDS: tuple[tuple[str, str], ...] = (
    (r"([a-z])\1+", r"\1"),        # doubled letters: chann, sokk
    (r"chh", "ch"), (r"kh", "k"), (r"ph", "p"), (r"th", "t"), (r"sh", "s"),   # aspiration, written or not
    (r"ck", "k"), (r"c(?!h)", "k"), (r"q", "k"), (r"w", "v"), (r"z", "s"),
    (r"(?:ie|ia|ea)", "ea"),       # srey pheap / pheab, sophia / sophea
    (r"(?:oeu|eu|oe)", "eu"),
    (r"(?:ou|oo|u)", "u"),         # sophoun / sophun
    (r"(?<=[aeiou])y\b", "i"),     # srey / srei, chay / chai
    (r"(?<=[aeiou])b\b", "p"),     # pheab / pheap: a final b is spoken p
)
"""Spellings that romanised Khmer varies between, each folded to one (applied in order, to Latin words)."""

_ROMAN_FOLDS = tuple((re.compile(pattern), new) for pattern, new in ROMAN_FOLDS)
_LATIN_WORD = re.compile(r"\b[a-z]+\b")


def fold_roman(word: str) -> str:
    """One romanised spelling for the variants of a word (ROMAN_FOLDS)."""
    for pattern, new in _ROMAN_FOLDS:
        word = pattern.sub(new, word)
    return word


def key(text: str | None) -> str:
    """The form two writings of one name share: `tidy`, then every Latin word folded (`fold_roman`)."""
    return _LATIN_WORD.sub(lambda m: fold_roman(m.group(0)), tidy(text))
