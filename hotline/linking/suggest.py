"""Suggested links: reports whose agency names or descriptions are alike, scored with rapidfuzz, for a
caseworker to confirm or reject (never confirmed by themselves: names and words are weak evidence).

The scorers and thresholds were chosen on the labelled pairs of `tests/data/link-pairs.csv`
(`python -m hotline.linking.measure` prints precision and recall at each threshold; the README gives
the figures). A rejected or confirmed suggestion is never suggested again.
"""
from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.linking import index
from hotline.models import Identifier, Report, ReportIdentifier, ReportLink


@dataclass(frozen=True)
class Scoring:
    """How one kind of identifier is compared: rapidfuzz's scorer and the least score that suggests a link."""

    kind: str
    scorer: object
    threshold: float


SCORINGS = (
    Scoring("name", fuzz.WRatio, 78.0),
    Scoring("description", fuzz.token_set_ratio, 76.0),
)
"""Names: rapidfuzz's weighted ratio (edit similarity, with a short name found inside a longer one, and
words in any order). Descriptions: token-set similarity (the shared words, whatever else each says).
Each scorer and threshold had the best balance of precision and recall on the labelled pairs, among
rapidfuzz's ratio, QRatio, partial_ratio, token_sort_ratio, token_set_ratio and WRatio."""

MATCHES = 50
"""The most alike identifiers taken for each of a report's own."""

REPORTS_PER_MATCH = 200
"""The most reports suggested through one alike identifier (the newest)."""


def score(kind: str, a: str, b: str) -> float:
    """The similarity of two key forms of one kind, 0-100."""
    scoring = next(s for s in SCORINGS if s.kind == kind)
    return float(scoring.scorer(a, b))


def matches(session: Session, scoring: Scoring, texts: list[str]) -> dict[int, float]:
    """Identifiers of the scoring's kind alike enough to any of `texts`: their ids and best scores."""
    choices = dict(session.execute(select(Identifier.id, Identifier.text).where(Identifier.kind == scoring.kind)).all())
    return best_matches(scoring, texts, choices)


def best_matches(scoring: Scoring, texts: list[str], choices: dict[int, str]) -> dict[int, float]:
    """`matches` over choices in memory (the part that grows with the stored reports: bench/linking.py)."""
    found: dict[int, float] = {}
    for text in texts:
        for _, value, identifier_id in process.extract(text, choices, scorer=scoring.scorer,
                                                       score_cutoff=scoring.threshold, limit=MATCHES):
            found[identifier_id] = max(found.get(identifier_id, 0.0), value)
    return found


def suggest(session: Session, report: Report) -> int:
    """Store a suggestion (once) for each report alike to this one by name or description, unless they are
    already linked by a number or merged; how many are new."""
    mine = session.execute(select(Identifier.kind, Identifier.text)
                           .join(ReportIdentifier, ReportIdentifier.identifier_id == Identifier.id)
                           .where(ReportIdentifier.report_id == report.id, Identifier.text.is_not(None))).all()
    linked = index.phone_linked(session, report.id) | index.duplicates_of(session, report) | {report.id}
    new = 0
    for scoring in SCORINGS:
        texts = [text for kind, text in mine if kind == scoring.kind]
        if not texts:
            continue
        alike = matches(session, scoring, texts)
        if not alike:
            continue
        best: dict[int, float] = {}
        for identifier_id, value in alike.items():
            others = session.scalars(select(ReportIdentifier.report_id)
                                     .where(ReportIdentifier.identifier_id == identifier_id)
                                     .order_by(ReportIdentifier.report_id.desc()).limit(REPORTS_PER_MATCH))
            for other in others:
                if other not in linked:
                    best[other] = max(best.get(other, 0.0), value)
        for other, value in best.items():
            new += _remember(session, report.id, other, scoring.kind, round(value))
    return new


def _remember(session: Session, a: int, b: int, by: str, value: int) -> int:
    """A suggestion between two reports, once; a pending one takes the newest score. 1 if it is new."""
    low, high = min(a, b), max(a, b)
    row = session.scalar(select(ReportLink).where(ReportLink.report_id == low, ReportLink.other_id == high,
                                                  ReportLink.by == by))
    if row is None:
        session.add(ReportLink(report_id=low, other_id=high, by=by, score=value, state="suggested"))
        return 1
    if row.state == "suggested":
        row.score = value
    return 0
