"""What partners see of a report: the same document for webhooks and the partner API.

It never holds the reporter's number: not as a field, and not inside their own words
(a reporter may type it), where it is replaced (docs/safety.md rule 1).
"""
from __future__ import annotations

from datetime import timezone

from hotline import phones, reports
from hotline.models import Report

def scrub(value, own_number: str | None, country: str):
    """`value` (text, list or mapping) with every written form of `own_number` masked: the same
    finder as the conflict-of-interest rule (phones.find_numbers), so any form one sees, both see."""
    return phones.mask(value, own_number, country)


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
    return {
        "number": report.number,
        "type": report.type,
        "status": report.status,
        "area": area(s, report.area_code),
        "answers": reports.shown_answers(s.vault, report, s.directory.line.country),
        "language": report.language,
        "channel": report.channel,
        "contact_allowed": bool(report.consent),
        "created_at": iso(report.created_at),
        "updated_at": iso(report.updated_at),
    }


def cluster_payload(cluster) -> dict:
    """What an agency sees of one of its clusters (hotline.linking.clusters): the identifier itself (a
    recruiter's number as others gave it, or the name) and its reports' numbers, never a reporter's."""
    return {
        "id": cluster.id,
        "kind": cluster.kind,
        "value": cluster.value,
        "reports": [m.number for m in cluster.reports],
        "first": iso(cluster.reports[0].created_at),
        "last": iso(cluster.newest.created_at),
    }
