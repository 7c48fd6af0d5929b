"""Phone numbers read with `phonenumbers`: one normal form (E.164) everywhere."""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_LOOSE_NUMBER = re.compile(r"\+?\d[\d\s().\-]{5,}\d")

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


def numbers_in(text: str | None, country: str = "KH") -> set[str]:
    """Every phone number written anywhere in free text, in E.164 form."""
    found: set[str] = set()
    for match in _LOOSE_NUMBER.finditer(text or ""):
        number = normalise(match.group(0), country)
        if number:
            found.add(number)
    return found
