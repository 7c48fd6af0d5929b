"""The terminal phone simulator: its pure parts, and its loop against a fake line (no server); and the web
simulator's outbox query."""
from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # lets a bare `pytest tests/test_simulator.py` import the package
    sys.path.insert(0, str(ROOT))

from hotline.simulator import terminal  # noqa: E402
from hotline.simulator.terminal import (  # noqa: E402
    Phone,
    describe_outbox,
    full_text,
    normalise_phone,
    parse_ussd,
    random_phone,
    screen,
    twiml_messages,
    twiml_text,
)

# ---------------------------------------------------------------- USSD answers


@pytest.mark.parametrize("body, expected", [
    ("CON Welcome\n1. Job offer\n2. Lost contact", (False, "Welcome\n1. Job offer\n2. Lost contact")),
    ("END Thank you. Report 4821.", (True, "Thank you. Report 4821.")),
    ("CON ", (False, "")),
    ("END", (True, "")),
    ("CON\n1. Yes", (False, "1. Yes")),
    ("CON  two spaces", (False, " two spaces")),
    ("Service temporarily unavailable", (True, "Service temporarily unavailable")),
    ("CONTINUE", (True, "CONTINUE")),  # not the CON keyword
    ("", (True, "")),
])
def test_parse_ussd(body, expected):
    assert parse_ussd(body) == expected


def test_full_text_joins_the_session_inputs_with_stars():
    assert full_text([]) == ""
    assert full_text(["1"]) == "1"
    assert full_text(["1", "3", "2"]) == "1*3*2"


# ---------------------------------------------------------------- TwiML


def test_twiml_one_message_with_entities():
    body = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Report 12 &amp; '
            '&lt;thanks&gt; &#6016;</Message></Response>')
    assert twiml_messages(body) == ["Report 12 & <thanks> \u1780"]
    assert twiml_text(body) == "Report 12 & <thanks> \u1780"


def test_twiml_empty_response_has_no_message():
    assert twiml_messages('<?xml version="1.0" encoding="UTF-8"?><Response />') == []
    assert twiml_messages("<Response></Response>") == []
    assert twiml_messages("") == []
    assert twiml_text("<Response/>") == ""


def test_twiml_several_messages_and_body_children():
    body = "<Response><Message>one</Message><Message><Body>two\nlines</Body></Message></Response>"
    assert twiml_messages(body) == ["one", "two\nlines"]
    assert twiml_text(body) == "one\ntwo\nlines"


def test_twiml_khmer_text_survives():
    text = "\u179f\u17bd\u179f\u17d2\u178f\u17b8"
    assert twiml_messages(f"<Response><Message>{text}</Message></Response>") == [text]


def test_twiml_not_well_formed_falls_back_to_a_lenient_read():
    assert twiml_messages("<Response><Message>a &amp; b</Message><oops></Response>") == ["a & b"]


# ---------------------------------------------------------------- numbers and printing


@pytest.mark.parametrize("raw, expected", [
    ("+85512345678", "+85512345678"),
    ("012 345 678", "+85512345678"),
    ("00855 12 345 678", "+85512345678"),
    ("(+855) 97 123 4567", "+855971234567"),
    ("", None),
    ("abc", None),
    ("+85", None),
])
def test_normalise_phone(raw, expected):
    assert normalise_phone(raw) == expected


def test_random_phone_is_a_valid_cambodian_mobile():
    phonenumbers = pytest.importorskip("phonenumbers")
    rng = random.Random(7)
    for _ in range(50):
        number = random_phone(rng)
        assert number.startswith("+8559") and len(number) == 12
        assert phonenumbers.is_valid_number(phonenumbers.parse(number))


def test_screen_wraps_long_lines_in_a_box():
    drawn = screen("Hello\n" + "word " * 10, width=12).splitlines()
    assert drawn[0] == drawn[-1] == "+" + "-" * 14 + "+"
    assert all(line.startswith("| ") and line.endswith(" |") and len(line) == 16 for line in drawn[1:-1])
    assert drawn[1] == "| Hello        |"
    assert len(drawn) > 4


def test_describe_outbox_names_the_contact():
    line = describe_outbox({"id": 5, "to": "+85512000001", "contact": "pv-angkrong-village", "body": "New report\n12",
                            "purpose": "alert", "provider": "console", "status": "sent"})
    assert line.startswith("#5 to +85512000001 (pv-angkrong-village) [alert console sent]")
    assert "    New report\n    12" in line


# ---------------------------------------------------------------- the loop against a fake line


class FakeLine:
    """Stands in for terminal.Client: a two-screen USSD menu, TwiML and an outbox."""

    def __init__(self):
        self.sent: list[dict] = []
        self.messages: list[dict] = [{"id": 1, "to": "+85599999999", "contact": None, "body": "old", "purpose": "reply",
                                      "provider": "console", "status": "sent"}]

    def send(self, mode, phone, text, session_id=None, full_text=None):
        self.sent.append({"mode": mode, "phone": phone, "text": text, "session_id": session_id, "full_text": full_text})
        if mode == "ussd":
            if session_id is None:
                return {"status": 200, "body": "CON Menu\n1. Job\n2. Lost", "session_id": f"S{len(self.sent)}"}
            if full_text.count("*") >= 1:
                self._sms(phone, "Report 7 received")
                return {"status": 200, "body": "END Thanks. Report 7", "session_id": session_id}
            return {"status": 200, "body": "CON Village?", "session_id": session_id}
        if mode == "twilio":
            return {"status": 200, "body": f"<Response><Message>Re: {text}</Message></Response>", "inline": True}
        if text == "fail":
            return {"status": 403, "body": "bad token\n"}
        self._sms(phone, f"Re: {text}")
        self._sms("+85512000001", "alert", contact="leader-1")
        return {"status": 200, "body": ""}

    def _sms(self, to, body, contact=None):
        self.messages.append({"id": len(self.messages) + 1, "to": to, "contact": contact, "body": body,
                              "purpose": "reply", "provider": "console", "status": "sent"})

    def outbox(self, after=0):
        return [m for m in self.messages if m["id"] > after]


def run(stdin: str, *args: str, line: FakeLine | None = None) -> tuple[int, str, FakeLine]:
    line = line or FakeLine()
    out = io.StringIO()
    code = terminal.main(["--phone", "+85591234567", *args], stdin=io.StringIO(stdin), stdout=out, client=line)
    return code, out.getvalue(), line


def test_ussd_session_sends_full_text_and_ends():
    code, out, line = run("1\n3\n/quit\n")
    assert code == 0
    assert [s["full_text"] for s in line.sent] == [None, "1", "1*3"]
    assert line.sent[0]["text"] == "" and line.sent[2]["text"] == "3"
    assert line.sent[1]["session_id"] == line.sent[2]["session_id"] == "S1"
    assert "| Menu" in out and "| Village?" in out and "(session ended)" in out
    assert "[SMS from the line] Report 7 received" in out
    assert "old" not in out  # the outbox before switching on is not this phone's news


def test_ussd_drop_then_redial_opens_a_new_session():
    code, out, line = run("1\n/drop\n\n2\n")
    assert code == 0  # end of input
    assert "signal lost" in out
    assert [s["session_id"] for s in line.sent] == [None, "S1", None, "S3"]
    assert line.sent[-1]["full_text"] == "2"


def test_ussd_empty_answer_is_not_sent():
    _, out, line = run("\n1\n")
    assert [s["full_text"] for s in line.sent] == [None, "1"]
    assert "type an answer" in out


def test_twilio_reply_printed_inline():
    code, out, line = run("hello there\n", "--mode", "twilio")
    assert code == 0
    assert line.sent == [{"mode": "twilio", "phone": "+85591234567", "text": "hello there", "session_id": None,
                          "full_text": None}]
    assert "[SMS from the line] Re: hello there" in out


def test_at_sms_reply_comes_from_the_outbox_for_this_phone_only():
    code, out, _ = run("hi\nfail\n/outbox\n", "--mode", "at-sms")
    assert code == 0
    assert "[SMS from the line] Re: hi" in out
    assert "[SMS from the line] alert" not in out
    assert "! the line answered HTTP 403: bad token" in out
    assert "(leader-1)" in out  # /outbox lists everyone's messages


def test_bad_phone_is_refused():
    assert terminal.main(["--phone", "hello"], stdin=io.StringIO(""), stdout=io.StringIO(), client=FakeLine()) == 2


def test_unreachable_line_exits_1():
    class Down(FakeLine):
        def outbox(self, after=0):
            raise terminal.SimulatorError("cannot reach http://127.0.0.1:1")

    code, out, _ = run("", line=Down())
    assert code == 1 and "cannot reach" in out


def test_phone_waits_for_at_sms_reply_then_gives_up():
    line = FakeLine()
    phone = Phone(line, "at-sms", "+85591234567", io.StringIO(""), io.StringIO(), poll_seconds=0.01,
                  sleep=lambda _: None)
    phone.catch_up()
    phone.show_inbox(wait=True)
    assert "no SMS yet" in phone.out.getvalue()


@pytest.mark.parametrize("after,status", [("0", 200), ("12", 200), ("\u00b2", 400), ("\u17e2", 400), ("9" * 40, 400),
                                          ("-1", 400)])
def test_outbox_after_must_be_a_message_id(client, after, status):
    response = client.get("/simulator/api/outbox", query_string={"after": after})
    assert response.status_code == status and (status == 200 or "after" in response.get_json()["error"])


def test_the_web_simulator_measures_each_ussd_screen_as_the_check_does(client):
    """A Khmer screen holds 80 UCS-2 characters, not 182: the simulator says which, from the line's own count."""
    first = client.post("/simulator/api/send", json={"mode": "ussd", "phone": "+85512999002", "text": ""}).get_json()
    assert first["body"].startswith("CON ")
    screen = first["screen"]
    assert screen["limit"] == (80 if screen["encoding"] == "ucs2" else 182) and 0 < screen["units"] <= screen["limit"]


# ---- call mode ------------------------------------------------------------------------------------
def test_the_web_simulator_calls_the_line_hears_it_and_presses_keys(client, services):
    """The call mode: the platform's signed requests, the words heard, the keys, the end of the call."""
    def send(**data):
        response = client.post("/simulator/api/send", json={"mode": "call", "phone": "+85512345690", **data})
        assert response.status_code == 200, response.data
        return response.get_json()

    first = send(text="")
    assert first["status"] == 200 and first["call"]["items"][0]["say"].startswith("Safe Village Line. For Worrying job")
    assert first["call"]["gather"] == {"action": "https://line.example.org/webhooks/twilio/voice?s=1", "one": True}
    sid = first["session_id"]
    danger = send(text="3", session_id=sid, action=first["call"]["gather"]["action"])
    assert danger["call"]["items"][0]["say"].startswith("Call 1 1 7 or 1 2 8 8 now.")
    silent = send(text="", session_id=sid, action=danger["call"]["silent"])
    assert silent["call"]["items"][0]["say"].startswith("We did not hear a key.")
    ended = send(text="completed", session_id=sid, action="status")
    assert ended["status"] == 200
    elsewhere = send(text="1", session_id=sid, action="https://example.org/webhooks/twilio/voice?s=3")
    assert elsewhere["status"] == 400
    refused = send(text="1", session_id=sid, action=silent["call"]["gather"]["action"])
    assert refused["status"] == 409 and "this call has ended" in refused["body"]


def test_the_web_simulator_shows_the_words_of_played_clips(client, services, tmp_path, monkeypatch):
    from hotline.simulator import heard

    twiml = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="https://line.example.org/webhooks/'
             'twilio/voice?s=1" numDigits="1"><Play>https://line.example.org/voice/km/menu_recruiter.wav?v=1</Play>'
             '<Play>https://line.example.org/voice/km/areas/14.wav?v=2</Play></Gather></Response>')
    read = heard.read(services, twiml)
    assert read["items"] == [{"play": "/voice/km/menu_recruiter.wav?v=1", "words": "ការងារសង្ស័យ"},
                             {"play": "/voice/km/areas/14.wav?v=2", "words": "ព្រៃវែង"}]
    assert read["gather"]["one"] and not read["ended"]
