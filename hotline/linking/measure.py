"""How well the suggestions' scorers and thresholds (hotline.linking.suggest) tell the same recruiter from
another, on the labelled pairs of tests/data/link-pairs.csv (agency names and descriptions written as
reporters write them: typos, spacing, case, romanised Khmer variants, Khmer script; and different
agencies and recruiters that look alike).

    .venv/bin/python -m hotline.linking.measure [PATH]

prints, for each kind, precision and recall at each threshold, and at the one in use.
"""
from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from hotline.linking import identifiers, suggest

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "link-pairs.csv"
"""The labelled pairs: kind, a, b, same (1 or 0)."""


@dataclass(frozen=True)
class Figures:
    """Precision and recall of one threshold over a kind's pairs."""

    threshold: float
    precision: float
    recall: float
    pairs: int
    same: int


def load(path: Path = SAMPLE) -> list[tuple[str, str, str, bool]]:
    """(kind, a, b, same) of every labelled pair."""
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["kind"], row["a"], row["b"], row["same"] == "1") for row in csv.DictReader(f)]


def key(kind: str, text: str) -> str:
    """What the line compares for `text`: a name's key, or a description's."""
    return identifiers.name_key(text) if kind == "name" else identifiers.description([text]) or ""


def scored(pairs, kind: str, scorer=None) -> list[tuple[float, bool]]:
    """(score, same) of every pair of one kind, by the line's scorer for it (or another)."""
    scoring = next(s for s in suggest.SCORINGS if s.kind == kind)
    scorer = scorer or scoring.scorer
    return [(float(scorer(key(k, a), key(k, b))), same) for k, a, b, same in pairs if k == kind]


def figures(scores: list[tuple[float, bool]], threshold: float) -> Figures:
    """Precision (suggested pairs that are the same) and recall (same pairs suggested) at a threshold."""
    suggested = [same for value, same in scores if value >= threshold]
    same = sum(1 for _, s in scores if s)
    hits = sum(suggested)
    return Figures(threshold, hits / len(suggested) if suggested else 1.0, hits / same if same else 1.0,
                   len(scores), same)


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    path = Path(argv[0]) if argv else SAMPLE
    pairs = load(path)
    for scoring in suggest.SCORINGS:
        scores = scored(pairs, scoring.kind)
        chosen = figures(scores, scoring.threshold)
        print(f"{scoring.kind}: {chosen.pairs} pairs ({chosen.same} the same), {scoring.scorer.__name__}")
        for threshold in range(50, 101, 5):
            f = figures(scores, threshold)
            print(f"  >= {threshold:3}: precision {f.precision:.2f}  recall {f.recall:.2f}")
        print(f"  in use, >= {scoring.threshold:g}: precision {chosen.precision:.2f}  recall {chosen.recall:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
