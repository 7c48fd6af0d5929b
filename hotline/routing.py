"""Routing as a pure function of (report, directory): who is alerted now, who on each escalation.

The rules are INTERFACE.md section 6, "Routing, exactly".
"""
from __future__ import annotations

from dataclasses import dataclass

from hotline import phones
from hotline.directory import Contact, Directory


@dataclass(frozen=True)
class RouteInput:
    """What routing needs to know of a report."""

    type: str
    area_code: str | None
    answers: dict


@dataclass(frozen=True)
class Plan:
    """Leaders level by level (deepest first: the first level is alerted now) and the agencies."""

    leader_levels: tuple[tuple[Contact, ...], ...]
    agencies: tuple[Contact, ...]
    skipped: tuple[str, ...] = ()  # contacts left out because their number is in the report

    @property
    def first_leaders(self) -> tuple[Contact, ...]:
        """The leaders alerted at once."""
        return self.leader_levels[0] if self.leader_levels else ()


def numbers_in_report(report: RouteInput, country: str) -> set[str]:
    """Every phone number written anywhere in the report's answers, in E.164."""
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, str):
            found.update(phones.numbers_in(value, country))
            number = phones.normalise(value, country)
            if number:
                found.add(number)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(report.answers)
    return found


def plan(report: RouteInput, directory: Directory) -> Plan:
    """The leaders to alert at each level and the agencies that get the report."""
    gaz = directory.gazetteer
    conflicted = numbers_in_report(report, directory.line.country)
    by_depth: dict[int, list[Contact]] = {}
    agencies: list[Contact] = []
    skipped: list[str] = []
    if report.area_code is None or report.area_code not in gaz:
        # Nowhere known: no leader covers it, so every agency handling the type gets it.
        national = [c for c in directory.contacts if c.kind == "agency" and report.type in c.reports
                    and not (c.phone and c.phone in conflicted)]
        return Plan((), tuple(sorted(national, key=lambda c: c.id)), ())
    for contact in directory.contacts:
        if report.type not in contact.reports:
            continue
        matching = [code for code in contact.areas if gaz.contains(code, report.area_code)]
        if not matching:
            continue
        if contact.phone and contact.phone in conflicted:
            skipped.append(contact.id)  # safety rule 4: never alert a contact named in the report
            continue
        if contact.kind == "agency":
            agencies.append(contact)
        else:
            depth = max(gaz.depth(code) for code in matching)
            by_depth.setdefault(depth, []).append(contact)
    levels = tuple(tuple(sorted(by_depth[d], key=lambda c: c.id)) for d in sorted(by_depth, reverse=True))
    return Plan(levels, tuple(sorted(agencies, key=lambda c: c.id)), tuple(sorted(skipped)))
