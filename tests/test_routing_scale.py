"""The indexed routing plan equals a plain scan of every contact, on generated directories over
the real gazetteer and many random reports (fixed seeds, so every run checks the same cases)."""
from __future__ import annotations

import dataclasses
import random

import pytest

from hotline import reporttypes, routing
from hotline.areas import load_areas
from hotline.directory import Contact, Directory
from hotline.engine.config import LineInfo
from hotline.routing import Plan, RouteInput
from hotline.settings import ROOT

REPORT_TYPES = tuple(reporttypes.load(ROOT / "config"))
"""The shipped report types (config/flows.yaml)."""

LINE = LineInfo("Test line", ("km", "en"), ("km", "en"), ("117",), "KH")


def reference_plan(report: RouteInput, directory: Directory) -> Plan:
    """Routing as it was before the index: every contact of the directory checked in turn."""
    gaz = directory.gazetteer
    conflicted = routing.numbers_in_report(report, directory.line.country)
    by_depth: dict[int, list[Contact]] = {}
    agencies: list[Contact] = []
    skipped: list[str] = []
    if report.area_code is None or report.area_code not in gaz:
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
            skipped.append(contact.id)
            continue
        if contact.kind == "agency":
            agencies.append(contact)
        else:
            depth = max(gaz.depth(code) for code in matching)
            by_depth.setdefault(depth, []).append(contact)
    levels = tuple(tuple(sorted(by_depth[d], key=lambda c: c.id)) for d in sorted(by_depth, reverse=True))
    return Plan(levels, tuple(sorted(agencies, key=lambda c: c.id)), tuple(sorted(skipped)))


@pytest.fixture(scope="module")
def gazetteer():
    return load_areas(ROOT / "config" / "areas.csv")


def written_forms(e164: str) -> list[str]:
    """Ways people write +85512000001: local, spaced, without the plus, with 00, dashed."""
    local = "0" + e164[4:]                      # 012000001
    a, b, c = local[:3], local[3:6], local[6:]
    return [f"{a} {b} {c}", f"+855 {a[1:]} {b} {c}", e164[1:], e164, f"00{e164[1:]}",
            f"{a}-{b}-{c}", f"({a}) {b}{c}", local]


def generate_directory(rng: random.Random, gaz, size: int = 300) -> Directory:
    """Leaders and agencies at every level, clustered in a few provinces so that they overlap,
    with the awkward cases: several areas, ancestor and descendant both listed, an area listed
    twice, an unknown code, no phone, shared ids."""
    provinces = rng.sample(gaz.children(None), 4)
    by_level: dict[str, list] = {}
    for area in (a for p in provinces for a in _below(gaz, p.code)):
        by_level.setdefault(area.level, []).append(area)
    contacts: list[Contact] = []
    for n in range(size):
        kind = "agency" if rng.random() < 0.15 else "leader"
        areas = [rng.choice(by_level[rng.choice(list(by_level))]).code for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        roll = rng.random()
        if roll < 0.05:
            areas.append(areas[0])                                  # listed twice
        elif roll < 0.10:
            areas.append(gaz.path(areas[0])[0].code)                # its own province too
        elif roll < 0.12:
            areas.append("99")                                      # not in the gazetteer
        types = frozenset(rng.sample(REPORT_TYPES, rng.randint(1, len(REPORT_TYPES))))
        phone = None if kind == "agency" and rng.random() < 0.3 else f"+85512{n:06d}"
        cid = f"c{rng.randint(0, 10 * size):05d}" if rng.random() < 0.95 else "c-shared"
        contacts.append(Contact(cid, cid, kind, phone, "km", tuple(areas), types))
    rng.shuffle(contacts)
    return Directory("generated.yaml", LINE, gaz, {}, tuple(contacts))


def _below(gaz, code: str):
    """The area and everything under it."""
    yield gaz.get(code)
    for child in gaz.children(code):
        yield from _below(gaz, child.code)


def random_report(rng: random.Random, gaz, directory: Directory) -> RouteInput:
    """A report of any type, placed at any level (mostly where contacts are), or nowhere."""
    roll = rng.random()
    if roll < 0.05:
        area = None
    elif roll < 0.08:
        area = rng.choice(["99999999", "", "0"])                    # unknown codes
    elif roll < 0.20:
        area = rng.choice(gaz.all()).code                           # anywhere in the country
    else:
        contact = rng.choice(directory.contacts)
        base = rng.choice([c for c in contact.areas if c in gaz] or ["14"])
        below = list(_below(gaz, base))
        area = rng.choice(below).code if rng.random() < 0.7 else rng.choice(gaz.path(base)).code
    answers: dict = {}
    covering = [c.phone for c in directory.contacts if c.phone and area in gaz
                and any(gaz.contains(code, area) for code in c.areas)]
    phoned = [c.phone for c in directory.contacts if c.phone]
    for key in rng.sample(["recruiter_phone", "recruiter_details", "details", "other"], rng.randint(0, 3)):
        form = rng.choice(written_forms(rng.choice(covering if covering and rng.random() < 0.5 else phoned)))
        answers[key] = rng.choice([
            form, f"he called from {form} yesterday", [f"his boss is {form}", "no other detail"],
            {"nested": form}, "nothing to say", "+855 12 999 999",
        ])
    return RouteInput(rng.choice(REPORT_TYPES + ("unknown-type",)), area, answers)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_indexed_plan_equals_full_scan(gazetteer, seed):
    rng = random.Random(seed)
    directory = generate_directory(rng, gazetteer)
    seen_skips = seen_levels = 0
    for _ in range(400):
        report = random_report(rng, gazetteer, directory)
        got = routing.plan(report, directory)
        assert got == reference_plan(report, directory), report
        assert [tuple(c.id for c in level) for level in got.leader_levels] == \
            [tuple(sorted(c.id for c in level)) for level in got.leader_levels]
        seen_skips += bool(got.skipped)
        seen_levels += len(got.leader_levels) >= 2
    # the generated cases did exercise conflicts of interest and several levels
    assert seen_skips > 10 and seen_levels > 10


def test_index_is_built_once_and_follows_replaced_contacts(gazetteer):
    rng = random.Random(7)
    directory = generate_directory(rng, gazetteer, size=50)
    assert routing._index(directory) is routing._index(directory)
    report = RouteInput("recruiter", directory.contacts[0].areas[0], {})
    routing.plan(report, directory)
    # a directory whose contacts are replaced is routed on the new contacts, not a stale index
    directory.contacts = tuple(dataclasses.replace(c, reports=frozenset({"missing"})) for c in directory.contacts)
    assert routing.plan(report, directory) == reference_plan(report, directory) == Plan((), (), ())
    # and so is one given a list (not cached, since a list can change in place)
    listed = Directory("x.yaml", LINE, gazetteer, {}, list(directory.contacts))
    listed.contacts.append(Contact("late", "late", "leader", "+85512999001", "km", (report.area_code,),
                                   frozenset(REPORT_TYPES)))
    assert routing.plan(report, listed) == reference_plan(report, listed)
    assert [c.id for c in routing.plan(report, listed).first_leaders] == ["late"]


def test_same_ids_keep_directory_order(gazetteer):
    # Ids are unique in a loaded directory, but a Directory built in code may repeat one: the
    # plan then keeps directory order among them, as the full scan does, whichever area matched first.
    commune = "140101"
    every = frozenset(REPORT_TYPES)
    first = Contact("same", "first", "leader", "+85512999101", "km", (commune,), every)
    second = Contact("same", "second", "leader", "+85512999102", "km", ("14", commune), every)
    agency_a = Contact("ag", "a", "agency", None, "km", (commune,), every)
    agency_b = Contact("ag", "b", "agency", None, "km", ("14",), every)
    directory = Directory("x.yaml", LINE, gazetteer, {}, (first, second, agency_a, agency_b))
    report = RouteInput("missing", "14010101", {})
    got = routing.plan(report, directory)
    assert got == reference_plan(report, directory)
    assert [c.name for c in got.first_leaders] == ["first", "second"]
    assert [c.name for c in got.agencies] == ["a", "b"]
