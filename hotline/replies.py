"""Prepared replies: neutral SMS a caseworker sends a reporter from a report's page in one step.

They live in `config/replies.yaml`, beside the line's other words, because they are words the
operator edits and the line speaks: one file per deployment, under version control, reviewed like
the menus, loaded again within seconds of a change, and measured by `python -m hotline check` (each
must fit REPLY_PARTS SMS parts in every language, with the longest values of its placeholders), so a
reply that does not fit is an error before anyone can send it. A database table would need its own
editor and would escape the check.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hotline import yamlfile
from hotline.engine.config import SAMPLE_VALUES, LineInfo
from hotline.errors import ConfigError, Problem
from hotline.smsbudget import fits_sms, sms_cost

FILE = "replies.yaml"
"""The file in the configuration folder (optional: without it, the console offers none)."""

REPLY_PARTS = 3
"""A reply fits in this many SMS parts (as every message to a reporter: casework.message_reporter)."""

PLACEHOLDERS = frozenset({"number", "emergency"})
"""What a reply may name: the report's number, the line's emergency numbers."""


@dataclass(frozen=True)
class Reply:
    """One prepared reply: its id and its words in every language of the line."""

    id: str
    texts: dict[str, str]
    line: int = 0

    def text(self, lang: str, line: LineInfo, number: str) -> str:
        """The reply in `lang` (else the line's first language), filled in for a report."""
        words = self.texts.get(lang) or self.texts[line.languages[0]]
        return words.format(number=number, emergency=", ".join(line.emergency_numbers))


def load(config_dir: str | Path, line: LineInfo) -> dict[str, Reply]:
    """Every reply of `config_dir/replies.yaml` by id; ConfigError listing every problem."""
    path = Path(config_dir) / FILE
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    return _load(str(path), stat.st_mtime_ns, stat.st_size, line)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int, line: LineInfo) -> dict[str, Reply]:
    """Load and check (once per version of the file) the replies."""
    raw = yamlfile.load(path)
    problems: list[Problem] = []
    section = raw.get("replies") if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise ConfigError([Problem(path, getattr(raw, "line", 1), "replies: must map each reply's id to its words")])
    found: dict[str, Reply] = {}
    for reply_id, texts in section.items():
        at = section.line_of(reply_id)
        if not isinstance(texts, dict) or not all(isinstance(t, str) and t.strip() for t in texts.values()):
            problems.append(Problem(path, at, f"reply {reply_id}: must map each language to its words"))
            continue
        for lang in line.languages:
            if lang not in texts:
                problems.append(Problem(path, at, f"reply {reply_id}: no words in {lang}"))
        for lang, words in texts.items():
            problems.extend(_text_problems(path, texts.line_of(lang), str(reply_id), lang, words, line))
        found[str(reply_id)] = Reply(str(reply_id), {str(k): str(v).strip() for k, v in texts.items()}, at)
    if problems:
        raise ConfigError(problems)
    return found


def _text_problems(path: str, at: int, reply_id: str, lang: str, words: str, line: LineInfo) -> list[Problem]:
    """What is wrong with one reply in one language: unknown placeholders, or too long for REPLY_PARTS SMS."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(words) if name is not None}
    except ValueError:
        return [Problem(path, at, f"reply {reply_id} ({lang}): a lone {{ or }}")]
    unknown = names - PLACEHOLDERS
    if unknown:
        return [Problem(path, at, f"reply {reply_id} ({lang}): unknown placeholder(s) {', '.join(sorted(unknown))} "
                                  f"(known: {', '.join(sorted(PLACEHOLDERS))})")]
    filled = words.strip().format(number=SAMPLE_VALUES["number"], emergency=", ".join(line.emergency_numbers))
    if not fits_sms(filled, REPLY_PARTS):
        cost = sms_cost(filled)
        return [Problem(path, at, f"reply {reply_id} ({lang}) does not fit {REPLY_PARTS} SMS parts "
                                  f"({cost.units} {cost.encoding} units, {cost.parts} parts): {filled[:60]!r}…")]
    return []


def problems(config_dir: str | Path, line: LineInfo) -> list[Problem]:
    """The check's view: every problem of the replies file (none when it is fine or absent)."""
    try:
        load(config_dir, line)
    except ConfigError as exc:
        return exc.problems
    return []
