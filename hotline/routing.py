"""Routing as a pure function of (report, directory): who is alerted now, who on each escalation.

The rules are docs/contract.md section 6, "Routing, exactly".

A national directory has tens of thousands of contacts, but a report only concerns the few
that cover an area on its path (province, district, commune, village). `plan()` therefore
looks contacts up in an index by area code and report type, built on first use and kept on
the Directory object (an unhashable dataclass, so not a weak-keyed dict); the result is the
same as checking every contact in turn.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from hotline import phones
from hotline.areas import LEVELS, Gazetteer
from hotline.directory import Contact, Directory

_BY_ID = attrgetter("id")


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


@dataclass(frozen=True)
class _Index:
    """Where to find contacts, as ranks in `by_id` (the contacts sorted by id, the order every
    list of a plan is in, so a plan needs no sorting of its own)."""

    contacts: tuple[Contact, ...]  # the directory's tuple, to tell when it was replaced
    gazetteer: Gazetteer
    by_id: tuple[Contact, ...]     # the same contacts, sorted by id
    by_type: dict[str, dict[str, tuple[int, ...]]]  # report type -> area code -> ranks in by_id, ascending
    agencies: tuple[int, ...]      # every agency's rank, ascending
    is_agency: tuple[bool, ...]    # by rank


_INDEX_ATTR = "_routing_index"  # where the index is kept on the Directory object


def _build_index(contacts: tuple[Contact, ...], gazetteer: Gazetteer) -> _Index:
    """Index `contacts` by each report type they take and each area code they list."""
    by_id = tuple(sorted(contacts, key=_BY_ID))  # stable: contacts sharing an id keep directory order
    by_type: dict[str, dict[str, list[int]]] = {}
    for rank, contact in enumerate(by_id):
        codes = dict.fromkeys(contact.areas)  # each area once, however often it is listed
        for type_ in contact.reports:
            by_area = by_type.setdefault(type_, {})
            for code in codes:
                by_area.setdefault(code, []).append(rank)
    agencies = tuple(i for i, c in enumerate(by_id) if c.kind == "agency")
    frozen = {type_: {code: tuple(ps) for code, ps in by_area.items()} for type_, by_area in by_type.items()}
    return _Index(contacts, gazetteer, by_id, frozen, agencies, tuple(c.kind == "agency" for c in by_id))


def _index(directory: Directory) -> _Index:
    """The directory's index: built on first use, rebuilt if its contacts or gazetteer were replaced.

    Two threads may both build it the first time; either result is the same, so no lock is needed.
    """
    contacts, gazetteer = directory.contacts, directory.gazetteer
    if not isinstance(contacts, tuple):  # a list could change under a cached index
        return _build_index(tuple(contacts), gazetteer)
    index = getattr(directory, _INDEX_ATTR, None)
    if index is None or index.contacts is not contacts or index.gazetteer is not gazetteer:
        index = _build_index(contacts, gazetteer)
        setattr(directory, _INDEX_ATTR, index)
    return index


def numbers_in_report(report: RouteInput, country: str) -> set[str]:
    """Every phone number written anywhere in the report's answers, in E.164."""
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, str):
            found.update(phones.numbers_in(value, country))
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
    index = _index(directory)
    ranked = index.by_id
    agencies: list[Contact] = []
    skipped: list[str] = []
    if report.area_code is None or report.area_code not in gaz:
        # Nowhere known: no leader covers it, so every agency handling the type gets it.
        national = tuple(c for c in (ranked[i] for i in index.agencies) if report.type in c.reports
                         and not (c.phone and c.phone in conflicted))
        return Plan((), national, ())
    # Each contact taking the type and covering the report's area, with its deepest area that does:
    # the path runs from the province down, so a deeper area's depth overwrites a shallower one's.
    by_area = index.by_type.get(report.type, {})
    deepest: dict[int, int] = {}
    for depth, area in enumerate(gaz.path(report.area_code), start=1):  # 1 province ... 4 village
        for rank in by_area.get(area.code, ()):
            deepest[rank] = depth
    is_agency = index.is_agency
    by_depth = [[] for _ in range(len(LEVELS) + 1)]  # leaders by the depth of their deepest area
    for rank in sorted(deepest):  # by id: every list below comes out in the order a plan keeps
        contact = ranked[rank]
        if conflicted and contact.phone in conflicted:
            skipped.append(contact.id)  # safety rule 4: never alert a contact named in the report
        elif is_agency[rank]:
            agencies.append(contact)
        else:
            by_depth[deepest[rank]].append(contact)
    levels = tuple(tuple(leaders) for leaders in reversed(by_depth) if leaders)  # deepest first
    return Plan(levels, tuple(agencies), tuple(skipped))
