"""The directory's health, read-only, without reading YAML: every contact and what it covers (area
names, report types), where some type of report reaches nobody, and which secrets or settings the
agencies' deliveries lack. The same facts as `python -m hotline check`, from the same functions
(`directory.gaps`, `check.missing_settings`), in the reader's language. Line staff only: the
directory is the line's, and agencies' people see only their own reports."""
from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user, login_required

from hotline import check, directory
from hotline.console import query as args
from hotline.console.auth import services
from hotline.console.views import bp, words

CONTACTS_PER_PAGE = 100
"""Contacts on one page (a national directory has tens of thousands)."""

GAPS_SHOWN = 60
"""Places listed per report type where it reaches nobody (the rest are counted)."""


def _contact_row(contact, w) -> dict:
    """One contact as the page shows it: who, how it is alerted, where and what it covers."""
    means = (["sms"] if contact.phone else []) + (["webhook"] if contact.webhook else []) + \
        (["email"] if contact.email else [])
    return {"id": contact.id, "name": contact.name, "kind": contact.kind, "language": w.language(contact.language),
            "means": [w.means(m) for m in means], "api": bool(contact.api_token_env),
            "areas": [w.place(code) for code in contact.areas],
            "types": [w.type(t) for t in services().directory.types if t in contact.reports]}


def _gaps(d, w) -> list[dict]:
    """Where each type of report reaches nobody, type by type, in words."""
    by_type: dict[str, list] = {}
    for gap in directory.gaps(d):
        by_type.setdefault(gap.type, []).append(gap)
    return [{"type": w.type(t), "count": len(found),
             "places": [(w.place(g.area), g.whole, w.area_level(d.gazetteer.get(g.area).level)) for g in found[:GAPS_SHOWN]]}
            for t, found in by_type.items()]


@bp.get("/directory")
@login_required
def directory_health():
    """The directory, its gaps and its missing settings, read-only."""
    if current_user.agency_id is not None:
        abort(403)
    s, w = services(), words()
    d = s.directory
    page = args.page()
    shown = d.contacts[(page - 1) * CONTACTS_PER_PAGE:page * CONTACTS_PER_PAGE]
    missing = [{"contact": (d.contact(m.contact).name if d.contact(m.contact) else m.contact), "means": m.means,
                "variable": m.variable} for m in check.missing_settings(d, s.settings)]
    return render_template("console/directory.html", line=d.line, contacts=[_contact_row(c, w) for c in shown],
                           total=len(d.contacts), page=page, pages=max(1, -(-len(d.contacts) // CONTACTS_PER_PAGE)),
                           gaps=_gaps(d, w), missing=missing, problems=s.config_problems,
                           languages=[w.language(lang) for lang in d.line.languages])
