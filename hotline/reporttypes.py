"""The types of report, as `config/flows.yaml` declares them: the one list every part of the line reads.

A type is added by adding it to flows.yaml (and its words to every messages file): the
directory, routing, the queues, the console, the partner API and the check all follow.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hotline import yamlfile
from hotline.errors import ConfigError, Problem

FLOWS_FILE = "flows.yaml"
"""The file in the configuration folder that declares report types and their questions."""

DEFAULT_ESCALATION_SECONDS = 86400
"""The escalation window of a type that names none."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
"""A type's name: stored in a 20-character column and used in URLs and text keys."""

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class ReportType:
    """One type of report: how urgent it is, how long before an unanswered alert climbs a level,
    whether it is stored the moment it is chosen, and whether it holds free words."""

    name: str
    urgent: bool = False
    escalation: int = DEFAULT_ESCALATION_SECONDS
    store_first: bool = False
    free_text: bool = False


class ReportTypes(dict):
    """Every type by name, in the order flows.yaml gives them."""

    def is_urgent(self, name: str) -> bool:
        """True for a type whose work goes on the urgent queue, ahead of everything else."""
        found = self.get(name)
        return bool(found and found.urgent)

    @property
    def free_text(self) -> str:
        """The type an SMS of free words becomes (the first type marked free_text)."""
        return next(t.name for t in self.values() if t.free_text)

    def escalation(self, name: str) -> int:
        """The type's default escalation window in seconds."""
        found = self.get(name)
        return found.escalation if found else DEFAULT_ESCALATION_SECONDS


def parse_duration(text: object) -> int | None:
    """Seconds in a duration like '10m', '2h' or '1d'; None if it is not one."""
    match = _DURATION.match(str(text)) if isinstance(text, (str, int)) else None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


def from_flows(raw: object, path: str, problems: list[Problem]) -> ReportTypes:
    """The types declared under `reports:` of a parsed flows.yaml, adding a problem for each mistake."""
    types = ReportTypes()
    reports = raw.get("reports") if isinstance(raw, dict) else None
    if not isinstance(reports, dict):
        problems.append(Problem(path, getattr(raw, "line", 1), "reports: must map each report type to its questions"))
        return types
    for name, spec in reports.items():
        line = reports.line_of(name)
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(Problem(path, line, f"report type {name!r}: a name of lower-case letters, digits and _ "
                                                "(at most 20), starting with a letter"))
            continue
        if not isinstance(spec, dict):
            problems.append(Problem(path, line, f"reports.{name}: must be a mapping"))
            continue
        flags = {}
        for flag in ("urgent", "store_first", "free_text"):
            value = spec.get(flag, False)
            if not isinstance(value, bool):
                problems.append(Problem(path, spec.line_of(flag), f"reports.{name}.{flag}: must be true or false"))
                value = False
            flags[flag] = value
        escalation = DEFAULT_ESCALATION_SECONDS
        if "escalation" in spec:
            escalation = parse_duration(spec["escalation"]) or 0
            if not escalation:
                problems.append(Problem(path, spec.line_of("escalation"),
                                        f"reports.{name}.escalation: {spec['escalation']!r} is not a duration like 10m, 2h or 1d"))
                escalation = DEFAULT_ESCALATION_SECONDS
        types[name] = ReportType(name, escalation=escalation, **flags)
    if types and not any(t.free_text for t in types.values()):
        problems.append(Problem(path, reports.line, "reports: one type must be free_text: true "
                                                    "(what an SMS of several words that followed no menu becomes)"))
    return types


def load(config_dir: str | Path) -> ReportTypes:
    """The report types of `config_dir/flows.yaml`; raise ConfigError on any mistake."""
    path = Path(config_dir) / FLOWS_FILE
    problems: list[Problem] = []
    types = from_flows(yamlfile.load(path), str(path), problems)
    if problems:
        raise ConfigError(problems)
    return types
