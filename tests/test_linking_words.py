"""What reports name, read as tables (pure: no database): phone numbers in every written form, read
once each; Khmer and romanised Khmer normal forms; agency names; the reporter's own number left out;
the directory's `clusters:` checked; the suggestions' figures on the labelled pairs (the README's)."""
from __future__ import annotations

import pytest

from hotline import phones
from hotline.directory import load_directory
from hotline.errors import ConfigError
from hotline.linking import identifiers, measure, words
from hotline.settings import ROOT

NUMBER = "+85512777888"

NAMED = [  # (text, the numbers it names)
    ("012 777 888", [NUMBER]), ("+855 12 777 888", [NUMBER]), ("85512777888", [NUMBER]),
    ("០១២ ៧៧៧ ៨៨៨", [NUMBER]), ("012.777.888", [NUMBER]), ("012-777-888", [NUMBER]),
    ("0855 12 777 888", [NUMBER]),                       # the 0855 slip: one number, not two
    ("(012) 777-888", [NUMBER]), ("00855 12 777 888", [NUMBER]), ("12 777 888", [NUMBER]),
    ("012 777 888 99", [NUMBER]),                        # trailing digits do not make a second number
    ("call 012777888 or 098 765 432", [NUMBER, "+85598765432"]),
    ("he has 2 phones: 012777888, 0967776665", [NUMBER, "+855967776665"]),
    ("777 888", []), ("123456", []), ("2 3 4 5 6 7 8 9", []),   # too short, or no number anyone has
    ("born 1998, 3 children", []), ("", []),
]


@pytest.mark.parametrize(("text", "expected"), NAMED)
def test_named_numbers_reads_each_number_once(text, expected):
    assert [f.number for f in phones.named_numbers(text)] == expected


def test_named_numbers_is_the_maskers_finder():
    """Every number linking reads is one the scrubber masks (one finder, phones.find_numbers)."""
    for text, _ in NAMED:
        assert {f.number for f in phones.named_numbers(text)} <= phones.numbers_in(text)


KEYS = [  # two writings that must be one key
    ("Golden  STAR!", "golden star"), ("Srey Pheap", "srei pheab"), ("Chann Sokk", "chan sok"),
    ("Sophoun", "sophun"), ("Café", "cafe"), ("ផ្ដើម", "ផ្តើម"),          # subscript DA and TA look alike
    ("ស្រ្តី", "ស្ត្រី"),                                                # subscript RO typed first or last
    ("ក\u17b6\u17d2\u179a", "ក\u17d2\u179a\u17b6"),                      # vowel typed before the subscript
    ("ក្រុមហ៊ុន\u200bផ្កាយមាស", "ក្រុមហ៊ុនផ្កាយមាស"),                     # zero-width space
    ("\u17a3", "\u17a2"),                                                # deprecated QAQ
    ("០១២", "012"),
]


@pytest.mark.parametrize(("a", "b"), KEYS)
def test_one_name_written_two_ways_is_one_key(a, b):
    assert words.key(a) == words.key(b)


@pytest.mark.parametrize(("a", "b"), [("Golden Star", "Golden Sun"), ("Sok", "Sao"), ("ផ្កាយមាស", "ផ្កាយប្រាក់")])
def test_different_names_stay_different(a, b):
    assert words.key(a) != words.key(b)


NAMES = [  # (words, agency names found in them)
    ("Mr Sok from Golden Star agency, white van", ["golden star"]),
    ("GOLDEN-STAR Co. Ltd", ["golden star"]),
    ("agency golden star", ["golden star"]),
    ("kromhun phkay meas lok sok", ["pkai meas"]),                # romanised Khmer order: the name follows
    ("ក្រុមហ៊ុនផ្កាយមាស ឡានស", ["ផ្កាយមាស"]),                    # Khmer, no space after the word
    ("ក្រុមហ៊ុន ផ្កាយមាស", ["ផ្កាយមាស"]),
    ("Lucky Thai Jobs agency", ["luky tai jobs"]),
    ("the company", []), ("a job agency", []), ("my name is Dara", []),   # no names of people
    ("white van, factory work", []),
]


@pytest.mark.parametrize(("text", "expected"), NAMES)
def test_agency_names(text, expected):
    assert [key for key, _ in identifiers.names_in(text)] == expected


def test_the_reporters_own_number_is_never_an_identifier():
    own = "+85512345678"
    answers = {"recruiter_phone": own, "recruiter_details": "me 012 345 678, him ០១២ ៧៧៧ ៨៨៨, Golden Star agency",
               "details": ["also +855 12 345 678"]}
    found = identifiers.of_answers(answers, ("recruiter_phone",), ("recruiter_details",), own)
    assert {(n.kind, n.value) for n in found if n.kind != "description"} == {("phone", NUMBER), ("name", "golden star")}
    assert all("345" not in n.value for n in found)


def test_without_the_reporters_number_only_phone_answers_give_numbers():
    answers = {"recruiter_phone": NUMBER, "recruiter_details": "call 098 765 432"}
    found = identifiers.of_answers(answers, ("recruiter_phone",), ("recruiter_details",), None, numbers_in_words=False)
    assert [n.value for n in found if n.kind == "phone"] == [NUMBER]


@pytest.mark.parametrize(("section", "message"), [
    ("clusters: {reports: 1, days: 30}", "clusters.reports: 1 must be a whole number of reports, at least 2"),
    ("clusters: {reports: 3, days: 0}", "clusters.days: 0 must be a whole number of days"),
    ("clusters: {reports: three}", "clusters.reports: 'three'"),
    ("clusters: {reports: 3, weeks: 2}", "clusters.weeks: unknown"),
    ("clusters: 3", "clusters: must be a mapping"),
])
def test_the_directory_checks_clusters_with_the_line(tmp_path, section, message):
    text = (ROOT / "config" / "directory.yaml").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("clusters:")) + "\n" + section + "\n"
    (tmp_path / "directory.yaml").write_text(text.replace("areas: areas.csv", f"areas: {ROOT / 'config' / 'areas.csv'}"),
                                             encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_directory(tmp_path / "directory.yaml")
    problem = next(p for p in caught.value.problems if message in str(p))
    assert problem.line == len(text.splitlines())  # the offending line: the section, last in the file


def test_the_sample_directorys_clusters():
    assert load_directory(ROOT / "config" / "directory.yaml").clusters.reports == 3


def test_suggestion_figures_on_the_labelled_pairs_are_the_readmes():
    pairs = measure.load()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for kind in ("name", "description"):
        scoring = next(s for s in measure.suggest.SCORINGS if s.kind == kind)
        f = measure.figures(measure.scored(pairs, kind), scoring.threshold)
        assert f.precision >= 0.9 and f.recall >= 0.85, (kind, f)
        row = f"| {kind} | {f.pairs} ({f.same} the same) | {scoring.scorer.__name__} ≥ {scoring.threshold:g} | " \
              f"{f.precision:.2f} | {f.recall:.2f} |"
        assert row in readme, row
