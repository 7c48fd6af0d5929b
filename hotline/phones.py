"""Phone numbers read with `phonenumbers`: one normal form (E.164) everywhere."""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_LOOSE_NUMBER = re.compile(r"\+?\d[\d\s().\-]{5,}\d")


@lru_cache(maxsize=16384)
def normalise(raw: str | None, country: str = "KH") -> str | None:
    """E.164 form of a phone number, or None when `raw` is not a possible number.

    Remembered: the steps of one USSD session, and a contact's messages, repeat the same number."""
    if not raw or len(raw) > 40:
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def numbers_in(text: str | None, country: str = "KH") -> set[str]:
    """Every phone number written anywhere in free text, in E.164 form."""
    found: set[str] = set()
    for match in _LOOSE_NUMBER.finditer(text or ""):
        number = normalise(match.group(0), country)
        if number:
            found.add(number)
    return found
