"""Report numbers: 7 digits, the last a Damm check digit, so any single mistyped
digit and any swap of two neighbouring digits is caught."""
from __future__ import annotations

import re
import secrets

LENGTH = 7
"""Digits in a report number, check digit included."""

# Damm's totally anti-symmetric quasigroup of order 10.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def generate() -> str:
    """A new random report number (first digit never 0, so it is never misread)."""
    body = str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(LENGTH - 2))
    return body + check_digit(body)


def clean(typed: str) -> str:
    """Digits of a typed number, with spaces, dashes and a leading # removed."""
    return re.sub(r"[\s\-#.]", "", typed or "")


def is_valid(typed: str) -> bool:
    """True if `typed` is a well-formed report number with a correct check digit."""
    digits = clean(typed)
    return len(digits) == LENGTH and digits.isascii() and digits.isdigit() and check_digit(digits) == "0"
