"""The dialogue engine, tested pure: no Flask, no database, a dict for storage."""
from __future__ import annotations

import pytest

from hotline import reportnumber
from hotline.engine.screens import fits_final, fits_screen
from hotline.services import CONFIG_DIR, load_config
from hotline.settings import Settings
from tests.kit import FakeBackend

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def engine():
    """The engine on the shipped configuration."""
    settings = Settings.from_env(environ={})
    return load_config(settings, CONFIG_DIR)[1]


class Phone:
    """A USSD or SMS conversation driven like a person would."""

    def __init__(self, engine, channel="ussd", lang="en"):
        self.engine, self.channel, self.lang = engine, channel, lang
        self.backend = FakeBackend()
        self.state = None
        self.inputs: list[str] = []
        self.session = "s1"
        self.now = NOW

    def dial(self):
        self.inputs = []
        return self._ussd("")

    def press(self, text):
        if self.channel == "sms":
            reply = self.engine.sms(self.state, text, self.now, self.backend, self.lang)
            self.state = reply.state
            self._check_fits(reply)
            return reply
        self.inputs.append(text)
        return self._ussd("*".join(self.inputs))

    def _ussd(self, full):
        reply = self.engine.ussd(self.state, full, self.session, self.now, self.backend, self.lang)
        self.state = reply.state
        self._check_fits(reply)
        return reply

    def _check_fits(self, reply):
        fits = fits_final if reply.end else fits_screen
        assert fits(reply.text, self.channel), reply.text

    def last_report(self):
        return list(self.backend.reports.items())[-1]


def test_first_screen_lists_the_six_fixed_entries(engine):
    phone = Phone(engine)
    reply = phone.dial()
    assert not reply.end
    assert reply.text.startswith("Safe Village Line")
    text = reply.text
    while "98 More" in text:
        text = phone.press("98").text
    for n in "12345":
        assert f"\n{n} " in reply.text + "\n" + text


def test_recruiter_report_over_ussd_by_lists(engine):
    phone = Phone(engine)
    phone.dial()
    assert "Which province?" in phone.press("1").text
    assert "Which district?" in phone.press("14").text      # Prey Veng is province 14, item 14
    assert "Which commune?" in phone.press("1").text        # Ba Phnum
    assert "Which village?" in phone.press("1").text        # Boeng Preah
    assert "What work" in phone.press("1").text             # Angkrong
    assert "country" in phone.press("2").text               # fishing boat
    assert "phone number" in phone.press("1").text          # Thailand
    assert "Agency" in phone.press("012 345 678").text
    assert "When" in phone.press("white van*blue sign").text
    assert "call you back" in phone.press("99").text
    reply = phone.press("1")
    assert reply.end and reply.state is None
    number, stored = phone.last_report()
    assert number in reply.text and reportnumber.is_valid(number)
    draft = stored["draft"]
    assert draft.type == "recruiter" and draft.area_code == "14010101" and draft.consent is True
    assert draft.answers == {"area": "14010101", "job": "job_fishing", "destination": "dest_th",
                             "recruiter_phone": "+85512345678", "recruiter_details": "white van*blue sign",
                             "when": None, "consent": True}


def test_typed_village_code_and_dont_know(engine):
    phone = Phone(engine)
    phone.dial()
    phone.press("2")
    assert "country" in phone.press("14010101").text
    phone = Phone(engine)
    phone.dial()
    phone.press("2")
    phone.press("14")
    assert "country" in phone.press("99").text              # don't know the district: keeps Prey Veng
    for answer in ("99", "99", "99"):
        phone.press(answer)
    reply = phone.press("2")
    assert reply.end
    assert phone.last_report()[1]["draft"].area_code == "14"


def test_back_and_main_menu(engine):
    phone = Phone(engine)
    phone.dial()
    phone.press("1")
    phone.press("14")
    assert "Which province?" in phone.press("0").text       # back up a level
    phone.press("14010101")
    assert "Which province?" in phone.press("0").text       # back to the previous question
    assert phone.press("00").text.startswith("Safe Village Line")


def test_long_lists_page_with_98(engine):
    phone = Phone(engine)
    phone.dial()
    first = phone.press("1").text
    assert "98 More" in first
    second = phone.press("98").text
    assert second != first
    assert "1 Banteay" in first and "1 Banteay" not in second   # the list goes on where it stopped
    assert "Which province?" in first


@pytest.mark.parametrize("lang", ["en", "km"])
def test_danger_shows_the_emergency_numbers_at_once_and_stores_the_report_then(engine, lang):
    """docs/safety.md: the very next screen after 3 shows 117 and 1288 (and asks where, optionally);
    the report exists from that moment; then: may someone call back?"""
    phone = Phone(engine, lang=lang)
    phone.dial()
    after_three = phone.press("3")
    assert "117" in after_three.text and "1288" in after_three.text and not after_three.end
    assert len(phone.backend.reports) == 1                    # stored before any question
    number, stored = phone.last_report()
    assert stored["draft"].type == "urgent" and stored["draft"].area_code is None
    consent = phone.press("99")                               # where: don't know
    assert not consent.end and "1 " in consent.text           # may someone call back?
    reply = phone.press("1")
    assert reply.end and number in reply.text and "117" in reply.text
    assert len(phone.backend.reports) == 1                    # the same report, answered
    draft = phone.backend.reports[number]["draft"]
    assert draft.consent is True and draft.area_code is None


def test_danger_report_gets_each_answer_as_it_comes(engine):
    """A session that drops after the place loses nothing: the place is already on the report."""
    phone = Phone(engine)
    phone.dial()
    phone.press("3")
    number = phone.last_report()[0]
    phone.press("14010101")
    assert phone.backend.reports[number]["draft"].area_code == "14010101"
    assert phone.backend.updates[-1][0] == number


def test_danger_report_is_stored_once_when_the_session_is_replayed(engine):
    """Redis lost the state mid-session: the replayed inputs find the report stored at 3."""
    phone = Phone(engine)
    phone.dial()
    phone.press("3")
    phone.state = None                                        # our state was lost
    phone.press("14010101")
    assert len(phone.backend.reports) == 1


def test_missing_migrant_in_khmer(engine):
    phone = Phone(engine, lang="km")
    assert phone.dial().text.startswith(engine.config.texts["km"].get("line_name", "Safe Village Line"))
    phone.press("2")
    phone.press("23010101")                                 # a village of Kep, typed
    for answer in ("1", "5", "1"):
        phone.press(answer)
    reply = phone.press("2")
    assert reply.end
    draft = phone.last_report()[1]["draft"]
    assert draft.type == "missing" and draft.language == "km" and draft.consent is False
    assert draft.answers["last_contact"] == "last_more"


def test_check_a_number(engine):
    phone = Phone(engine)
    phone.dial()
    phone.press("3")
    phone.press("99")
    phone.press("2")
    number = phone.last_report()[0]
    phone.session = "s2"
    phone.dial()
    phone.press("4")
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert "mistake" in phone.press(wrong).text
    unknown = "1234" + "56"
    unknown += reportnumber.check_digit(unknown)
    assert "nothing" in phone.press(unknown).text
    reply = phone.press(number)
    assert reply.end and "received" in reply.text


def test_tips_and_language(engine):
    phone = Phone(engine, lang="km")
    phone.dial()
    phone.press("5")
    assert phone.press("1").text != phone.press("0").text
    phone.press("00")
    phone.press("6")
    reply = phone.press("2")
    assert phone.backend.language == "en"
    assert reply.text.startswith("Safe Village Line")


def test_dropped_session_offers_to_continue(engine):
    phone = Phone(engine)
    phone.dial()
    phone.press("1")
    phone.press("14")
    phone.session, phone.now = "s2", NOW + 60
    reply = phone.dial()
    assert "Continue" in reply.text
    assert "Which commune?" not in reply.text
    assert "Which district?" in phone.press("1").text


def test_redial_after_five_minutes_starts_afresh(engine):
    phone = Phone(engine)
    phone.dial()
    phone.press("1")
    phone.session, phone.now = "s2", NOW + 301
    assert phone.dial().text.startswith("Safe Village Line")


def test_lost_state_is_rebuilt_from_the_session_inputs(engine):
    phone = Phone(engine)
    phone.dial()
    phone.press("1")
    phone.state = None                                      # Redis emptied mid-session
    assert "Which district?" in phone.press("14").text


def test_sms_menu_flow_and_expiry(engine):
    phone = Phone(engine, channel="sms")
    assert phone.press("hello").text.startswith("Safe Village Line")
    assert "Which province?" in phone.press("1").text
    phone.now += 31 * 60
    reply = phone.press("14")
    assert "cleared" in reply.text and reply.text.endswith("Reply with a number.")


def test_sms_free_text_is_an_unsorted_report_and_more_words_are_added(engine):
    phone = Phone(engine, channel="sms")
    reply = phone.press("a man in a van offers jobs in Thailand")
    number, stored = phone.last_report()
    assert stored["draft"].type == "unsorted" and number in reply.text
    assert stored["draft"].answers == {"text": "a man in a van offers jobs in Thailand"}
    phone.press("he comes on Mondays")
    assert phone.backend.details == [(number, "he comes on Mondays")]
    assert phone.press("00").text.startswith("Safe Village Line")


def test_sms_several_words_at_a_menu_are_kept_as_a_report(engine):
    phone = Phone(engine, channel="sms")
    phone.press("hi")
    reply = phone.press("my son went to Malaysia")
    assert phone.last_report()[1]["draft"].type == "unsorted"
    assert "Saved as number" in reply.text


@pytest.mark.parametrize("text,expect", [
    ("HELP", "1288"), ("help", "1288"), ("ជំនួយ", "1288"), ("chomnuoy", "1288"),
    ("STATUS", "like STATUS"), ("status 1234567", "mistake"), ("STOP", "no more messages"),
    ("ឈប់", "no more messages"), ("START", "Welcome back"), ("OK 1234567", "mistake"),
    ("ok", "Send OK and the number"),
])
def test_sms_keywords(engine, text, expect):
    phone = Phone(engine, channel="sms")
    assert expect in phone.press(text).text


def test_status_keyword_with_khmer_digits(engine):
    phone = Phone(engine, channel="sms")
    phone.press("a recruiter came to our village")
    number = phone.last_report()[0]
    khmer = number.translate(str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩"))
    assert "received" in phone.press(f"ស្ថានភាព {khmer}").text


def test_stop_and_start_reach_the_backend(engine):
    phone = Phone(engine, channel="sms")
    phone.press("STOP")
    assert phone.backend.opted_out is True
    phone.press("start")
    assert phone.backend.opted_out is False


def test_ok_goes_to_the_backend(engine):
    phone = Phone(engine, channel="sms")
    number = "123456"
    number += reportnumber.check_digit(number)
    assert "local leaders" in phone.press(f"OK {number}").text
    assert phone.backend.acks == [number]


@pytest.mark.parametrize("channel", ["ussd", "sms"])
@pytest.mark.parametrize("lang", ["en", "km"])
def test_every_question_screen_says_how_to_go_back_on_one_of_its_pages(engine, channel, lang):
    """'0 Back 00 Menu' is never dropped for lack of room: it is on the first page, or closes the list."""
    nav = f"{engine.config.text(lang, 'nav_back')} {engine.config.text(lang, 'nav_menu')}"
    hint = engine.config.text(lang, "area_code_hint")
    for flow in engine.config.flows.values():
        for qi, q in enumerate(flow.questions):
            for area in ((None, "14", "1401", "140101") if q.kind == "area" else (None,)):
                state = {"v": 1, "ch": channel, "lang": lang, "ts": 0, "page": 0, "at": "q", "flow": flow.type,
                         "qi": qi, "answers": {}, "area": area}
                pages = engine.render(state).state["pages"]
                shown = "\n".join(engine.render(dict(state, page=p)).text for p in range(pages))
                assert nav in shown, (flow.type, q.id, area)
                assert q.kind != "area" or hint in shown, (flow.type, q.id, area)


def test_danger_chosen_twice_in_one_sms_conversation_is_one_report(engine):
    phone = Phone(engine, channel="sms")
    phone.press("hello")
    phone.press("3")
    phone.press("00")
    phone.press("3")
    assert len(phone.backend.reports) == 1


@pytest.mark.parametrize("text,report", [
    ("ខ្ញុំឃើញមេខ្យល់នៅផ្សារថ្ងៃនេះ", True),           # a Khmer sentence, written without spaces
    ("ខ្ញុំ\u200bឃើញ\u200bមេខ្យល់", True),            # Khmer words with zero-width spaces between
    ("a broker came", True),
    ("សួស្ដី", False),                                  # one Khmer word: hello
    ("hello", False),
])
def test_khmer_written_without_spaces_is_still_words_that_make_a_report(engine, text, report):
    phone = Phone(engine, channel="sms", lang="km")
    phone.press(text)
    assert bool(phone.backend.reports) is report
