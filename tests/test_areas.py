"""The gazetteer: the shipped config/areas.csv, lookups, and every way a CSV can be broken."""
from __future__ import annotations

import csv
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # lets a bare `pytest tests/test_areas.py` import the package
    sys.path.insert(0, str(ROOT))

from hotline.areas import LEVELS, Area, Gazetteer, load_areas  # noqa: E402
from hotline.errors import ConfigError  # noqa: E402

SHIPPED = ROOT / "config" / "areas.csv"
HEADER = "code,parent,level,name_en,name_km\n"
KHMER = re.compile(r"[\u1780-\u17ff]")
CODE_LENGTH = {"province": 2, "district": 4, "commune": 6, "village": 8}


@pytest.fixture(scope="module")
def shipped() -> Gazetteer:
    """The gazetteer the line ships with."""
    return load_areas(SHIPPED)


@pytest.fixture(scope="module")
def shipped_rows() -> list[dict[str, str]]:
    """The shipped CSV's rows as written."""
    with open(SHIPPED, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- the shipped gazetteer ---------------------------------------------------------------

def test_shipped_file_loads_without_problems(shipped):
    assert len(shipped) > 16000
    assert len(shipped.children(None)) == 25


@pytest.mark.parametrize("code, name_en, name_km", [
    ("01", "Banteay Meanchey", "បន្ទាយមានជ័យ"),
    ("02", "Battambang", "បាត់ដំបង"),
    ("03", "Kampong Cham", "កំពង់ចាម"),
    ("04", "Kampong Chhnang", "កំពង់ឆ្នាំង"),
    ("05", "Kampong Speu", "កំពង់ស្ពឺ"),
    ("06", "Kampong Thom", "កំពង់ធំ"),
    ("07", "Kampot", "កំពត"),
    ("08", "Kandal", "កណ្ដាល"),
    ("09", "Koh Kong", "កោះកុង"),
    ("10", "Kratie", "ក្រចេះ"),
    ("11", "Mondulkiri", "មណ្ឌលគិរី"),
    ("12", "Phnom Penh", "ភ្នំពេញ"),
    ("13", "Preah Vihear", "ព្រះវិហារ"),
    ("14", "Prey Veng", "ព្រៃវែង"),
    ("15", "Pursat", "ពោធិ៍សាត់"),
    ("16", "Ratanakiri", "រតនគិរី"),
    ("17", "Siem Reap", "សៀមរាប"),
    ("18", "Preah Sihanouk", "ព្រះសីហនុ"),
    ("19", "Stung Treng", "ស្ទឹងត្រែង"),
    ("20", "Svay Rieng", "ស្វាយរៀង"),
    ("21", "Takeo", "តាកែវ"),
    ("22", "Oddar Meanchey", "ឧត្ដរមានជ័យ"),
    ("23", "Kep", "កែប"),
    ("24", "Pailin", "ប៉ៃលិន"),
    ("25", "Tboung Khmum", "ត្បូងឃ្មុំ"),
])
def test_every_province_with_both_names(shipped, code, name_en, name_km):
    area = shipped.get(code)
    assert area is not None and area.level == "province" and area.parent is None
    assert (area.name_en, area.name_km) == (name_en, name_km)


def test_no_other_provinces(shipped):
    assert [a.code for a in shipped.children(None)] == [f"{n:02d}" for n in range(1, 26)]


def test_at_least_two_provinces_are_worked_down_to_villages(shipped):
    with_villages = {a.code[:2] for a in shipped.all() if a.level == "village"}
    assert len(with_villages) >= 2
    assert {"14", "23", "24"} <= with_villages


@pytest.mark.parametrize("province, districts", [
    ("01", ["0102", "0103", "0104", "0105", "0106", "0107", "0108", "0109", "0110"]),
    ("14", [f"14{n:02d}" for n in range(1, 14)]),
    ("23", ["2301", "2302"]),
    ("24", ["2401", "2402"]),
])
def test_districts_of_a_province(shipped, province, districts):
    assert [a.code for a in shipped.children(province)] == districts


@pytest.mark.parametrize("province", ["23", "24"])
def test_small_provinces_are_complete_down_to_villages(shipped, province):
    districts = shipped.children(province)
    communes = [c for d in districts for c in shipped.children(d.code)]
    assert districts and communes
    for commune in communes:
        assert shipped.children(commune.code), f"commune {commune.code} has no villages"


@pytest.mark.parametrize("code, path_en", [
    ("14010101", ["Prey Veng", "Ba Phnum", "Boeng Preah", "Angkrong"]),
    ("23020101", ["Kep", "Kaeb", "Kaeb", "Kaeb"]),
    ("24010101", ["Pailin", "Pailin", "Pailin", "Pahi Tboung"]),
    ("1410", ["Prey Veng", "Prey Veng"]),
    ("0110", ["Banteay Meanchey", "Paoy Paet"]),
])
def test_real_places_sit_where_they_should(shipped, code, path_en):
    assert [a.name_en for a in shipped.path(code)] == path_en


def test_shipped_rows_are_sorted_unique_and_hierarchical(shipped_rows):
    codes = [r["code"] for r in shipped_rows]
    assert codes == sorted(codes)
    assert len(codes) == len(set(codes))
    for row in shipped_rows:
        assert len(row["code"]) == CODE_LENGTH[row["level"]], row
        if row["parent"]:
            assert row["code"].startswith(row["parent"]), row


def test_shipped_names_are_clean(shipped_rows):
    for row in shipped_rows:
        for key in ("name_en", "name_km"):
            value = row[key]
            assert value and value == value.strip() and "  " not in value and "\u200b" not in value, row
        assert KHMER.search(row["name_km"]), row
        assert not KHMER.search(row["name_en"]), row


def test_shipped_file_loads_fast():
    started = time.perf_counter()
    load_areas(SHIPPED)
    assert time.perf_counter() - started < 5


# --- lookups -----------------------------------------------------------------------------

def _tiny() -> Gazetteer:
    """Kep, as far down as one village per commune, plus Pailin's top."""
    rows = [
        ("23", None, "province", "Kep", "កែប"),
        ("2301", "23", "district", "Damnak Chang'aeur", "ដំណាក់ចង្អើរ"),
        ("230103", "2301", "commune", "Pong Tuek", "ពងទឹក"),
        ("230101", "2301", "commune", "Angkaol", "អង្កោល"),
        ("23010101", "230101", "village", "Ampaeng", "អំពេង"),
        ("23010104", "230101", "village", "Angkaol", "អង្កោល"),
        ("23010301", "230103", "village", "Ou Doung", "អូរដូង"),
        ("2302", "23", "district", "Kaeb", "កែប"),
        ("24", None, "province", "Pailin", ""),
        ("01", None, "province", "Banteay Meanchey", "បន្ទាយមានជ័យ"),
        ("0102", "01", "district", "Mongkol Borei", "មង្គលបូរី"),
        ("010201", "0102", "commune", "Banteay Neang", "បន្ទាយនាង"),
        ("01020101", "010201", "village", "Ou Thum", "អូរធំ"),
    ]
    return Gazetteer(Area(*row) for row in rows)


@pytest.fixture()
def tiny() -> Gazetteer:
    return _tiny()


@pytest.mark.parametrize("code, expected", [
    (None, ["01", "23", "24"]),
    ("23", ["2301", "2302"]),
    ("2301", ["230101", "230103"]),  # sorted by code, not by file order
    ("230101", ["23010101", "23010104"]),
    ("23010101", []),
    ("2302", []),
    ("99", []),
])
def test_children(tiny, code, expected):
    assert [a.code for a in tiny.children(code)] == expected


@pytest.mark.parametrize("code, expected", [
    ("23010104", ["23", "2301", "230101", "23010104"]),
    ("230103", ["23", "2301", "230103"]),
    ("2302", ["23", "2302"]),
    ("24", ["24"]),
    ("99999999", []),
])
def test_path(tiny, code, expected):
    assert [a.code for a in tiny.path(code)] == expected


@pytest.mark.parametrize("ancestor, code, expected", [
    ("23", "23010104", True),
    ("2301", "23010104", True),
    ("230101", "23010104", True),
    ("23010104", "23010104", True),
    ("230103", "23010104", False),
    ("2302", "23010104", False),
    ("24", "23010104", False),
    ("23010104", "230101", False),  # a village does not contain its commune
    ("01", "01020101", True),
    ("0", "01020101", False),  # a code prefix is not an ancestor unless it is an area
    ("23", "99999999", False),
    ("99", "99", False),
])
def test_contains(tiny, ancestor, code, expected):
    assert tiny.contains(ancestor, code) is expected


@pytest.mark.parametrize("code, expected", [
    ("23", 1), ("2301", 2), ("230101", 3), ("23010101", 4), ("0102", 2), ("nope", 0),
])
def test_depth(tiny, code, expected):
    assert tiny.depth(code) == expected


@pytest.mark.parametrize("typed, expected", [
    ("23010104", "23010104"),
    ("2301 0104", "23010104"),
    ("23-01-01-04", "23010104"),
    (" 23 01 01 04 ", "23010104"),
    ("២៣០១០១០៤", "23010104"),  # Khmer digits
    ("230101", "230101"),
    ("2301", "2301"),
    ("23", "23"),
    ("1020101", "01020101"),  # the leading zero of provinces 01-09 left off
    ("01020101", "01020101"),
    ("23010199", None),
    ("2301O104", None),
    ("abc", None),
    ("", None),
    ("--", None),
])
def test_find_village(tiny, typed, expected):
    found = tiny.find_village(typed)
    assert (found.code if found else None) == expected


@pytest.mark.parametrize("lang, expected", [
    ("km", "អង្កោល"), ("en", "Angkaol"), ("fr", "Angkaol"), ("", "Angkaol"),
])
def test_area_name(tiny, lang, expected):
    assert tiny.get("230101").name(lang) == expected


def test_khmer_name_falls_back_to_english(tiny):
    assert tiny.get("24").name("km") == "Pailin"


def test_get_contains_len_all(tiny):
    assert tiny.get("2301").name_en == "Damnak Chang'aeur"
    assert tiny.get("77") is None
    assert "2301" in tiny and "77" not in tiny and 2301 not in tiny
    assert len(tiny) == 13
    assert [a.code for a in tiny.all()] == sorted(a.code for a in tiny.all())


def test_duplicate_codes_are_refused():
    with pytest.raises(ValueError, match="2301"):
        Gazetteer([Area("2301", "23", "district", "A", ""), Area("2301", "23", "district", "B", "")])


def test_empty_gazetteer():
    empty = Gazetteer([])
    assert len(empty) == 0 and empty.children(None) == [] and empty.path("23") == [] and empty.find_village("23") is None


def test_national_size_stays_fast(tmp_path):
    """~15,000 villages: loading and walking must not be quadratic."""
    lines = [HEADER, "14,,province,P,ខ\n"]
    for d in range(1, 14):
        lines.append(f"14{d:02d},14,district,D{d},ស\n")
        for c in range(1, 13):
            commune = f"14{d:02d}{c:02d}"
            lines.append(f"{commune},14{d:02d},commune,C{c},ឃ\n")
            lines.extend(f"{commune}{v:02d},{commune},village,V{v},ភ\n" for v in range(1, 96))
    path = tmp_path / "national.csv"
    path.write_text("".join(lines), encoding="utf-8")
    started = time.perf_counter()
    gaz = load_areas(path)
    villages = [a for a in gaz.all() if a.level == "village"]
    assert len(villages) == 13 * 12 * 95
    assert all(gaz.contains("14", v.code) and len(gaz.path(v.code)) == 4 for v in villages)
    assert time.perf_counter() - started < 10


# --- broken files ------------------------------------------------------------------------

GOOD_TOP = HEADER + "23,,province,Kep,កែប\n2301,23,district,Damnak Chang'aeur,ដំណាក់ចង្អើរ\n"


@pytest.mark.parametrize("content, line, fragment", [
    pytest.param("code,parent,level,name\n23,,province,Kep\n", 1, "the header must be", id="wrong header"),
    pytest.param("23,,province,Kep,កែប\n2301,23,district,D,ដ\n", 1, "the header must be", id="missing header"),
    pytest.param("", 1, "empty file", id="empty file"),
    pytest.param(GOOD_TOP + "230101,2301,commune,Angkaol\n", 4, "expected 5 columns", id="too few columns"),
    pytest.param(GOOD_TOP + "230101,2301,commune,Angkaol,អង្កោល,x\n", 4, "found 6", id="too many columns"),
    pytest.param(GOOD_TOP + "230101,2301,town,Angkaol,អង្កោល\n", 4, "level 'town' is not one of", id="unknown level"),
    pytest.param(GOOD_TOP + ",2301,commune,Angkaol,អង្កោល\n", 4, "the code is empty", id="empty code"),
    pytest.param(GOOD_TOP + "230101,2301,commune,,អង្កោល\n", 4, "empty name_en", id="empty name_en"),
    pytest.param(GOOD_TOP + "2301,23,district,Again,ដ\n", 4, "duplicate code 2301: already on line 3", id="duplicate code"),
    pytest.param(GOOD_TOP + "230101,,commune,Angkaol,អង្កោល\n", 4, "missing its parent (a district)", id="parent missing"),
    pytest.param(GOOD_TOP + "230101,2399,commune,Angkaol,អង្កោល\n", 4, "parent 2399", id="parent unknown"),
    pytest.param(GOOD_TOP + "23010101,2301,village,Ampaeng,អំពេង\n", 4, "is a district; it must be a commune",
                 id="parent at the wrong level"),
    pytest.param(GOOD_TOP + "230101,23,commune,Angkaol,អង្កោល\n", 4, "is a province; it must be a district",
                 id="parent two levels up"),
    pytest.param(GOOD_TOP + "24,23,province,Pailin,ប៉ៃលិន\n", 4, "must not have a parent", id="province with a parent"),
    pytest.param(GOOD_TOP + "23O1O1,2301,commune,Angkaol,អង្កោល\n", 4, "must be digits", id="code not digits"),
    pytest.param(GOOD_TOP + "២៣០១០១,2301,commune,Angkaol,អង្កោល\n", 4, "must be digits", id="code in Khmer digits"),
    pytest.param(GOOD_TOP + "\n\n230101,2399,commune,Angkaol,អង្កោល\n", 6, "parent 2399", id="blank lines still counted"),
    pytest.param(GOOD_TOP + '230101,2301,commune,"Ang\nkaol",អង្កោល\n230103,2399,commune,Pong Tuek,ពងទឹក\n', 6,
                 "parent 2399", id="line after a two-line quoted name"),
])
def test_broken_csv(tmp_path, content, line, fragment):
    path = tmp_path / "areas.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_areas(path)
    problems = caught.value.problems
    assert any(p.line == line and fragment in p.message for p in problems), problems
    assert all(p.file == str(path) for p in problems)


def test_all_problems_are_collected_before_raising(tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text(
        "code,parent,level,name_en,name_km\n"      # 1
        "23,,province,Kep,កែប\n"                   # 2
        "2301,23,district,,ដ\n"                    # 3 empty name_en
        "2301,23,district,Again,ដ\n"               # 4 duplicate
        "230101,2301,hamlet,Angkaol,អ\n"           # 5 unknown level
        "23010101,2399,village,Ampaeng,អំពេង\n"    # 6 unknown parent
        "x1,23,district,Bad,ប\n",                  # 7 not digits
        encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_areas(path)
    assert sorted(p.line for p in caught.value.problems) == [3, 4, 5, 6, 7]
    assert str(path) + ":4" in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_areas(tmp_path / "nowhere.csv")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].line is None and "not found" in caught.value.problems[0].message


def test_not_utf8(tmp_path):
    path = tmp_path / "areas.csv"
    path.write_bytes(HEADER.encode() + "23,,province,Kep,".encode() + b"\xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        load_areas(path)
    assert [p.line for p in caught.value.problems] == [None]


@pytest.mark.parametrize("content, codes", [
    pytest.param(HEADER, [], id="header only"),
    pytest.param("\ufeff" + GOOD_TOP, ["23", "2301"], id="byte order mark"),
    pytest.param(GOOD_TOP.replace("\n", "\r\n"), ["23", "2301"], id="CRLF line ends"),
    pytest.param(" code , parent ,level,name_en,name_km\n 23 ,,province, Kep ,កែប\n", ["23"], id="spaces around cells"),
    pytest.param(GOOD_TOP + "2302,23,district,Kaeb,\n", ["23", "2301", "2302"], id="empty Khmer name allowed"),
])
def test_acceptable_variations(tmp_path, content, codes):
    path = tmp_path / "areas.csv"
    path.write_text(content, encoding="utf-8", newline="")
    gaz = load_areas(path)
    assert [a.code for a in gaz.all()] == codes
    assert all(a.level in LEVELS for a in gaz.all())
    if "23" in gaz:
        assert gaz.get("23").name_en == "Kep"
