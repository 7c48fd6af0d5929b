"""What a reporter's phone sees, tried as a villager would, through the real webhooks, database,
Redis and worker: the danger path, the first screen, honest promises, navigation, the rate
limit, one phone per session, and traces left on the phone (docs/safety.md rules 5, 7, 8)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.models import Alert, InboundMessage, OutboundMessage, Report
from hotline.settings import Settings
from tests.kit import REPORTER, TW_SMS, post, replace, run_worker, ussd

KM_PHONE, EN_PHONE = "+85512345601", "+85512345602"
POLICE, ANGKRONG_LEADER = "duty-police-unit", "pv-angkrong-village"


def _reports(services) -> list[Report]:
    with services.Session() as db:
        return db.scalars(select(Report).order_by(Report.id)).all()


def _alerted(services, report_id: int) -> set[tuple[str, str]]:
    """(contact, kind) of every SMS alert of a report."""
    with services.Session() as db:
        return set(db.execute(select(Alert.contact_id, Alert.kind).where(Alert.report_id == report_id,
                                                                          Alert.means == "sms")).all())


def _choose_language(client, session: str, phone: str, lang_option: str) -> None:
    """Pick a language from the first screen's option 6 (km is option 1, en option 2)."""
    ussd(client, session, "", phone)
    ussd(client, session, "6", phone)
    ussd(client, session, f"6*{lang_option}", phone)


# ---- 1: the danger path ----------------------------------------------------------------------
@pytest.mark.parametrize("phone,option", [(KM_PHONE, "1"), (EN_PHONE, "2")], ids=["km", "en"])
def test_after_3_the_very_next_screen_shows_the_emergency_numbers_and_the_report_exists(client, services,
                                                                                         phone, option):
    _choose_language(client, f"ATUid_lang_{option}", phone, option)
    ussd(client, f"ATUid_danger_{option}", "", phone)
    screen = ussd(client, f"ATUid_danger_{option}", "3", phone)
    assert screen.startswith("CON ") and "117" in screen and "1288" in screen
    (report,) = _reports(services)                      # stored before any question is answered
    assert report.type == "urgent" and report.area_code is None and report.consent is None
    run_worker(services)                                # the session drops here: the duty unit hears of it
    assert (POLICE, "new") in _alerted(services, report.id)


def test_the_place_given_later_is_added_and_its_leader_alerted_and_the_duty_unit_told_where(client, services):
    for full in ("", "3"):
        ussd(client, "ATUid_place", full)
    run_worker(services)                                # routed at once, place unknown
    consent = ussd(client, "ATUid_place", "3*14010101")
    assert consent.startswith("CON ") and "1 " in consent   # then: may someone call back?
    run_worker(services)
    (report,) = _reports(services)
    assert report.area_code == "14010101"
    alerted = _alerted(services, report.id)
    assert (ANGKRONG_LEADER, "new") in alerted          # the place's leader, now that it is known
    assert (POLICE, "located") in alerted               # the duty unit learns where
    with services.Session() as db:
        located = db.scalar(select(OutboundMessage.body).join(Alert, Alert.outbound_id == OutboundMessage.id)
                            .where(Alert.report_id == report.id, Alert.kind == "located"))
    assert report.number in located and "Angkrong" not in located or "អង្ក្រង" in located  # in the unit's Khmer
    end = ussd(client, "ATUid_place", "3*14010101*1")
    assert end.startswith("END ") and report.number in end
    with services.Session() as db:
        assert db.get(Report, report.id).consent is True
    run_worker(services)
    assert len(_reports(services)) == 1 and _alerted(services, report.id) == alerted  # nothing sent twice


def test_a_replayed_danger_session_stores_its_report_once(client, services):
    """Redis lost the conversation mid-session: the replayed inputs find the report stored at 3."""
    ussd(client, "ATUid_replay", "")
    ussd(client, "ATUid_replay", "3")
    services.redis.flushdb()
    assert ussd(client, "ATUid_replay", "3*14010101*2").startswith("END ")
    (report,) = _reports(services)
    assert report.area_code == "14010101" and report.consent is False


# ---- 2 and 4: the first screen, and navigation on every screen -------------------------------
@pytest.mark.parametrize("phone,option", [(KM_PHONE, "1"), (EN_PHONE, "2")], ids=["km", "en"])
def test_all_six_options_are_on_the_first_page_and_every_area_screen_says_how_back_and_to_type_a_code(
        client, services, phone, option):
    _choose_language(client, f"ATUid_nav_{option}", phone, option)
    first = ussd(client, f"ATUid_first_{option}", "", phone)
    assert all(any(line.startswith(f"{i} ") for line in first.splitlines()) for i in range(1, 7)), first
    config = services.engine.config
    lang = "km" if option == "1" else "en"
    back, menu, hint = (config.text(lang, k) for k in ("nav_back", "nav_menu", "area_code_hint"))
    full = "1"
    for _ in range(4):                                  # province, district, commune, village lists
        pages, page = [], ussd(client, f"ATUid_first_{option}", full, phone)
        pages.append(page)
        while "\n98 " in page:
            page = ussd(client, f"ATUid_first_{option}", full + "*98" * len(pages), phone)
            pages.append(page)
        shown = "\n".join(pages)
        assert f"{back} {menu}" in shown and hint in shown, pages
        full += "*1"


# ---- 3: the last screen promises what routing will do, and nothing more -------------------------
@pytest.mark.parametrize("steps,promise", [
    (("1", "1*14010101", *["1*14010101" + "*99" * n for n in range(1, 6)], "1*14010101*99*99*99*99*99*2"), "leader"),
    (("1", "1*23010101", *["1*23010101" + "*99" * n for n in range(1, 6)], "1*23010101*99*99*99*99*99*2"), "staff"),
    (("2", "2*23010101", "2*23010101*99", "2*23010101*99*99", "2*23010101*99*99*99", "2*23010101*99*99*99*2"),
     "agency"),
    (("3", "3*99", "3*99*2"), "agency"),
], ids=["recruiter-with-a-leader", "recruiter-in-kep-reaches-only-staff", "missing-in-kep", "danger-unknown-place"])
def test_the_last_screen_says_what_routing_will_do_for_this_report(client, services, steps, promise):
    config = services.engine.config
    _choose_language(client, "ATUid_promise_lang", EN_PHONE, "2")
    ussd(client, "ATUid_promise", "", EN_PHONE)
    for full in steps:
        last = ussd(client, "ATUid_promise", full, EN_PHONE)
    assert last.startswith("END ")
    assert config.text("en", f"promise_{promise}") in last
    for other in {"leader", "agency", "staff"} - {promise}:
        assert config.text("en", f"promise_{other}") not in last
    run_worker(services)
    (report,) = _reports(services)
    kinds = {c for c, _ in _alerted(services, report.id)}
    leaders = {c for c in kinds if services.directory.contact(c).kind == "leader"}
    assert bool(leaders) == (promise == "leader")


def test_an_unsorted_sms_promises_no_leader(client, services):
    reply = post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body="a man offers jobs in Thailand"),
                 "valid").get_data(as_text=True)
    config = services.engine.config
    lang = services.directory.line.languages[0]
    assert config.text(lang, "promise_leader") not in reply
    assert config.text(lang, "promise_agency") in reply  # the partner NGO takes unsorted reports


# ---- 5: the rate limit counts sessions and messages, never a session's steps ---------------------
def test_the_rate_limit_never_cuts_a_session_and_speaks_the_phones_language(client, services):
    services.settings.rate_limit_per_minute = 3
    try:
        _choose_language(client, "ATUid_rate_lang", KM_PHONE, "1")  # Khmer, on a line whose first language is km
        ussd(client, "ATUid_rate_long", "", KM_PHONE)
        full = "1"
        for _ in range(12):                             # paging a Khmer list: far more steps than the limit
            screen = ussd(client, "ATUid_rate_long", full, KM_PHONE)
            assert services.engine.config.text("km", "rate_limited") not in screen
            full += "*98"
        ussd(client, "ATUid_rate_third", "", KM_PHONE)  # a third session this minute: still let in
        refused = ussd(client, "ATUid_rate_new", "", KM_PHONE)  # a fourth is one too many
        assert refused.startswith("END ") and services.engine.config.text("km", "rate_limited") in refused
        _choose_language(client, "ATUid_rate_en", EN_PHONE, "2")
        for i in range(2):
            ussd(client, f"ATUid_rate_en{i}", "", EN_PHONE)
        english = ussd(client, "ATUid_rate_en9", "", EN_PHONE)
        assert english == "END " + services.engine.config.text("en", "rate_limited")  # its own language
    finally:
        services.settings.rate_limit_per_minute = Settings().rate_limit_per_minute


# ---- 6: a USSD session belongs to one phone --------------------------------------------------------
@pytest.mark.parametrize("first", ["owner", "intruder"])
def test_a_session_id_reused_by_another_phone_gets_nothing_of_the_first_phones(client, services, first):
    owner, intruder, session = REPORTER, "+85512345699", "ATUid_shared"
    steps = ("", "3", "3*14010101", "3*14010101*2")

    def walk(phone):
        return [ussd(client, session, full, phone) for full in steps]

    answers = {"owner": None, "intruder": None}
    for who in ([first] + [w for w in ("owner", "intruder") if w != first]):
        answers[who] = walk(owner if who == "owner" else intruder)
    reports = _reports(services)
    assert len(reports) == 2                            # each phone has its own report
    owner_report = next(r for r in reports if r.reporter_hash == services.vault.lookup_hash(owner))
    intruder_report = next(r for r in reports if r.reporter_hash == services.vault.lookup_hash(intruder))
    assert owner_report.number in answers["owner"][-1] and owner_report.number not in "".join(answers["intruder"])
    assert intruder_report.number in answers["intruder"][-1]
    with services.Session() as db:
        assert len(db.scalars(select(InboundMessage)).all()) == 6  # each phone's storing steps, once each


# ---- 7: traces on the phone --------------------------------------------------------------------------
def test_the_last_sms_of_an_sms_report_suggests_deleting_the_conversation(client, services):
    def sms(text, sid):
        return post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body=text, MessageSid=sid),
                    "valid").get_data(as_text=True)

    lang = services.directory.line.languages[0]
    hint = services.engine.config.text(lang, "sms_delete_hint")
    menu = sms("hello", "SMt1")
    assert hint not in menu
    answers = ["3", "99"]
    for i, text in enumerate(answers):
        assert hint not in sms(text, f"SMt{i + 2}")
    last = sms("2", "SMt9")
    (report,) = _reports(services)
    assert report.number in last and hint in last
    unsorted = sms("a broker took passports at the market", "SMu1")
    assert hint in unsorted
    assert hint in sms("he drives a white van", "SMu2")  # words added to it: still the last SMS
