"""What partners see of a report: the same document for webhooks and the partner API.

It never holds the reporter's number: not as a field, and not inside their own words
(a reporter may type it), where it is replaced (PRODUCT.md safety rule 1).
"""
from __future__ import annotations

import re
from datetime import timezone

import phonenumbers

from hotline.models import Report

REDACTED = "[reporter's number]"
_SEP = r"[\s().\-]*"


def _own_number_pattern(own_number: str, country: str) -> re.Pattern | None:
    """Every written form of one number: its national digits with any separators between them,
    after an optional 0, country code or +country code, not inside a longer run of digits."""
    try:
        parsed = phonenumbers.parse(own_number, country)
    except phonenumbers.NumberParseException:
        return None
    digits = str(parsed.national_number)
    prefix = rf"(?:(?:\+|00)?{_SEP}{parsed.country_code}{_SEP}(?:\(?0\)?{_SEP})?|0{_SEP})?"
    return re.compile(r"(?<!\d)" + prefix + _SEP.join(digits) + r"(?!\d)")


def scrub(value, own_number: str | None, country: str):
    """`value` (text, list or mapping) with every written form of `own_number` replaced."""
    if own_number is None:
        return value
    pattern = _own_number_pattern(own_number, country)
    return _scrub(value, pattern) if pattern else value


def _scrub(value, pattern: re.Pattern):
    """Replace the pattern in every string inside `value`."""
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, pattern) for k, v in value.items()}
    return value


def area(s, code: str | None) -> dict | None:
    """An area with its code and the names of its whole path, in English and Khmer."""
    if not code or code not in s.directory.gazetteer:
        return None
    path = s.directory.gazetteer.path(code)
    return {"code": code, "level": path[-1].level,
            "path": [{"code": a.code, "level": a.level, "name_en": a.name_en, "name_km": a.name_km} for a in path]}


def iso(moment) -> str | None:
    """ISO 8601 in UTC with its offset (naive database times are UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def report_payload(s, report: Report) -> dict:
    """The partner view of a report (no reporter number anywhere)."""
    own = s.vault.decrypt(report.reporter_phone) if report.reporter_phone is not None else None
    return {
        "number": report.number,
        "type": report.type,
        "status": report.status,
        "area": area(s, report.area_code),
        "answers": scrub(dict(report.answers or {}), own, s.directory.line.country),
        "language": report.language,
        "channel": report.channel,
        "contact_allowed": bool(report.consent),
        "created_at": iso(report.created_at),
        "updated_at": iso(report.updated_at),
    }
