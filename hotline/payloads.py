"""What partners see of a report: the same document for webhooks and the partner API.

It never holds the reporter's number: not as a field, and not inside their own words
(a reporter may type it), where it is replaced (PRODUCT.md safety rule 1).
"""
from __future__ import annotations

import re

from hotline import phones
from hotline.models import Report

REDACTED = "[reporter's number]"
_NUMBERISH = re.compile(r"\+?\d[\d\s().\-]{5,}\d")


def scrub(value, own_number: str | None, country: str):
    """`value` (text, list or mapping) with every written form of `own_number` replaced."""
    if own_number is None:
        return value
    if isinstance(value, str):
        return _NUMBERISH.sub(lambda m: REDACTED if phones.normalise(m.group(0), country) == own_number else m.group(0), value)
    if isinstance(value, list):
        return [scrub(v, own_number, country) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, own_number, country) for k, v in value.items()}
    return value


def area(s, code: str | None) -> dict | None:
    """An area with its code and the names of its whole path, in English and Khmer."""
    if not code or code not in s.directory.gazetteer:
        return None
    path = s.directory.gazetteer.path(code)
    return {"code": code, "level": path[-1].level,
            "path": [{"code": a.code, "level": a.level, "name_en": a.name_en, "name_km": a.name_km} for a in path]}


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
        "created_at": report.created_at.isoformat() if report.created_at else None,
        "updated_at": report.updated_at.isoformat() if report.updated_at else None,
    }
