"""The gazetteer: Cambodia's provinces, districts, communes and villages, and its CSV loader.

The CSV (docs/contract.md section 6) has the header `code,parent,level,name_en,name_km`.
Codes are the official administrative codes (NCDD / National Institute of Statistics):
province 2 digits, district 4, commune 6, village 8, each starting with its parent's.

The shipped config/areas.csv is derived from the administrative-division lists published
by the Ministry of Economy and Finance (data.mef.gov.kh, 2025; attribution required by its
terms of use), with district English names from the NCDD gazetteer.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass

from hotline.errors import ConfigError, Problem

LEVELS = ("province", "district", "commune", "village")
HEADER = ("code", "parent", "level", "name_en", "name_km")

_KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
_IGNORED_IN_CODES = " \t\u00a0\u200b-\u2010\u2011\u2012\u2013\u2014\u2212"


@dataclass(frozen=True)
class Area:
    """One administrative area: a province, district, commune or village."""

    code: str
    parent: str | None
    level: str
    name_en: str
    name_km: str

    def name(self, lang: str) -> str:
        """The area's name in `lang`: Khmer for "km" (English if it has none), else English."""
        if lang == "km" and self.name_km:
            return self.name_km
        return self.name_en


class Gazetteer:
    """All known areas, indexed once for lookups, child lists and ancestor walks."""

    def __init__(self, areas: Iterable[Area]):
        """Index `areas`; codes must be unique."""
        self._by_code: dict[str, Area] = {}
        for area in areas:
            if area.code in self._by_code:
                raise ValueError(f"area code {area.code!r} is given twice")
            self._by_code[area.code] = area
        children: dict[str | None, list[Area]] = {}
        for area in self._by_code.values():
            parent = area.parent if area.parent in self._by_code else None
            if area.parent and parent is None:
                continue  # an orphan is reachable by code but listed under nothing
            children.setdefault(parent, []).append(area)
        self._children = {key: tuple(sorted(kids, key=lambda a: a.code)) for key, kids in children.items()}
        self._all = tuple(sorted(self._by_code.values(), key=lambda a: a.code))

    def get(self, code: str) -> Area | None:
        """The area with this code, or None."""
        return self._by_code.get(code)

    def __contains__(self, code: object) -> bool:
        """Whether `code` is a known area code."""
        return isinstance(code, str) and code in self._by_code

    def __len__(self) -> int:
        """How many areas there are."""
        return len(self._by_code)

    def children(self, code: str | None) -> list[Area]:
        """The areas directly under `code` (the provinces for None), sorted by code."""
        return list(self._children.get(code, ()))

    def path(self, code: str) -> list[Area]:
        """The chain from the province down to the area itself; empty for an unknown code."""
        chain: list[Area] = []
        area = self._by_code.get(code)
        while area is not None and len(chain) < len(LEVELS):
            chain.append(area)
            area = self._by_code.get(area.parent) if area.parent else None
        chain.reverse()
        return chain

    def contains(self, ancestor: str, code: str) -> bool:
        """Whether `ancestor` is the area `code` itself or one of the areas above it."""
        area = self._by_code.get(code)
        steps = 0
        while area is not None and steps < len(LEVELS):
            if area.code == ancestor:
                return True
            area = self._by_code.get(area.parent) if area.parent else None
            steps += 1
        return False

    def depth(self, code: str) -> int:
        """1 for a province, 2 district, 3 commune, 4 village; 0 for an unknown code."""
        area = self._by_code.get(code)
        return LEVELS.index(area.level) + 1 if area is not None and area.level in LEVELS else 0

    def find_village(self, typed: str) -> Area | None:
        """The area whose code was typed (any level; spaces, dashes and Khmer digits allowed), or None."""
        digits = typed.translate(_KHMER_DIGITS)
        for ch in _IGNORED_IN_CODES:
            digits = digits.replace(ch, "")
        if not digits or not (digits.isascii() and digits.isdigit()):
            return None
        area = self._by_code.get(digits)
        if area is None and len(digits) % 2 == 1:
            area = self._by_code.get("0" + digits)  # "1020101" typed for 01020101
        return area

    def all(self) -> list[Area]:
        """Every area, sorted by code."""
        return list(self._all)


@dataclass
class _Row:
    """A data row as read, before the cross-row checks."""

    line: int
    code: str
    parent: str
    level: str
    name_en: str
    name_km: str


def load_areas(path: str | os.PathLike) -> Gazetteer:
    """Read and check an areas CSV; raise ConfigError listing every problem with its line."""
    file = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            records = _read_records(handle)
    except FileNotFoundError:
        raise ConfigError([Problem(file, None, "areas file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(file, None, "areas path is a directory, not a CSV file")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(file, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except csv.Error as exc:
        raise ConfigError([Problem(file, None, f"not a readable CSV file: {exc}")]) from None
    except OSError as exc:
        raise ConfigError([Problem(file, None, f"cannot read the areas file: {exc.strerror or exc}")]) from None

    problems: list[Problem] = []
    if not records:
        raise ConfigError([Problem(file, 1, f"empty file: the header {','.join(HEADER)} is required")])
    first_line, header = records[0]
    body = records[1:]
    if tuple(cell.strip() for cell in header) != HEADER:
        problems.append(Problem(file, first_line, f"the header must be {','.join(HEADER)}, found {','.join(header)!r}"))
        if header and header[0].strip().isdigit():
            body = records  # no header at all: the first line is data, check it too

    rows = _check_rows(file, body, problems)
    _check_parents(file, rows, problems)
    if problems:
        raise ConfigError(problems)
    return Gazetteer(Area(r.code, r.parent or None, r.level, r.name_en, r.name_km) for r in rows.values())


def _read_records(handle: Iterable[str]) -> list[tuple[int, list[str]]]:
    """Every non-blank CSV record with the line it starts on."""
    reader = csv.reader(handle)
    records: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return records
        if any(cell.strip() for cell in record):
            records.append((start, record))


def _check_rows(file: str, body: list[tuple[int, list[str]]], problems: list[Problem]) -> dict[str, _Row]:
    """Per-row checks; the rows by code (first occurrence wins)."""
    rows: dict[str, _Row] = {}
    for line, record in body:
        if len(record) != len(HEADER):
            problems.append(Problem(file, line, f"expected {len(HEADER)} columns ({','.join(HEADER)}), found {len(record)}"))
            continue
        code, parent, level, name_en, name_km = (cell.strip() for cell in record)
        if not code:
            problems.append(Problem(file, line, "the code is empty"))
        elif not (code.isascii() and code.isdigit()):
            problems.append(Problem(file, line, f"code {code!r} must be digits only"))
        if level not in LEVELS:
            problems.append(Problem(file, line, f"level {level!r} is not one of {', '.join(LEVELS)}"))
        if not name_en:
            problems.append(Problem(file, line, f"area {code or '?'} has an empty name_en"))
        if code and code in rows:
            problems.append(Problem(file, line, f"duplicate code {code}: already on line {rows[code].line}"))
            continue
        if code:  # a faulty row still names a code, so its children are not reported as orphans
            rows[code] = _Row(line, code, parent, level if level in LEVELS else "", name_en, name_km)
    return rows


def _check_parents(file: str, rows: dict[str, _Row], problems: list[Problem]) -> None:
    """Each area's parent exists and sits exactly one level up; provinces have none."""
    for row in rows.values():
        if row.level not in LEVELS:
            continue
        depth = LEVELS.index(row.level)
        if depth == 0:
            if row.parent:
                problems.append(Problem(file, row.line, f"province {row.code} must not have a parent (found {row.parent})"))
            continue
        wanted = LEVELS[depth - 1]
        if not row.parent:
            problems.append(Problem(file, row.line, f"{row.level} {row.code} is missing its parent (a {wanted})"))
            continue
        parent = rows.get(row.parent)
        if parent is None:
            problems.append(Problem(file, row.line, f"parent {row.parent} of {row.level} {row.code} is not a code in this file"))
        elif parent.level and parent.level != wanted:
            problems.append(Problem(file, row.line,
                                    f"parent {row.parent} of {row.level} {row.code} is a {parent.level}; it must be a {wanted}"))
