"""Menus, questions, words and keywords, loaded from `config/` and validated."""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

from hotline import reporttypes, yamlfile
from hotline.engine.speech import VOICE_TEXTS
from hotline.errors import ConfigError, Problem
from hotline.reporttypes import ReportType, ReportTypes

MAIN_MENU_FIXED = ("recruiter", "missing", "urgent", "check", "tips", "language")
"""Main menu entries 1-6: their numbers and meaning are printed on posters."""

QUESTION_KINDS = ("area", "choice", "text", "phone", "consent")
"""What a question can ask for."""

KEYWORDS = ("STATUS", "OK", "STOP", "START", "HELP")
"""SMS keywords every language must be able to say."""

SAMPLE_VALUES = {"number": "9999999", "emergency": "117, 1288", "minutes": "30", "status": "being followed up",
                 "name": "Safe Village Line", "code": "14010101", "type": "worrying job offer",
                 "place": "Ruessei K'aek, Boeng Preah, Ba Phnum, Prey Veng", "promise": "",
                 "count": "99", "days": "365", "value": "golden star manpower recruitment agenc",
                 "numbers": "9999999 …", "option": "Worrying job offer", "key": "98"}
"""Worst-case values for placeholders, used to render and measure every text (`promise` is measured
with each of the promise_* texts of the language: check.py)."""


@dataclass(frozen=True)
class Question:
    """One question of a report flow."""

    id: str
    kind: str
    prompt: str
    options: tuple[str, ...] = ()
    optional: bool = False


@dataclass(frozen=True)
class Flow:
    """The questions of one report type and the text shown when it is stored."""

    type: str
    questions: tuple[Question, ...]
    done: str
    kind: ReportType = ReportType("")


@dataclass(frozen=True)
class LineInfo:
    """What the directory says about the line itself."""

    name: str
    languages: tuple[str, ...]
    ussd_languages: tuple[str, ...]
    emergency_numbers: tuple[str, ...]
    country: str = "KH"


@dataclass
class DialogueConfig:
    """Everything the engine needs: flows, words in every language, keywords, the line."""

    line: LineInfo
    flows: dict[str, Flow]
    main_menu: tuple[str, ...]
    tips: tuple[str, ...]
    texts: dict[str, dict[str, str]]
    keywords: dict[str, frozenset[str]] = field(default_factory=dict)
    types: ReportTypes = field(default_factory=ReportTypes)
    text_lines: dict[str, dict[str, int]] = field(default_factory=dict)
    _filled: dict[tuple[str, str], str] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Words that take no values of the caller's, filled in once (a screen asks for a dozen)."""

    def text(self, lang: str, key: str, **values: object) -> str:
        """The words for `key` in `lang` (else the default language), filled in."""
        if not values:
            filled = self._filled.get((lang, key))
            if filled is not None:
                return filled
        words = self.texts.get(lang, {}).get(key)
        if words is None:
            words = self.texts[self.line.languages[0]][key]
        own = bool(values)
        values.setdefault("emergency", ", ".join(self.line.emergency_numbers))
        values.setdefault("name", self.line.name)
        filled = words.format(**values)
        if not own:
            self._filled[(lang, key)] = filled
        return filled

    def language_name(self, lang: str) -> str:
        """A language's name in its own words."""
        return self.texts.get(lang, {}).get("_language_name", lang)

    def keyword(self, word: str) -> str | None:
        """The keyword (STATUS, OK, ...) that `word` means in any language, if any."""
        folded = word.casefold()
        for name, forms in self.keywords.items():
            if folded in forms:
                return name
        return None


def load_dialogue(config_dir: str | Path, line: LineInfo) -> DialogueConfig:
    """Load flows.yaml, messages/<lang>.yaml and keywords.yaml; raise ConfigError on any problem."""
    config_dir = Path(config_dir)
    problems: list[Problem] = []
    flows_path = config_dir / reporttypes.FLOWS_FILE
    raw = _load(flows_path, problems)
    texts = {lang: _load_texts(config_dir / "messages" / f"{lang}.yaml", problems) for lang in line.languages}
    keywords = _load_keywords(config_dir / "keywords.yaml", line.languages, problems)
    if not isinstance(raw, dict):
        if raw is not None:
            problems.append(Problem(str(flows_path), 1, "must be a mapping with main_menu, reports and tips"))
        raise ConfigError(problems)
    types = reporttypes.from_flows(raw, str(flows_path), problems)
    flows, used_keys = _parse_flows(raw, str(flows_path), types, problems)
    main_menu = tuple(raw.get("main_menu") or ())
    if main_menu[:6] != MAIN_MENU_FIXED:
        problems.append(Problem(str(flows_path), raw.line_of("main_menu"),
                                f"main_menu must start with {', '.join(MAIN_MENU_FIXED)} (numbers 1-6 are fixed)"))
    for entry in main_menu[6:]:
        if entry not in flows or flows[entry].kind.free_text:
            problems.append(Problem(str(flows_path), raw.line_of("main_menu"), f"main_menu entry {entry!r} is no report type with questions"))
    for entry in MAIN_MENU_FIXED[:3]:
        if entry not in flows:
            problems.append(Problem(str(flows_path), raw.line_of("reports"), f"report type {entry!r} is missing"))
    for type_ in types:
        if type_ not in main_menu and not types[type_].free_text:
            problems.append(Problem(str(flows_path), raw.line_of("main_menu"),
                                    f"report type {type_!r} is not on main_menu, so no one could make one"))
    tips = tuple(raw.get("tips") or ())
    if not tips:
        problems.append(Problem(str(flows_path), raw.line, "tips: at least one tip is needed"))
    used_keys |= set(tips) | {f"menu_{m}" for m in main_menu} | {f"alert_type_{t}" for t in types}
    for lang, words in texts.items():
        path = str(config_dir / "messages" / f"{lang}.yaml")
        for key in sorted(used_keys | REQUIRED_TEXTS):
            if words is not None and key not in words:
                problems.append(Problem(path, None, f"missing text {key!r}"))
        for key, value in (words or {}).items():
            problem = _placeholder_problem(value)
            if problem:
                problems.append(Problem(path, words.line_of(key), f"{key}: {problem}"))
    if problems:
        raise ConfigError(problems)
    return DialogueConfig(line, flows, main_menu, tips, {k: dict(v) for k, v in texts.items()}, keywords,
                          text_lines={k: dict(v.key_lines) for k, v in texts.items()}, types=types)


REQUIRED_TEXTS = frozenset({
    "_language_name", "nav_back", "nav_menu", "nav_more", "nav_skip", "nav_dont_know",
    "err_choice", "err_phone", "err_number_checkdigit", "err_number_unknown",
    "area_province", "area_district", "area_commune", "area_village", "area_code_hint",
    "consent_yes", "consent_no", "check_prompt", "status_line",
    "status_new", "status_acknowledged", "status_in_progress", "status_referred", "status_closed",
    "tip_next", "language_prompt", "resume_prompt", "resume_continue", "resume_restart", "expired",
    "unsorted_saved", "unsorted_added", "help", "stop_done", "start_done", "status_usage",
    "ok_done", "ok_unknown", "ok_not_contact", "ok_usage", "ok_already", "rate_limited",
    "sms_menu_hint", "alert_new", "alert_escalated", "alert_located", "alert_reporter_seen", "alert_cluster", "place_unknown",
    "promise_leader", "promise_agency", "promise_staff", "sms_delete_hint",
}) | VOICE_TEXTS
"""Texts the engine itself uses, beyond those the flows name."""


def _load(path: Path, problems: list[Problem]) -> object:
    """Parse a YAML file, adding its problem instead of raising."""
    try:
        return yamlfile.load(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def _load_texts(path: Path, problems: list[Problem]) -> yamlfile.LineDict | None:
    """One language's words: a flat mapping of key to text."""
    raw = _load(path, problems)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), 1, "must be a mapping of text keys to words"))
        return None
    for key, line in raw.duplicates:
        problems.append(Problem(str(path), line, f"{key!r} is defined twice"))
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(str(path), raw.line_of(key), f"{key}: must be non-empty text"))
    return raw


def _load_keywords(path: Path, languages: tuple[str, ...], problems: list[Problem]) -> dict[str, frozenset[str]]:
    """Keyword forms by keyword, every language's forms together, case-folded."""
    raw = _load(path, problems)
    if not isinstance(raw, dict):
        if raw is not None:
            problems.append(Problem(str(path), 1, "must map each keyword to its forms by language"))
        return {}
    result: dict[str, frozenset[str]] = {}
    seen: dict[str, str] = {}
    for name in KEYWORDS:
        forms = raw.get(name)
        if not isinstance(forms, dict):
            problems.append(Problem(str(path), raw.line, f"keyword {name} is missing (a mapping of language to forms)"))
            continue
        collected = {name.casefold()}
        for lang, words in forms.items():
            if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() and " " not in w.strip() for w in words):
                problems.append(Problem(str(path), forms.line_of(lang), f"{name}.{lang}: must be a list of single words"))
                continue
            collected |= {w.strip().casefold() for w in words}
        for form in collected:
            if seen.get(form, name) != name:
                problems.append(Problem(str(path), raw.line_of(name), f"{form!r} means both {seen[form]} and {name}"))
            seen[form] = name
        result[name] = frozenset(collected)
    return result


def _parse_flows(raw: yamlfile.LineDict, path: str, types: ReportTypes,
                 problems: list[Problem]) -> tuple[dict[str, Flow], set[str]]:
    """Report flows from flows.yaml's `reports` (the types `reporttypes` read there), and every text key they use."""
    flows: dict[str, Flow] = {}
    used: set[str] = set()
    reports = raw.get("reports")
    if not isinstance(reports, dict):
        return flows, used  # reporttypes said so
    for type_, spec in reports.items():
        line = reports.line_of(type_)
        if type_ not in types:
            continue  # reporttypes said why
        questions_ok = isinstance(spec.get("questions", [] if types[type_].free_text else None), list)
        if not questions_ok or not spec.get("done"):
            problems.append(Problem(path, line, f"reports.{type_}: needs questions (a list) and done (a text key)"))
            continue
        questions = []
        seen_ids: set[str] = set()
        for q in spec.get("questions") or ():
            qline = getattr(q, "line", line)
            if not isinstance(q, dict) or not q.get("id") or not q.get("prompt"):
                problems.append(Problem(path, qline, f"reports.{type_}: each question needs id and prompt"))
                continue
            kind = q.get("kind")
            if kind not in QUESTION_KINDS:
                problems.append(Problem(path, qline, f"question {q['id']}: kind must be one of {', '.join(QUESTION_KINDS)}"))
                continue
            options = tuple(q.get("options") or ())
            if kind == "choice" and not options:
                problems.append(Problem(path, qline, f"question {q['id']}: a choice needs options"))
            if len(options) > 97:
                problems.append(Problem(path, qline, f"question {q['id']}: at most 97 options (98 and 99 are taken)"))
            if q["id"] in seen_ids:
                problems.append(Problem(path, qline, f"question {q['id']} appears twice in {type_}"))
            seen_ids.add(q["id"])
            questions.append(Question(q["id"], kind, q["prompt"], options, bool(q.get("optional", False))))
            used |= {q["prompt"], *options}
        if types[type_].free_text and questions:
            problems.append(Problem(path, line, f"reports.{type_}: a free_text type asks no questions"))
        used.add(spec["done"])
        flows[type_] = Flow(type_, tuple(questions), spec["done"], types[type_])
    return flows, used


def _placeholder_problem(text: str) -> str | None:
    """Why a text's {placeholders} cannot be filled in, or None."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        return f"broken placeholder ({exc})"
    unknown = [n for n in names if n not in SAMPLE_VALUES]
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}; known: {', '.join(sorted(SAMPLE_VALUES))}"
    return None
