"""Phone numbers read with `phonenumbers`: one normal form (E.164) everywhere."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

_E164_SHAPE = re.compile(r"\+[1-9][0-9]{1,16}")
"""A number written the way providers send it: '+', the country code and the national number."""


@lru_cache(maxsize=None)
def _plain(code: int) -> bool:
    """Whether parsing an international number of this country code only splits it: no national
    prefix other than a leading 0 is stripped and no digits are rewritten, in any of its regions.
    Asked per code when first seen: phonenumbers loads a region's metadata on first use, and
    loading every region's at import cost each process about 50 ms at start."""
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]:
        meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        if meta is None or meta.national_prefix_for_parsing not in (None, "0") \
                or meta.national_prefix_transform_rule is not None:
            return False
    return True


_UNSURE = object()


def _already_e164(text: str):
    """For '+' and digits of a plain country code with no leading 0 after it: the number itself
    when it is possible, else None, without the full parse (about 5 µs against 29). _UNSURE for
    anything else; a property test checks both ways agree."""
    if not _E164_SHAPE.fullmatch(text):
        return _UNSURE
    digits = text[1:]
    for size in (1, 2, 3):  # country codes are 1-3 digits and none is a prefix of another
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            if not national or national[0] == "0" or not _plain(code):
                return _UNSURE
            number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
            return text if phonenumbers.is_possible_number(number) else None
    return _UNSURE


@lru_cache(maxsize=16384)
def normalise(raw: str | None, country: str = "KH") -> str | None:
    """E.164 form of a phone number, or None when `raw` is not a possible number.

    Remembered: the steps of one USSD session, and a contact's messages, repeat the same number."""
    if not raw or len(raw) > 40:
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    fast = _already_e164(text)
    if fast is not _UNSURE:
        return fast
    return _parse(text, country)


def _parse(text: str, country: str) -> str | None:
    """normalise() by phonenumbers' full parse."""
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


MASK = "[reporter's number]"
"""What a reporter's own number becomes wherever they typed it (stored words, payloads, screens)."""

_DIGIT_GROUP = re.compile(r"\+?\d+")
"""A group of digits (after any '+') inside a run of digits and separators."""

_RUN = re.compile(r"\+?\d(?:[\s().\-/]{0,3}\d)*")
"""Digits with short separators between them: spaces, dots, dashes, slashes, brackets."""

MAX_NUMBER_DIGITS = 17
"""The most digits a written number can have: 15 of E.164 after an international prefix of 2."""


@dataclass(frozen=True)
class Found:
    """A phone number written in a text: where it is (`start`, `end`) and what it is (E.164)."""

    start: int
    end: int
    number: str


def ascii_digits(text: str) -> str:
    """`text` with every decimal digit (Khmer ០-៩, Arabic-Indic, ...) written as its ASCII digit;
    each character stays one character, so positions in the result are positions in `text`."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if not c.isascii() and unicodedata.decimal(c, None) is not None
                   else c for c in text)


def find_numbers(text: str | None, country: str = "KH") -> list[Found]:
    """Every phone number written in `text`, in any digits (Khmer or ASCII) and with any spacing,
    dots, dashes or brackets, after '+855', '855', '00855', '0', or the '0855' slip. Where digit
    groups could be read as one number or several, each reading is found (overlapping): the one
    function that both the conflict-of-interest rule and the masking of reporters' numbers use."""
    if not text:
        return []
    plain = ascii_digits(text)
    found: list[Found] = []
    for run in _RUN.finditer(plain):
        groups = list(_DIGIT_GROUP.finditer(run.group(0)))
        if sum(len(g.group(0).lstrip("+")) for g in groups) < 6:
            continue
        for i, first in enumerate(groups):
            digits = ""
            for last in groups[i:]:
                if digits and last.group(0).startswith("+"):
                    break  # a '+' starts another number
                digits += last.group(0)
                if len(digits.lstrip("+")) > MAX_NUMBER_DIGITS:
                    break
                number = _read(digits, country)
                if number:
                    found.append(Found(run.start() + first.start(), run.start() + last.end(), number))
    return found


def _read(digits: str, country: str) -> str | None:
    """The number a run of digits (maybe after '+') makes, if it is a possible one."""
    if len(digits.lstrip("+")) < 6:
        return None
    if digits.startswith("0") and not digits.startswith("00"):
        code = str(phonenumbers.country_code_for_region(country))
        if digits[1:].startswith(code) and len(digits) - 1 - len(code) >= 8:
            return normalise("+" + digits[1:], country)  # '0855 12 345 678': a trunk 0 before the country code
    return normalise(digits, country)


@lru_cache(maxsize=16384)
def is_valid(e164: str) -> bool:
    """True when an E.164 number is in a range a country gives out (phonenumbers' metadata), not only
    of a possible length: '012 777' may be possible somewhere, but names nobody's phone."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return False


def named_numbers(text: str | None, country: str = "KH") -> list[Found]:
    """The numbers a text names, each read once, in order: of find_numbers' overlapping readings, the
    valid ones (`is_valid`), the longest first and none overlapping one kept before. Linking reports
    reads this (a wrong reading would link strangers); masking keeps every reading of `find_numbers`
    (a doubtful reading masked costs nothing)."""
    kept: list[Found] = []
    for found in sorted((f for f in find_numbers(text, country) if is_valid(f.number)),
                        key=lambda f: (f.start - f.end, f.start)):
        if all(found.end <= k.start or found.start >= k.end for k in kept):
            kept.append(found)
    return sorted(kept, key=lambda f: f.start)


def numbers_in(text: str | None, country: str = "KH") -> set[str]:
    """Every phone number written anywhere in free text, in E.164 form."""
    return {f.number for f in find_numbers(text, country)}


def mask(value, number: str | None, country: str = "KH"):
    """`value` (text, list or mapping, nested) with every written form of `number` replaced by MASK."""
    if not number:
        return value
    if isinstance(value, str):
        spans = sorted((f.start, f.end) for f in find_numbers(value, country) if f.number == number)
        if not spans:
            return value
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out, at = [], 0
        for start, end in merged:
            out += [value[at:start], MASK]
            at = end
        return "".join(out) + value[at:]
    if isinstance(value, list):
        return [mask(v, number, country) for v in value]
    if isinstance(value, dict):
        return {k: mask(v, number, country) for k, v in value.items()}
    return value
