"""How much of a channel a text costs: GSM-7 or UCS-2 units, SMS parts, USSD pages.

See docs/channels.md ("SMS encoding budgets").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet: one septet each."""

GSM7_EXTENSION = set("^{}\\[~]|€\f")
"""Characters reached through the escape: two septets each."""

SMS_SINGLE = {"gsm7": 160, "ucs2": 70}
SMS_PART = {"gsm7": 153, "ucs2": 67}
USSD_PAGE = {"gsm7": 182, "ucs2": 80}
"""Units in one SMS, one part of a long SMS, and one USSD page (prefix included)."""

SMS_MAX_PARTS = 3
"""No reply of the line may take more SMS parts than this."""


@dataclass(frozen=True)
class Cost:
    """The cost of a text: its encoding, units and SMS parts."""

    encoding: str
    units: int
    parts: int


_NOT_GSM7 = re.compile("[^" + re.escape("".join(sorted(GSM7_BASIC | GSM7_EXTENSION))) + "]")
_GSM7_EXTENSION = re.compile("[" + re.escape("".join(sorted(GSM7_EXTENSION))) + "]")
"""The same alphabets as patterns: the engine measures every screen it shows, so this runs in C."""


def encoding(text: str) -> str:
    """'gsm7' if every character is in the GSM-7 alphabet, else 'ucs2'."""
    return "ucs2" if _NOT_GSM7.search(text) else "gsm7"


def units(text: str, enc: str | None = None) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    enc = enc or encoding(text)
    if enc == "gsm7":
        return len(text) + len(_GSM7_EXTENSION.findall(text))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2  # a lone surrogate is one unit, not a crash


def sms_cost(text: str) -> Cost:
    """Encoding, units and number of SMS parts of `text`."""
    enc = encoding(text)
    n = units(text, enc)
    parts = 1 if n <= SMS_SINGLE[enc] else -(-n // SMS_PART[enc])
    return Cost(enc, n, parts)


def fits_sms(text: str, max_parts: int = SMS_MAX_PARTS) -> bool:
    """True if `text` goes out in at most `max_parts` SMS parts."""
    return sms_cost(text).parts <= max_parts


def fits_ussd(text: str) -> bool:
    """True if a whole USSD answer (with its CON/END prefix) fits one screen."""
    enc = encoding(text)
    return units(text, enc) <= USSD_PAGE[enc]


def fits(text: str, channel: str, max_parts: int = SMS_MAX_PARTS) -> bool:
    """True if `text` fits `channel` ('ussd' or 'sms')."""
    return fits_ussd(text) if channel == "ussd" else fits_sms(text, max_parts)
