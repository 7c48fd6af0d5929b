"""The console's Khmer catalogue: complete, placeholders intact, compiled, current with the code,
and actually shown to a user who reads Khmer (and to a browser that asks for it)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from sqlalchemy import update

from hotline import reporttypes, scoping
from hotline.models import STATUSES, User
from hotline.settings import ROOT
from tests.kit import sign_in

TRANSLATIONS = ROOT / "hotline" / "translations"
PO = TRANSLATIONS / "km" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
POT = TRANSLATIONS / "messages.pot"

PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
"""A Python %-placeholder, named or not, with its flags, width and precision (and `%%`)."""


def _catalog(path: Path = PO):
    with path.open("rb") as f:
        return read_po(f, locale="km" if path == PO else None)


def _translations(catalog) -> dict[str, str]:
    """msgid → msgstr of every real message (not the header)."""
    return {m.id: m.string for m in catalog if m.id}


def test_every_message_is_translated_and_none_is_fuzzy():
    catalog = _catalog()
    assert len(_translations(catalog)) > 100
    untranslated = [m.id for m in catalog if m.id and not (m.string or "").strip()]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy (check, then remove the flag): {fuzzy}"
    assert not catalog.obsolete, f"obsolete entries left: {list(catalog.obsolete)}"


def test_placeholders_match():
    catalog = _catalog()
    for message in catalog:
        if not message.id:
            continue
        assert sorted(PLACEHOLDER.findall(message.id)) == sorted(PLACEHOLDER.findall(message.string)), message.id
        # Trailing spaces matter where the template puts something right after the text.
        assert message.id.endswith(" ") == message.string.endswith(" "), message.id
    assert [error for _, errors in catalog.check() for error in errors] == []


def test_catalogue_matches_the_code():
    """Every message the code and templates use is in the template and the Khmer catalogue (else: `make translations`)."""
    method_map, options_map = parse_mapping_cfg((ROOT / "babel.cfg").open())
    extracted = {msgid for _, _, msgid, _, _ in extract_from_dir(str(ROOT), method_map, options_map)}
    extracted = {m if isinstance(m, str) else m[0] for m in extracted}
    with POT.open("rb") as f:
        template = set(_translations(read_po(f)))
    translated = set(_translations(_catalog()))
    assert extracted - template == set(), "messages missing from messages.pot: run `make translations`"
    assert template == translated, "messages.po differs from messages.pot: run `make translations`"


def test_words_shown_from_data_are_in_the_catalogue():
    """Pages print statuses, roles, means, timeline entries... through `console.labels`: each code needs
    its words in data_words, and those words an entry. Report types are named by the line's own texts."""
    from hotline.console.accounts import LANGUAGES
    from hotline.translations import data_words

    translated = _translations(_catalog())
    assert set(data_words.STATUSES) == set(STATUSES) and set(data_words.ROLES) == set(scoping.ROLES)
    for table in (data_words.STATUSES, data_words.DELIVERY, data_words.MEANS, data_words.ALERT_KINDS,
                  data_words.TIMELINE, data_words.ROLES, data_words.AREA_LEVELS, data_words.CHANNELS, data_words.LINK_BY,
                  data_words.CSV_COLUMNS):
        for words in table.values():
            assert words in translated, words
    from hotline.engine.config import load_dialogue
    from hotline.directory import load_directory

    line = load_directory(ROOT / "config" / "directory.yaml").line
    texts = load_dialogue(ROOT / "config", line).texts
    for type_ in reporttypes.load(ROOT / "config"):
        assert all(f"alert_type_{type_}" in texts[lang] for lang in set(LANGUAGES) & set(texts)), type_


def test_compiled_catalogue_is_current(tmp_path):
    catalog = _catalog()
    fresh = tmp_path / "messages.mo"
    with fresh.open("wb") as f:
        write_mo(f, catalog)
    with MO.open("rb") as f:
        committed = read_mo(f)
    with fresh.open("rb") as f:
        compiled = read_mo(f)
    assert _translations(committed) == _translations(compiled) == _translations(catalog), \
        "messages.mo is stale: run `make translations` (or pybabel compile -d hotline/translations)"


def test_khmer_user_sees_khmer(client, services, reports):  # noqa: F811
    sign_in(client, services, "sokha", "admin")
    with services.Session.begin() as db:
        db.execute(update(User).where(User.username == "sokha").values(language="km"))
    page = client.get("/console/").get_data(as_text=True)
    assert '<html lang="km">' in page
    assert "<h1>របាយការណ៍" in page and "ស្ថានភាព" in page and "ចាកចេញ" in page
    assert ">ថ្មី</span>" in page and ">ការងារគួរឲ្យបារម្ភ</td>" in page  # status and type shown in Khmer
    assert '<option value="new"' in page and '<option value="recruiter"' in page  # the values stay data
    assert "ចាកចេញពីគ្រប់កន្លែង" in page  # sign out everywhere
    assert "Sign out" not in page and "No reports match" not in page
    report = client.get(f"/console/reports/{reports['recruiter']}").get_data(as_text=True)
    assert "ប្រវត្តិករណី" in report and "បានបង្កើត" in report  # the timeline and its "created" entry
    flashed = client.get("/console/search?number=12", follow_redirects=True).get_data(as_text=True)
    assert "នេះមិនមែនជាលេខរបាយការណ៍ទេ" in flashed


def test_english_user_sees_english(client, services, reports):  # noqa: F811
    sign_in(client, services, "dara", "admin")
    page = client.get("/console/").get_data(as_text=True)
    assert "<h1>Reports" in page and ">new</span>" in page and ">worrying job offer</td>" in page
    assert "របាយការណ៍" not in page


@pytest.mark.parametrize(("accept", "words", "absent"), [
    ("km", ("ចូលប្រើ", "ឈ្មោះអ្នកប្រើ", "ពាក្យសម្ងាត់"), "Username"),
    ("km-KH,km;q=0.9,en;q=0.5", ("ចូលប្រើ",), "Username"),
    ("en-US,en;q=0.9", ("Sign in", "Username", "Password"), "ចូលប្រើ"),
])
def test_login_page_follows_the_browser(client, accept, words, absent):
    page = client.get("/console/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    for word in words:
        assert word in page
    assert absent not in page
