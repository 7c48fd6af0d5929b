"""The voice line (docs/contract.md section 8): calls through TwiML, signed like SMS, driven by the
same dialogue as USSD. Every answer is checked against what Twilio and Somleng accept (the
`Caller` of tests/kit.py runs it through hotline.voice.schema)."""
from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import select

from hotline.models import InboundMessage, OutboundMessage, Report
from hotline.settings import ROOT
from hotline.voice import schema
from tests.kit import (
    BASE,
    VOICE,
    Caller,
    call_form,
    run_worker,
    signed_post,
    test_tone,
    twilio_signature,
    ussd,
)

ANGKRONG = "14010101"
"""A village whose leader (+85512000001) the sample directory alerts."""

VILLAGE_LEADER, DUTY_UNIT = "+85512000001", "+85512888888"


def number_heard(heard: str) -> str:
    """The report number a caller heard, digit by digit, twice (the two must agree)."""
    found = re.search(r"Your report number is ((?:\d ?)+)\. Again: ((?:\d ?)+)\.", heard)
    assert found, heard
    first, again = found.group(1).replace(" ", ""), found.group(2).replace(" ", "")
    assert first == again and len(first) == 7
    return first


def alerted(services, number: str) -> set[str]:
    """Who an SMS alert about a report went to (after the worker ran)."""
    with services.Session() as db:
        report = db.scalar(select(Report).where(Report.number == number))
        rows = db.scalars(select(OutboundMessage).where(OutboundMessage.report_id == report.id,
                                                        OutboundMessage.purpose == "alert")).all()
        return {services.vault.decrypt(m.recipient) for m in rows}


# ---- a whole report by keypad ---------------------------------------------------------------------
def test_the_first_menu_is_usssds_read_aloud(client):
    call = Caller(client, "CA-menu")
    heard = call.dial()
    assert heard.startswith("Safe Village Line. For Worrying job offer, press 1. For Lost contact with family, press 2. "
                            "For Someone in danger now, press 3. For Check my number, press 4. For Safe work abroad "
                            "tips, press 5. For Language, press 6. To hear this again, press star.")
    assert '<Gather action="https://line.example.org/webhooks/twilio/voice?s=1"' in call.twiml
    assert 'input="dtmf"' in call.twiml and 'numDigits="1"' in call.twiml and '<Say language="en-US">' in call.twiml
    assert call.silent == "https://line.example.org/webhooks/twilio/voice?s=1&silent=1"


def test_an_english_call_makes_every_report_type_and_alerts_as_ussd_does(client, services):
    recruiter = Caller(client, "CA-recruiter", phone="+85512345601")
    recruiter.dial()
    assert recruiter.press("1").startswith("Where was the job offered? Which province? For Banteay Meanchey, press 1.")
    assert "Or type the village code and then hash." in recruiter.heard
    assert recruiter.press(ANGKRONG).startswith("What work was offered? For Factory, press 1.")
    assert "For more, press 9 8 and then hash." in recruiter.heard  # 7 options: read 6 at a time
    assert recruiter.press("98").startswith("For Other work, press 7. To skip, press 9 9 and then hash.")
    recruiter.press("7")                        # the job
    recruiter.press("1")                        # Thailand
    assert recruiter.heard.startswith("Type the phone number the person gave, and then hash.")
    assert recruiter.press("012777888").startswith("When was the offer?")   # free words are not asked on a call
    recruiter.press("2")
    assert recruiter.press("1").startswith("Thank you. A local leader will be told. Your report number is")
    assert recruiter.ended and "<Hangup />" in recruiter.twiml
    numbers = {"recruiter": number_heard(recruiter.heard)}

    missing = Caller(client, "CA-missing", phone="+85512345602")
    missing.dial()
    for key in ("2", ANGKRONG, "99", "99", "99"):
        missing.press(key)
    assert missing.press("2").startswith("Thank you.")
    numbers["missing"] = number_heard(missing.heard)

    urgent = Caller(client, "CA-urgent", phone="+85512345603")
    urgent.dial()
    assert urgent.press("3").startswith("Call 1 1 7 or 1 2 8 8 now. Where is the person?")
    urgent.press(ANGKRONG)
    assert urgent.press("2").startswith("A local leader will be told. If you can, call 1 1 7 or 1 2 8 8.")
    numbers["urgent"] = number_heard(urgent.heard)

    run_worker(services)
    with services.Session() as db:
        stored = {r.type: r for r in db.scalars(select(Report))}
    assert {t: r.number for t, r in stored.items()} == numbers
    for report in stored.values():
        assert (report.channel, report.provider, report.line_number, report.area_code) == \
            ("voice", "twilio", "+85512345000", ANGKRONG)
    assert stored["recruiter"].answers == {"area": ANGKRONG, "job": "job_other", "destination": "dest_th",
                                           "recruiter_phone": "+85512777888", "when": "when_week", "consent": True}
    assert stored["missing"].consent is False
    # The same contacts as a USSD report from the same place.
    assert VILLAGE_LEADER in alerted(services, numbers["recruiter"])
    assert VILLAGE_LEADER in alerted(services, numbers["missing"])
    assert {VILLAGE_LEADER, DUTY_UNIT} <= alerted(services, numbers["urgent"])
    for full in ("", "1", f"1*{ANGKRONG}", *(f"1*{ANGKRONG}" + "*99" * n for n in range(1, 6)), f"1*{ANGKRONG}*99*99*99*99*99*1"):
        ussd(client, "ATUid_compare", full, phone="+85512345604")
    run_worker(services)
    with services.Session() as db:
        by_ussd = db.scalar(select(Report).where(Report.channel == "ussd"))
    assert alerted(services, by_ussd.number) == alerted(services, numbers["recruiter"])


def test_places_by_keypad_in_pages_of_six_or_by_their_code(client, services):
    call = Caller(client, "CA-places")
    call.dial()
    call.press("1")
    assert "For Kampong Thom, press 6." in call.heard and "press 7" not in call.heard
    assert call.press("98").startswith("For Kampot, press 7.")            # the next six, numbered as on USSD
    call.press("98")
    assert "For Prey Veng, press 1 4." in call.heard
    assert call.press("14").startswith("Prey Veng. Which district? For Ba Phnum, press 1.")
    call.press("1")
    assert call.press("1").startswith("Boeng Preah. Which village? For Angkrong, press 1.")
    assert call.press("1").startswith("What work was offered?")
    for key in ("99", "99", "99", "99", "2"):
        call.press(key)
    with services.Session() as db:
        assert db.scalar(select(Report.area_code)) == ANGKRONG


def test_star_repeats_zero_goes_back_and_a_wrong_key_is_named(client):
    call = Caller(client, "CA-keys")
    first = call.dial()
    assert call.press("*") == first
    assert call.press("9").startswith("That key is not on the list. For Worrying job offer, press 1.")
    call.press("1")
    call.press(ANGKRONG)
    assert call.press("0").startswith("Where was the job offered?")
    assert call.press("0").startswith("Safe Village Line.")


def test_checking_a_report_by_its_number_typed_then_hash(client, services):
    call = Caller(client, "CA-done")
    call.dial()
    for key in ("3", "99"):
        call.press(key)
    number = number_heard(call.press("1"))
    check = Caller(client, "CA-check", phone="+85512345699")
    check.dial()
    assert check.press("4").startswith("Type your report number and then hash.")
    assert check.press(number[:-1] + str((int(number[-1]) + 1) % 10)).startswith("That number has a mistake.")
    heard = check.press(number)
    assert heard == f"Number {' '.join(number)}: received. Goodbye." and check.ended


# ---- the danger path, stored at once ---------------------------------------------------------------
def test_danger_names_the_emergency_numbers_first_and_is_stored_when_3_is_pressed(client, services):
    call = Caller(client, "CA-danger")
    call.dial()
    heard = call.press("3")
    assert heard.startswith("Call 1 1 7 or 1 2 8 8 now.")
    with services.Session() as db:
        report = db.scalar(select(Report))
    assert (report.type, report.channel, report.area_code) == ("urgent", "voice", None)
    call.hang_up("completed")       # the caller hung up at once: the duty contacts still hear of it
    run_worker(services)
    assert DUTY_UNIT in alerted(services, report.number)


# ---- resume, silence and the end of a call ----------------------------------------------------------
def test_a_call_dropped_mid_report_may_continue_within_5_minutes(client, services):
    call = Caller(client, "CA-drop-1")
    call.dial()
    call.press("1")
    call.press(ANGKRONG)
    call.hang_up("completed")
    refused = call.post(call.action, Digits="1")
    assert refused.status_code == 409 and b"this call has ended" in refused.data
    again = Caller(client, "CA-drop-2")
    assert again.dial() == "Continue where you stopped? For Continue, press 1. For Start again, press 2. " \
                           "To hear this again, press star."
    assert again.press("1").startswith("What work was offered?")
    for key in ("99", "99", "99", "99", "2"):
        again.press(key)
    with services.Session() as db:
        assert db.scalar(select(Report.area_code)) == ANGKRONG
    fresh = Caller(client, "CA-drop-3")
    fresh.dial()
    assert fresh.heard.startswith("Safe Village Line.")   # the report was stored: nothing to continue


def test_start_again_instead_of_continuing(client):
    call = Caller(client, "CA-restart-1")
    call.dial()
    call.press("2")
    call.hang_up("no-answer")
    again = Caller(client, "CA-restart-2")
    again.dial()
    assert again.press("2").startswith("Safe Village Line. For Worrying job offer, press 1.")


def test_a_silent_caller_is_asked_again_then_the_call_ends_politely(client, services):
    call = Caller(client, "CA-silent")
    first = call.dial()
    assert call.wait() == "We did not hear a key. " + first
    call.wait()
    assert call.wait() == "We did not hear a key. Please call again when you can. Goodbye."
    assert call.ended                                       # 3 prompts of 8 s: past the 20 s of silence
    assert call.post(BASE + VOICE + "?s=4&silent=1").status_code == 409


@pytest.mark.parametrize("fields", [{}, {"Digits": ""}, {"Digits": "#"}])
def test_a_prompt_answered_with_no_key_is_silence_whatever_the_platform_sends(client, fields):
    call = Caller(client, "CA-nothing")
    first = call.dial()
    response = call.post(call.action, **fields)
    assert response.status_code == 200 and call._answer(response) == "We did not hear a key. " + first


def test_pressing_a_key_after_silence_starts_the_count_again(client, services):
    call = Caller(client, "CA-silent-then")
    call.dial()
    call.wait()
    call.wait()
    call.press("5")
    call.wait()
    assert not call.ended


# ---- costs and limits -------------------------------------------------------------------------------
def test_repeated_calls_are_rate_limited_without_cutting_a_call_in_progress(client, services):
    services.settings.rate_limit_per_minute = 2
    first, second, third = (Caller(client, f"CA-rate-{i}") for i in range(3))
    first.dial()
    second.dial()
    assert third.dial() == "Too many calls from this phone. Please call again later. Goodbye." and third.ended
    for key in ("3", "99"):       # the call in progress goes on to the end
        second.press(key)
    assert second.press("2").startswith("A partner group will be told.")   # no place: the duty unit only


# ---- requests the line refuses ------------------------------------------------------------------------
HOSTILE = [
    # (label, fields changed (None removes), query, signature, status, words of the answer)
    ("unsigned", {}, "", "none", 403, "missing X-Twilio-Signature"),
    ("forged signature", {}, "", "forged", 403, "does not match"),
    ("signed with another token", {}, "", "wrong-token", 403, "does not match"),
    ("signed for another URL", {}, "", "other-url", 403, "does not match"),
    ("fields changed after signing", {}, "", "tampered", 403, "does not match"),
    ("missing CallSid", {"CallSid": None}, "", "valid", 400, "missing required field: CallSid"),
    ("CallSid not a call id", {"CallSid": "../../etc"}, "", "valid", 400, "CallSid is not a call id"),
    ("missing From", {"From": None}, "", "valid", 400, "missing required field: From"),
    ("From not a phone", {"From": "anonymous"}, "", "valid", 400, "From is not a phone number"),
    ("Digits with letters", {"Digits": "12ab"}, "?s=1", "valid", 400, "Digits is not keys"),
    ("Digits far too long", {"Digits": "1" * 60}, "?s=1", "valid", 400, "Digits is not keys"),
    ("Digits with no prompt", {"Digits": "1"}, "", "valid", 400, "without the prompt it answers"),
    ("prompt not a number", {"Digits": "1"}, "?s=abc", "valid", 400, "query s"),
    ("prompt 0", {"Digits": "1"}, "?s=0", "valid", 400, "query s"),
    ("a prompt never given", {"Digits": "1"}, "?s=7", "valid", 409, "prompt 7 was never given on this call"),
]


@pytest.mark.parametrize("label,changes,query,signing,status,words", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_requests_are_refused_naming_the_problem(client, services, label, changes, query, signing, status, words):
    Caller(client, "CA-hostile").dial()          # a call at prompt 1
    form = call_form("CA-hostile", **changes)
    url = BASE + VOICE + query
    signature = twilio_signature(signing, url, form, "From")
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = client.post(VOICE + query, data=form, headers=headers, base_url="http://localhost")
    assert response.status_code == status, response.data
    assert words in response.get_data(as_text=True)
    with services.Session() as db:
        assert db.scalars(select(Report)).all() == [] and db.scalars(select(InboundMessage)).all() == []


def test_a_resent_step_gets_the_same_answer_and_an_earlier_one_is_refused(client, services):
    call = Caller(client, "CA-replay")
    call.dial()
    action = call.action
    call.press("3")
    answer = call.twiml
    again = call.post(action, Digits="3")
    assert again.status_code == 200 and again.get_data(as_text=True) == answer      # a resend: the same answer
    other = call.post(action, Digits="1")
    assert other.status_code == 409 and b"answered already" in other.data          # a replay of an earlier prompt
    with services.Session() as db:
        assert len(db.scalars(select(Report)).all()) == 1


def test_a_call_whose_number_differs_gets_none_of_another_phones_call(client, services):
    mine = Caller(client, "CA-mine")
    mine.dial()
    mine.press("3")
    theirs = Caller(client, "CA-mine", phone="+85512345698")    # the same CallSid from another phone
    assert theirs.dial().startswith("Safe Village Line.")
    refused = theirs.post(mine.action, Digits="1")           # the first phone's prompt: not this one's
    assert refused.status_code == 409


@pytest.mark.parametrize("form,words", [
    ({"CallStatus": None}, "missing required field: CallStatus"),
    ({"CallStatus": "exploded"}, "unknown status"),
    ({"CallStatus": "completed", "CallDuration": "ten"}, "CallDuration is not a number"),
    ({"CallSid": None, "CallStatus": "completed"}, "CallSid"),
])
def test_hostile_status_callbacks(client, form, words):
    fields = call_form("CA-status", **form)
    response = signed_post(client, BASE + VOICE + "/status", fields)
    assert response.status_code == 400 and words in response.get_data(as_text=True)


# ---- Khmer: refused on calls until its clips exist ---------------------------------------------------------
@pytest.fixture
def khmer_clips(settings, tmp_path):
    """A voice folder with every Khmer clip the line needs, each a test tone the test makes (no Khmer
    voice exists here: these are never speech, and never shipped)."""
    from hotline.services import load_config

    folder = tmp_path / "voice"
    folder.mkdir()
    shutil.copy(ROOT / "config" / "voice" / "languages.yaml", folder / "languages.yaml")
    _, engine = load_config(settings)
    km = next(r for r in engine.voice_report if r.lang == "km")
    assert not km.offered and len(km.missing) == len(km.needed) > 50
    tone = test_tone(0.4)   # about a short word's length: the voice budget measures the clips
    (folder / "km").mkdir()
    for clip in km.needed:
        (folder / "km" / f"{clip.id}.wav").write_bytes(tone)
    settings.voice_dir = str(folder)
    return folder


def test_khmer_is_not_offered_on_calls_until_every_clip_is_recorded(client, services, capsys):
    from hotline import check

    assert services.engine.voice_setup.offered == ("en",)
    call = Caller(client, "CA-km", phone="+85512345611")
    heard = call.dial()                             # a Khmer reporter (the line's first language) hears English
    assert heard.startswith("Safe Village Line.") and "[clip" not in heard
    call.press("6")
    assert call.heard.startswith("Choose a language. For English, press 1. To go back")   # only languages calls can speak
    assert check.main(services.settings) == 0
    printed = capsys.readouterr().out
    assert "voice: km is spoken from recorded clips: 107 clips to record" in printed
    assert "NOT offered on calls until its 107 missing clips are recorded" in printed
    assert "  missing clip km/menu_recruiter: ការងារសង្ស័យ" in printed
    assert "  missing clip km/voice_digit_7: ប្រាំពីរ" in printed
    assert "voice: en is spoken by the platform's text-to-speech" in printed


def test_a_whole_khmer_report_by_keypad_once_its_clips_exist(khmer_clips, client, services, capsys):
    from hotline import check

    assert services.engine.voice_setup.offered == ("km", "en")
    assert check.main(services.settings) == 0
    assert "107 recorded; offered on calls" in capsys.readouterr().out
    call = Caller(client, "CA-km-clips", phone="+85512345612")
    heard = call.dial()
    assert heard.startswith("[clip km/line_name] [clip km/voice_option.1] [clip km/menu_recruiter] "
                            "[clip km/voice_option.2] [clip km/voice_digit_1] [clip km/voice_option.1]")
    assert "<Say" not in call.twiml
    clip = re.search(r"<Play>https://line.example.org(/voice/km/menu_recruiter.wav)\?v=\d+</Play>", call.twiml)
    served = client.get(clip.group(1))
    assert served.status_code == 200 and served.mimetype == "audio/wav" and served.data == test_tone(0.4)
    heard = call.press("1")
    # No place name is recorded: the village code is typed instead.
    assert heard.startswith("[clip km/q_area_recruiter] [clip km/area_province] [clip km/voice_code_only]")
    for key in (ANGKRONG, "99", "99", "99", "99"):
        call.press(key)
    heard = call.press("1")
    assert call.ended and heard.startswith("[clip km/voice_done_report.1] [clip km/promise_leader] "
                                           "[clip km/voice_your_number.1] [clip km/voice_digit_")
    with services.Session() as db:
        report = db.scalar(select(Report))
    assert (report.language, report.channel, report.area_code) == ("km", "voice", ANGKRONG)
    digits = [d for d in re.findall(r"voice_digit_(\d)", heard)]
    assert "".join(digits) == report.number * 2                # the number read digit by digit, twice


def test_place_names_are_played_where_every_name_of_a_level_is_recorded(khmer_clips, client, services):
    (khmer_clips / "km" / "areas").mkdir()
    for area in services.engine.areas.children(None):
        (khmer_clips / "km" / "areas" / f"{area.code}.wav").write_bytes(test_tone(0.4))
    assert services.reload() == []
    call = Caller(client, "CA-km-places", phone="+85512345613")
    call.dial()
    heard = call.press("1")
    assert "[clip km/voice_option.1] [clip km/areas/01] [clip km/voice_option.2] [clip km/voice_digit_1]" in heard
    assert "[clip km/voice_code_hint]" in heard
    assert call.press("14").count("[clip km/voice_code_only]") == 1        # districts: not recorded


def test_a_clip_that_is_not_one_is_not_served(client):
    for path in ("/voice/km/../../config/directory.yaml", "/voice/xx/menu.wav", "/voice/km/menu.txt",
                 "/voice/km/missing.wav", "/voice/km/%2e%2e%2fsecret.wav"):
        assert client.get(path).status_code == 404, path


# ---- the voice budget and the TwiML schema ---------------------------------------------------------------
def test_the_check_refuses_a_prompt_too_long_to_hear(services, monkeypatch):
    import copy

    from hotline.check import CheckResult, measure_calls

    engine = copy.copy(services.engine)
    engine.config = copy.deepcopy(engine.config)
    result = CheckResult()
    measure_calls(engine, result)
    assert result.errors == []
    engine.config.texts["en"]["tip_3"] = "Never let a broker keep your passport. " * 20
    measure_calls(engine, result)
    assert len(result.errors) == 1 and "[voice] the prompt for 'tip_3' takes" in str(result.errors[0])


@pytest.mark.parametrize("document,problem", [
    ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather><Pause length="1"/></Gather></Response>',
     "<Pause> is no TwiML verb"),
    ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather numDigits="0"><Say>a</Say></Gather></Response>',
     "numDigits='0'"),
    ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather><Record/></Gather></Response>',
     "<Record> may not be inside <Gather>"),
    ('<?xml version="1.0" encoding="UTF-8"?><Response><Say colour="red">a</Say></Response>', "no attribute 'colour'"),
    ('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/><Say>a</Say></Response>', "never reached"),
    ('<?xml version="1.0" encoding="UTF-8"?><Response><Play>menu.wav</Play></Response>', "a URL"),
    ('<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="line">+85512345678</Dial></Response>',
     "callerId='line'"),
    ('<Response/>', "XML declaration"),
])
def test_the_schema_refuses_what_the_platforms_refuse(document, problem):
    assert any(problem in p for p in schema.problems(document)), schema.problems(document)


def test_a_resend_of_a_signed_first_request_is_answered_the_same(client):
    form = call_form("CA-first")
    first = signed_post(client, BASE + VOICE, form)
    second = signed_post(client, BASE + VOICE, form)
    assert first.status_code == second.status_code == 200 and first.data == second.data


def test_no_language_to_speak_rejects_the_call(client, services, monkeypatch):
    from dataclasses import replace as swap

    monkeypatch.setattr(services.engine, "voice_setup", swap(services.engine.voice_setup, offered=()))
    response = signed_post(client, BASE + VOICE, call_form("CA-none"))
    assert response.status_code == 200 and "<Reject />" in response.get_data(as_text=True)
    assert schema.problems(response.get_data(as_text=True)) == []


def test_nothing_of_the_caller_location_is_kept(client, services):
    call = Caller(client, "CA-where")
    call.dial()
    call.press("3")
    with services.Session() as db:
        report = db.scalar(select(Report))
        row = db.scalar(select(InboundMessage))
    assert "PREY VENG" not in str(report.answers) and "PREY VENG" not in row.reply


# ---- a drill: the web process replaced in the middle of a call ------------------------------------------
@pytest.mark.drill
def test_a_call_goes_on_when_its_web_process_is_killed_and_replaced(app, settings, services, tmp_path):
    """The call's state is in Redis and the database, never in a process: gunicorn is killed (SIGKILL,
    no clean-up) between two prompts, a new one answers the next, and the report is made once."""
    import http.client
    import os
    import signal
    import subprocess
    import urllib.parse

    from twilio.request_validator import RequestValidator

    from tests.kit import TEST_ENV, TWILIO_TOKEN, free_port, start_gunicorn

    port = free_port()
    env = dict(os.environ, **TEST_ENV, REDIS_URL=settings.redis_url, DATABASE_URL=settings.database_url)

    def start(name: str) -> subprocess.Popen:
        with open(tmp_path / f"{name}.log", "w") as log:  # the server keeps its own copy of the file
            return start_gunicorn(port, env, log, start_new_session=True)

    def post(url: str, **fields) -> str:
        form = call_form("CA-drill", **fields)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("POST", url[len(BASE):], body=urllib.parse.urlencode(form),
                     headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == 200, body
        assert schema.problems(body) == []
        return body

    def action(twiml: str) -> str:
        return re.search(r'<Gather action="([^"]+)"', twiml).group(1).replace("&amp;", "&")

    first = start("first")
    try:
        twiml = post(BASE + VOICE)
        twiml = post(action(twiml), Digits="1")
        twiml = post(action(twiml), Digits=ANGKRONG)
        assert "What work was offered?" in twiml
    finally:
        os.killpg(first.pid, signal.SIGKILL)   # the web process dies between two prompts
        first.wait(timeout=10)
    second = start("second")
    try:
        twiml = post(action(twiml), Digits="99")
        assert "In which country?" in twiml          # the same call, where it was
        for key in ("99", "99", "99"):
            twiml = post(action(twiml), Digits=key)
        twiml = post(action(twiml), Digits="1")
        assert "Your report number is" in twiml and "<Hangup />" in twiml
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=20)
    with services.Session() as db:
        reports = db.scalars(select(Report)).all()
    assert [(r.area_code, r.channel, r.consent) for r in reports] == [(ANGKRONG, "voice", True)]


@pytest.mark.parametrize("text,problem", [
    ("en:\n  say: {language: en-US, colour: red}\n", "en.say: may set only voice, language"),
    ("en:\n  say: hello\n", "en.say: may set only voice, language"),
    ("km:\n  clips: true\n  speed: 2\n", "km: give say: {voice, language} or clips: true"),
    ("- en\n", "must map each language"),
])
def test_a_wrong_languages_file_is_named_with_its_line(tmp_path, text, problem):
    from hotline.errors import ConfigError
    from hotline.voice.catalogue import read_languages

    (tmp_path / "languages.yaml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        read_languages(tmp_path, ("km", "en"))
    assert problem in str(raised.value) and "languages.yaml" in str(raised.value)


def test_how_each_language_is_spoken_by_default(tmp_path):
    from hotline.voice.catalogue import read_languages

    assert read_languages(tmp_path, ("km", "en")) == {"km": None, "en": {"language": "en-US"}}
    (tmp_path / "languages.yaml").write_text("km:\n  say: {voice: Basic.Kal, language: km-KH}\nth:\n  clips: true\n")
    assert read_languages(tmp_path, ("km", "en")) == {"km": {"voice": "Basic.Kal", "language": "km-KH"},
                                                      "en": {"language": "en-US"}}
