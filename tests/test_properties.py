"""Property-based tests (Hypothesis) for the pure parts of the line: the dialogue engine,
the provider adapters' parsers, report numbers, SMS budgets and the payload scrubber.

Nothing here needs Redis or a database. `database=None` everywhere so Hypothesis writes
nothing into the repository. Bugs the properties found (since fixed)
are kept as regression tests at the end of the file.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
import urllib.parse
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from werkzeug.datastructures import MultiDict

from hotline import channels, payloads, reportnumber, smsbudget
from hotline.channels import africastalking, twilio
from hotline.channels.base import (
    Inbound,
    Rejected,
    SessionEnd,
    StatusUpdate,
    WebRequest,
)
from hotline.engine.dialogue import MAX_TEXT
from hotline.engine.screens import fits_final, fits_screen
from hotline.services import CONFIG_DIR, load_config
from hotline.settings import Settings
from tests.kit import FakeBackend

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    # Even with database=None Hypothesis caches constants and Unicode tables in ./.hypothesis:
    # keep them out of the repository.
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "hotline-hypothesis")

NOW = 1_800_000_000.0
STATE_LIMIT = 8 * 1024
"""Largest conversation state we accept, as conversations.save stores it (JSON, ASCII-escaped)."""

SMS_MAX_BODY = 1600      # Twilio Body / Africa's Talking text: longer is rejected by the adapter
USSD_MAX_INPUT = africastalking.USSD_MAX_INPUT

ENGINE = load_config(Settings.from_env(environ={}), CONFIG_DIR)[1]
"""The engine on the shipped configuration (cached by load_config)."""

SETTINGS = dict(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- a deterministic backend ---------------------------------------------------------
def _seq_number(i: int) -> str:
    """The i-th report number SeqBackend hands out: valid, never starting with 0."""
    body = str(100000 + (123457 + 7919 * i) % 900000)
    return body + reportnumber.check_digit(body)


SEQ_NUMBERS = [_seq_number(i) for i in range(8)]
STATUSES = ("new", "acknowledged", "in_progress", "referred", "closed")
ACKS = ("done", "already", "unknown", "not_contact")


class SeqBackend(FakeBackend):
    """tests.kit's FakeBackend, but report numbers come from a fixed sequence (so
    replaying the same inputs gives byte-identical replies), statuses vary, and OK answers vary.
    `told`: the numbers reporters were told at the end of their report, in order."""

    def __init__(self):
        super().__init__()
        self.told: list[str] = []

    def submit(self, draft):
        known = self.known(draft)  # a type stored when chosen: once per session (DbBackend's session_ref)
        if known:
            return known
        number = _seq_number(len(self.reports))
        assert number not in self.reports
        self.reports[number] = {"draft": draft, "status": STATUSES[len(self.reports) % len(STATUSES)], "ref": draft.ref}
        return number

    def add_detail(self, number, text):
        self.details.append((number, text))
        return number in self.reports

    def acknowledge(self, number):
        self.acks.append(number)
        return ACKS[int(number) % len(ACKS)]


# ---- engine inputs -------------------------------------------------------------------
_KHMER = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")
AREA_CODES = [a.code for a in ENGINE.areas.all()]
VILLAGE_CODES = [a.code for a in ENGINE.areas.all() if a.level == "village"]
KEYWORD_FORMS = sorted({form for forms in ENGINE.config.keywords.values() for form in forms})


def _code_variant(code: str, how: int) -> str:
    """A typed area code as people write it: plain, without its leading 0, spaced, dashed, Khmer."""
    if how == 1 and code.startswith("0"):
        return code[1:]
    if how == 2:
        return " ".join(code[i:i + 2] for i in range(0, len(code), 2))
    if how == 3:
        return "-".join(code[i:i + 2] for i in range(0, len(code), 2))
    if how == 4:
        return code.translate(_KHMER)
    return code


def _valid_number(body: int) -> str:
    digits = str(body)
    return digits + reportnumber.check_digit(digits)


menu_digits = st.sampled_from([str(i) for i in range(10)] + ["00", "98", "99"])
small_numbers = st.integers(1, 30).map(str)
area_codes = st.builds(_code_variant, st.sampled_from(VILLAGE_CODES) | st.sampled_from(AREA_CODES), st.integers(0, 4))
report_numbers = st.one_of(
    st.sampled_from(SEQ_NUMBERS),
    st.integers(100000, 999999).map(_valid_number),
    st.text("0123456789", min_size=7, max_size=7),
).flatmap(lambda n: st.sampled_from([n, n.translate(_KHMER), f"{n[:3]} {n[3:]}", f"#{n}", f"{n[:3]}-{n[3:]}"]))
phone_inputs = st.sampled_from(["012 345 678", "+85512345678", "0012345678", "097 111 2222", "12", "+1", "0" * 30])
keywords = st.builds(lambda w, n, sep: w + (sep + n if n else ""),
                     st.sampled_from(KEYWORD_FORMS).map(lambda w: w.upper() if len(w) % 2 else w),
                     st.one_of(st.just(""), report_numbers), st.sampled_from([" ", "", "  "]))
control_text = st.text(st.characters(max_codepoint=0x9F), max_size=20)
any_text = st.text(max_size=30)
star_text = st.lists(st.one_of(menu_digits, any_text), min_size=2, max_size=4).map("*".join)
words = st.lists(st.text(st.characters(categories=("L", "M", "N", "P")), min_size=1, max_size=8),
                 min_size=2, max_size=6).map(" ".join)
long_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(100, 600))
long_digits = st.integers(200, 1600).map(lambda n: "1" * n)

nav_input = st.one_of(menu_digits, menu_digits, small_numbers, area_codes, st.sampled_from(["1", "2", "99", "00"]))
noise_input = st.one_of(
    report_numbers, phone_inputs, keywords,
    st.just(""), st.sampled_from([" ", "\n", "1.", "2)", " 1 ", "១", "០០", "៩៩", "٣", "¹"]),
    any_text, control_text, star_text, words, long_text, long_digits,
)
engine_input = st.integers(0, 9).flatmap(lambda k: nav_input if k < 7 else noise_input)
"""Mostly answers that move a conversation on, with every kind of noise in between."""


# ---- engine harness ------------------------------------------------------------------
def _check_state(state):
    """The state is plain JSON, survives the trip through Redis unchanged, and is small."""
    if state is None:
        return None
    stored = json.dumps(state, separators=(",", ":"))  # exactly as conversations.save stores it
    assert json.loads(stored) == state, "state changes in a JSON round trip"
    assert len(stored) < STATE_LIMIT, f"state is {len(stored)} bytes"
    return json.loads(stored)


EXPIRED_NOTICES = tuple(ENGINE.config.text(lang, "expired", minutes=ENGINE.sms_idle_seconds // 60) + "\n"
                        for lang in ENGINE.config.line.languages)


def _check_draft(draft, channel):
    """A stored report: its answers are plain JSON, its free text cut, its area a real one."""
    json.dumps(draft.answers)
    assert draft.channel == channel and draft.language in ENGINE.config.line.languages
    limit = MAX_TEXT * 2 if draft.type == "unsorted" else MAX_TEXT
    assert all(len(v) <= limit for v in draft.answers.values() if isinstance(v, str))
    assert draft.area_code is None or draft.area_code in ENGINE.areas


def _check_reply(reply, channel):
    assert isinstance(reply.text, str) and reply.text
    fits = fits_final if reply.end else fits_screen
    assert fits(reply.text, channel), (reply.end, smsbudget.sms_cost(reply.text), reply.text)


def run_ussd(lang: str, actions: list) -> tuple[list, SeqBackend]:
    """Drive USSD sessions like a gateway would; returns (replies, backend).

    actions: ("in", text) one more input; ("redial",) the session drops and the reporter dials
    again (state kept, for "continue"); ("lost",) the state is lost (Redis emptied) before the
    next request; ("resend",) the gateway repeats the last request; ("wait", s) time passes.
    After an END the gateway closes the session: the next action starts with a new dial."""
    backend = SeqBackend()
    log: list = []
    state, inputs, sid, now = None, [], 0, NOW
    session_open = False

    def request(full: str):
        nonlocal state, session_open, sid, inputs
        before = set(backend.reports)
        # like DbBackend.language(): the language the reporter chose, else the line's
        reply = ENGINE.ussd(state, full, f"sess-{sid}", now, backend, backend.language or lang)
        _check_reply(reply, "ussd")
        new = set(backend.reports) - before
        # Property 2: a step stores at most one report, and only an END that tells its number
        # (or, for a type stored the moment it is chosen, the step that chose it; its END, if the
        # session gets there, tells the number then).
        assert len(new) <= 1, new
        if new:
            (number,) = new
            if not _stored_first(backend, number):
                assert reply.end and number in reply.text, reply
                backend.told.append(number)
            _check_draft(backend.reports[number]["draft"], "ussd")
        if reply.end and not new:
            backend.told += [n for n in backend.reports if _stored_first(backend, n) and reply.text == _done(backend, n)]
        log.append((reply.text, reply.end, reply.invalid, sorted(new), json.dumps(reply.state, sort_keys=True)))
        state = _check_state(reply.state)
        if reply.end:
            assert reply.state is None or reply.state.get("at") != "q"
            session_open, inputs, sid = False, [], sid + 1
        return reply

    def dial():
        nonlocal session_open
        session_open = True
        request("")

    for action in actions:
        kind = action[0]
        if kind == "wait":
            now += action[1]
            continue
        if kind == "redial":
            sid, inputs = sid + 1, []
            dial()
            continue
        if not session_open:
            dial()
        if kind == "lost":
            state = None
        elif kind == "resend":
            request("*".join(inputs))
        else:
            full = "*".join([*inputs, action[1]])
            if len(full) > USSD_MAX_INPUT:  # the adapter answers 400; the gateway's session goes on
                continue
            inputs.append(action[1])
            request(full)
    return log, backend


def _done(backend: SeqBackend, number: str) -> str:
    """The last screen of a USSD report: its number and what routing will do."""
    draft = backend.reports[number]["draft"]
    return ENGINE.stored_text(draft.language, "ussd", ENGINE.config.flows[draft.type].done, number, backend.reach(draft))


def _stored_first(backend: SeqBackend, number: str) -> bool:
    """True for a report of a type stored the moment it was chosen (urgent): told at its END, if any."""
    return ENGINE.config.types[backend.reports[number]["draft"].type].store_first


def run_sms(lang: str, actions: list) -> tuple[list, SeqBackend]:
    """Drive one SMS conversation; actions: ("in", text) or ("wait", seconds)."""
    backend = SeqBackend()
    log: list = []
    state, now = None, NOW
    for action in actions:
        if action[0] == "wait":
            now += action[1]
            continue
        text = action[1][:SMS_MAX_BODY]  # longer bodies are rejected by both SMS adapters
        before = set(backend.reports)
        reply = ENGINE.sms(state, text, now, backend, backend.language or lang)
        _check_reply(reply, "sms")
        new = set(backend.reports) - before
        assert len(new) <= 1, new
        if new:
            (number,) = new
            assert number in reply.text or _stored_first(backend, number), reply
            _check_draft(backend.reports[number]["draft"], "sms")
        log.append((reply.text, reply.end, reply.invalid, sorted(new), json.dumps(reply.state, sort_keys=True)))
        state = _check_state(reply.state)
    return log, backend


@st.composite
def area_answers(draw) -> list[str]:
    """Answers that settle an area question: a typed code, list picks down to a village, or 99 on the way."""
    village = ENGINE.areas.get(draw(st.sampled_from(VILLAGE_CODES)))
    if draw(st.booleans()):
        return [_code_variant(village.code, draw(st.integers(0, 4)))]
    picks, parent = [], None
    for area in ENGINE.areas.path(village.code):
        siblings = [a.code for a in ENGINE.areas.children(parent)]
        picks.append(str(siblings.index(area.code) + 1))
        parent = area.code
    stop = draw(st.integers(0, len(picks)))
    return picks if stop == len(picks) else picks[:stop] + ["99"]


@st.composite
def walks(draw) -> list[str]:
    """The inputs of one whole conversation from the main menu: a report flow answered to the
    end, or a number checked; stored numbers are those SeqBackend hands out."""
    entry = draw(st.integers(1, len(ENGINE.config.main_menu)))
    name = ENGINE.config.main_menu[entry - 1]
    inputs = [draw(st.sampled_from([str(entry), str(entry).translate(_KHMER), f"{entry}."]))]
    if name == "check":
        return inputs + [draw(st.sampled_from(SEQ_NUMBERS[:3]) | report_numbers)]
    if name not in ENGINE.config.flows:
        return inputs + draw(st.lists(st.sampled_from(["1", "2", "0"]), max_size=3))
    for q in ENGINE.config.flows[name].questions:
        if q.kind == "area":
            inputs += draw(area_answers())
        elif q.optional and draw(st.integers(0, 3)) == 0:
            inputs.append("99")
        elif q.kind == "choice":
            inputs.append(str(draw(st.integers(1, len(q.options)))))
        elif q.kind == "consent":
            inputs.append(draw(st.sampled_from(["1", "2"])))
        elif q.kind == "phone":
            inputs.append(draw(st.sampled_from(["012 345 678", "+85597 111 2222", "0០12345678"])))
        else:
            inputs.append(draw(st.one_of(words, any_text.filter(str.strip), long_text)))
    return inputs


def _sprinkle(actions: list, noise: list) -> list:
    """`actions` with each (position, action) of `noise` inserted."""
    out = list(actions)
    for at, extra in sorted(noise, key=lambda n: n[0], reverse=True):
        out.insert(min(at, len(out)), extra)
    return out


def _mixed(walk_actions, random_actions):
    """Whole conversations with random actions before, between and inside them."""
    chunk = st.one_of(walk_actions, random_actions)
    return st.lists(chunk, min_size=1, max_size=4).map(lambda chunks: [a for c in chunks for a in c])


_ussd_random = st.lists(st.integers(0, 19).flatmap(lambda k: (
    engine_input.map(lambda t: ("in", t)) if k < 15 else
    st.sampled_from([("redial",), ("lost",), ("resend",)]) if k < 18 else
    st.sampled_from([30, 200, 299, 301, 3600]).map(lambda s: ("wait", s)))), min_size=1, max_size=40)

ussd_walk = st.builds(lambda w, noise: _sprinkle([("in", x) for x in w], noise),
                      walks(), st.lists(st.tuples(st.integers(0, 20), st.sampled_from(
                          [("lost",), ("resend",), ("redial",), ("in", "98"), ("in", "x"), ("wait", 301), ("wait", 60)])),
                          max_size=3))


ussd_actions = st.one_of(_ussd_random, _mixed(ussd_walk, _ussd_random))

_sms_random = st.lists(st.integers(0, 9).flatmap(lambda k: (
    engine_input.map(lambda t: ("in", t)) if k < 8 else
    st.sampled_from([60, 29 * 60, 31 * 60, 86400]).map(lambda s: ("wait", s)))), min_size=1, max_size=40)

sms_walk = st.builds(lambda first, w, noise: _sprinkle([("in", first)] + [("in", x) for x in w], noise),
                     st.sampled_from(["hi", "00", "menu", "?", ""]), walks(),
                     st.lists(st.tuples(st.integers(0, 20), st.sampled_from(
                         [("wait", 31 * 60), ("wait", 60), ("in", "98"), ("in", "x"), ("in", "HELP")])), max_size=3))

sms_actions = st.one_of(_sms_random, _mixed(sms_walk, _sms_random))

languages = st.sampled_from(["en", "km"])


# ---- 1 & 2: the engine ---------------------------------------------------------------
@settings(max_examples=300, **SETTINGS)
@given(lang=languages, actions=ussd_actions)
def test_ussd_any_inputs_fit_stay_small_and_replay_identically(lang, actions):
    log, backend = run_ussd(lang, actions)
    # Property 2: every stored report was announced by exactly one END with its number, but one
    # stored when its type was chosen whose session never reached its END.
    assert len(backend.told) == len(set(backend.told))
    assert {n for n in backend.reports if not _stored_first(backend, n)} <= set(backend.told) <= set(backend.reports)
    again, _ = run_ussd(lang, actions)
    assert again == log


@settings(max_examples=300, **SETTINGS)
@given(lang=languages, actions=sms_actions)
def test_sms_any_inputs_fit_stay_small_and_replay_identically(lang, actions):
    log, backend = run_sms(lang, actions)
    announced = [n for _, _, _, new, _ in log for n in new]
    assert sorted(announced) == sorted(backend.reports)
    again, _ = run_sms(lang, actions)
    assert again == log


def _walk_to_submit(flow_entry: str, village: str, extra: list[str]) -> list:
    """Inputs that finish a flow: menu entry, a typed village code, then `extra` answers."""
    return [("in", flow_entry), ("in", village), *[("in", x) for x in extra]]


@settings(max_examples=150, **SETTINGS)
@given(lang=languages,
       flow=st.sampled_from([("1", ["99", "99", "99", "99", "99"]), ("2", ["99", "99", "99"]), ("3", [])]),
       village=st.sampled_from(VILLAGE_CODES),
       consent=st.sampled_from(["1", "2"]),
       disturb=st.lists(st.tuples(st.integers(0, 8), st.sampled_from([("lost",), ("resend",), ("in", "98"), ("in", "x")])),
                        max_size=4))
def test_ussd_reports_reached_by_any_path_are_stored_once(lang, flow, village, consent, disturb):
    """Property 2, aimed: complete flows (with lost state, resends and noise) store exactly one report."""
    entry, skips = flow
    actions = _walk_to_submit(entry, village, skips + [consent])
    for at, extra in sorted(disturb, reverse=True):
        actions.insert(min(at, len(actions) - 1), extra)  # never after the last answer
    log, backend = run_ussd(lang, actions)
    assert len(backend.told) == len(set(backend.told)) and set(backend.told) <= set(backend.reports)
    assert len(backend.reports) <= 1
    if all(extra[0] in ("lost", "resend") for _, extra in disturb):
        assert len(backend.reports) == 1  # lost state and resends neither lose nor double a report
        assert log[-1][1] and backend.told == list(backend.reports)


# ---- 3: the adapters -----------------------------------------------------------------
ENDPOINTS = [(p.slug, ep) for p in channels.PROVIDERS.values() for ep in p.endpoints]
FIELDS = {
    ("twilio", "sms"): ["MessageSid", "From", "Body", "To", "SmsSid", "AccountSid", "NumMedia", "FromCity"],
    ("twilio", "status"): ["MessageSid", "MessageStatus", "SmsStatus", "ErrorCode", "To", "AccountSid"],
    ("africastalking", "sms"): ["id", "from", "text", "date", "to", "networkCode", "linkId"],
    ("africastalking", "delivery"): ["id", "status", "failureReason", "phoneNumber", "networkCode", "retryCount"],
    ("africastalking", "ussd"): ["sessionId", "phoneNumber", "text", "serviceCode", "networkCode"],
    ("africastalking", "ussd/events"): ["sessionId", "status", "phoneNumber", "input", "durationInMillis", "date"],
    ("kannel", "sms"): ["id", "sender", "to", "ts", "message", "coding", "charset"],
    ("kannel", "status"): ["id", "status"],
}
PARSED_FIELDS = {  # the fields each parser reads: a rejection must name one of them
    ("twilio", "sms"): {"MessageSid", "From", "Body", "To"},
    ("twilio", "status"): {"MessageSid", "MessageStatus", "SmsStatus", "ErrorCode"},
    ("africastalking", "sms"): {"id", "from", "text", "date", "to"},
    ("africastalking", "delivery"): {"id", "status", "failureReason"},
    ("africastalking", "ussd"): {"sessionId", "phoneNumber", "text"},
    ("africastalking", "ussd/events"): {"sessionId", "status", "phoneNumber"},
    ("kannel", "sms"): {"id", "sender", "to", "ts", "message", "coding", "charset"},
    ("kannel", "status"): {"id", "status"},
}
RESULT_TYPE = {"message": Inbound, "status": StatusUpdate, "session_end": SessionEnd}

plausible_values = st.sampled_from(
    ["+85512345678", "+855 12 345 678", "012345678", "+1", "+", "SM1", "ATUid_1", "hello", "1*2*3", "",
     " ", "2026-01-01 06:04:45", "2026-01-01T06:04:45Z", "2026-02-30 06:04:45", "2026-01-01T06:04:45.123Z",
     "30003", "21610", "UserInBlackList", "Incomplete", "Success", "Failed",
     *twilio.STATUS, *africastalking.DELIVERY_STATUS])
hostile_values = st.one_of(
    st.text(max_size=50),
    st.text(st.characters(max_codepoint=0x9F), max_size=30),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(10, 3000)),
    st.builds(lambda v: "+855" + v, st.text(max_size=30)),
    st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=10), st.text(max_size=10)),
)
field_values = st.one_of(plausible_values, plausible_values, hostile_values)


VALID = {  # a well-formed request of each endpoint, as the providers send them
    ("twilio", "sms"): {"MessageSid": "SM1", "From": "+85512345678", "Body": "hello", "To": "+85512345000"},
    ("twilio", "status"): {"MessageSid": "SM1", "MessageStatus": "delivered", "ErrorCode": ""},
    ("africastalking", "sms"): {"id": "at-1", "from": "+85512345678", "text": "hello", "date": "2026-01-01 06:04:45"},
    ("africastalking", "delivery"): {"id": "at-1", "status": "Success", "failureReason": ""},
    ("africastalking", "ussd"): {"sessionId": "ATUid_1", "phoneNumber": "+85512345678", "text": "1*2"},
    ("africastalking", "ussd/events"): {"sessionId": "ATUid_1", "status": "Incomplete", "phoneNumber": "+85512345678"},
    ("kannel", "sms"): {"id": "k1", "sender": "85512345678", "to": "8181", "ts": "1764450000", "message": "hello",
                        "coding": "0", "charset": "UTF-8"},
    ("kannel", "status"): {"id": "41", "status": "1"},
}


@st.composite
def requests_for(draw, key):
    """A webhook form: a valid one with some fields spoiled, dropped or doubled, and random extra keys."""
    pairs = []
    for name, value in VALID[key].items():
        fate = draw(st.integers(0, 9))
        if fate < 5:
            pairs.append((name, value))
        elif fate < 9:
            pairs.append((name, draw(field_values)))
        # else: left out
    pairs += draw(st.lists(st.tuples(st.sampled_from(FIELDS[key]) | st.text(max_size=12), field_values), max_size=6))
    if key[0] == "kannel":  # Kannel's get-url puts every field in the query string
        query = urllib.parse.urlencode(pairs)
        return WebRequest("https://line.example.org/x", "/x", query, MultiDict(urllib.parse.parse_qsl(query)),
                          MultiDict(), {}, method="GET")
    form = MultiDict(pairs)
    return WebRequest("https://line.example.org/x", "/x", "", MultiDict(), form, {})


def _assert_clean_text(text: str, allowed_controls: str):
    bad = [c for c in text if unicodedata.category(c) == "Cc" and c not in allowed_controls]
    assert not bad, [hex(ord(c)) for c in bad]


C0_CONTROLS_AND_DEL = "".join(chr(c) for c in range(0x20)) + "\x7f"


@pytest.mark.parametrize("slug,endpoint", ENDPOINTS, ids=[f"{s}-{e.path}" for s, e in ENDPOINTS])
def test_adapters_parse_or_reject_with_a_field(slug, endpoint):
    @settings(max_examples=200, **SETTINGS)
    @given(req=requests_for((slug, endpoint.path)))
    def check(req):
        try:
            result = endpoint.parse(req)
        except Rejected as exc:
            assert 400 <= exc.status < 500, exc.status
            assert any(re.search(rf"\b{re.escape(name)}\b", exc.message) for name in PARSED_FIELDS[(slug, endpoint.path)]), exc.message
            return
        assert isinstance(result, RESULT_TYPE[endpoint.kind])
        if isinstance(result, Inbound):
            assert "\x00" not in result.text
            _assert_clean_text(result.text, "\n\r\t")
            assert result.sender.startswith("+") and result.sender[1:].isdigit()

    check()


# ---- 4: report numbers ---------------------------------------------------------------
@settings(max_examples=300, **SETTINGS)
@given(st.data())
def test_report_numbers_catch_single_digit_errors_and_adjacent_swaps(data):
    number = reportnumber.generate()
    assert reportnumber.is_valid(number) and len(number) == reportnumber.LENGTH and number[0] != "0"
    i = data.draw(st.integers(0, len(number) - 1))
    d = data.draw(st.sampled_from([c for c in "0123456789" if c != number[i]]))
    assert not reportnumber.is_valid(number[:i] + d + number[i + 1:])
    j = data.draw(st.integers(0, len(number) - 2))
    assume(number[j] != number[j + 1])
    assert not reportnumber.is_valid(number[:j] + number[j + 1] + number[j] + number[j + 2:])


@settings(max_examples=300, **SETTINGS)
@given(body=st.text("0123456789", min_size=6, max_size=6), i=st.integers(0, 6), d=st.integers(0, 9))
def test_every_body_with_its_check_digit_is_valid_and_no_other_digit_is(body, i, d):
    number = body + reportnumber.check_digit(body)
    assert reportnumber.is_valid(number)
    assert reportnumber.is_valid(f"#{number[:3]} {number[3:5]}-{number[5:]}")
    changed = number[:i] + str(d) + number[i + 1:]
    assert reportnumber.is_valid(changed) == (changed == number)


# ---- 5: SMS budgets ------------------------------------------------------------------
GSM7_ALPHABET = sorted(smsbudget.GSM7_BASIC | smsbudget.GSM7_EXTENSION)
KHMER = st.characters(min_codepoint=0x1780, max_codepoint=0x17FF)


@settings(max_examples=500, **SETTINGS)
@given(a=st.text(max_size=400), b=st.text(max_size=50))
def test_sms_parts_never_shrink_as_text_grows(a, b):
    assert smsbudget.sms_cost(a).parts <= smsbudget.sms_cost(a + b).parts
    assert smsbudget.sms_cost(a + b).parts >= 1


@settings(max_examples=500, **SETTINGS)
@given(text=st.text(st.sampled_from(GSM7_ALPHABET), max_size=400))
def test_gsm7_text_cost(text):
    cost = smsbudget.sms_cost(text)
    assert cost.encoding == "gsm7"
    assert cost.units == len(text) + sum(c in smsbudget.GSM7_EXTENSION for c in text)
    if cost.units <= 160:
        assert cost.parts == 1
    else:
        assert cost.parts == -(-cost.units // 153)


@settings(max_examples=1000, **SETTINGS)
@given(text=st.text(st.one_of(st.sampled_from(GSM7_ALPHABET), st.characters()), max_size=300))
def test_encoding_and_units_match_the_alphabet_character_by_character(text):
    """The pattern-based measure (in C, since every screen is measured) against the plain definition."""
    gsm7 = all(c in smsbudget.GSM7_BASIC or c in smsbudget.GSM7_EXTENSION for c in text)
    assert smsbudget.encoding(text) == ("gsm7" if gsm7 else "ucs2")
    expected = (sum(2 if c in smsbudget.GSM7_EXTENSION else 1 for c in text) if gsm7
                else len(text.encode("utf-16-le", "surrogatepass")) // 2)
    assert smsbudget.units(text) == expected


@settings(max_examples=500, **SETTINGS)
@given(before=st.text(max_size=100), khmer=KHMER, after=st.text(max_size=100))
def test_any_khmer_character_makes_ucs2(before, khmer, after):
    text = before + khmer + after
    cost = smsbudget.sms_cost(text)
    assert cost.encoding == "ucs2"
    assert cost.units == len(text.encode("utf-16-le")) // 2
    assert cost.parts == (1 if cost.units <= 70 else -(-cost.units // 67))


# ---- 6: scrubbing the reporter's own number ------------------------------------------
def _written_forms(national: str) -> list[str]:
    """national: the 8 digits after +855 (e.g. 12345678)."""
    a, b, c = national[:2], national[2:5], national[5:]
    return [f"0{a} {b} {c}", f"+855 {a} {b} {c}", f"855{national}", f"0{national}", f"+855{national}",
            f"0{a}-{b}-{c}", f"0{a}.{b}.{c}", f"(0{a}) {b} {c}", f"00855 {a} {b} {c}"]


no_digits = st.text(st.characters(exclude_categories=("Nd", "No", "Nl"), exclude_characters="+"), max_size=15)


@settings(max_examples=400, **SETTINGS)
@given(rest=st.text("0123456789", min_size=7, max_size=7),
       picks=st.lists(st.integers(0, 8), min_size=1, max_size=4),
       fillers=st.lists(no_digits, min_size=5, max_size=5),
       # Separators include bare whitespace and dashes, so forms may run into each other.
       seps=st.lists(st.sampled_from([", ", " or ", ": ", "; ", " / ", "? ", "\nand ", " ", "\n", " - "]),
                     min_size=10, max_size=10))
def test_scrub_removes_every_written_form_of_the_own_number(rest, picks, fillers, seps):
    national = "1" + rest
    own = "+855" + national
    forms = _written_forms(national)
    parts = [fillers[0]]
    for k, pick in enumerate(picks):
        parts += [seps[2 * k], forms[pick], seps[2 * k + 1], fillers[k + 1]]
    text = "".join(parts)
    out = payloads.scrub(text, own, "KH")
    assert national not in re.sub(r"[\s().\-]", "", out), (text, out)
    # nested values are scrubbed too, and other values are left alone
    nested = payloads.scrub({"a": [text], "b": 7, "c": None}, own, "KH")
    assert nested == {"a": [out], "b": 7, "c": None}


# ---- Bugs the properties found, kept as regression tests ----------------------------
@pytest.mark.parametrize("parse,form", [
    (twilio.parse_sms, {"MessageSid": "SM1", "From": "+85512345678", "Body": "a\x85b"}),
    (africastalking.parse_sms, {"id": "at-1", "from": "+85512345678", "text": "a\x85b"}),
    (africastalking.parse_ussd, {"sessionId": "s1", "phoneNumber": "+85512345678", "text": "1*\x9b2"}),
], ids=["twilio-sms", "at-sms", "at-ussd"])
def test_inbound_text_drops_c1_controls(parse, form):
    inbound = parse(WebRequest("https://line.example.org/x", "/x", "", MultiDict(), MultiDict(form), {}))
    _assert_clean_text(inbound.text, "\n\r\t")


@pytest.mark.parametrize("text", [
    "012 345 678 2 times",
    "numbers: 012 345 678 097 111 222",
    "numbers:\n012 345 678\n097 111 222",
    "012 345 678 012 345 678",
    "012-345-678-1",
    "+855 12 345 678 5 people",
])
def test_scrub_own_number_followed_by_other_digits(text):
    out = payloads.scrub(text, "+85512345678", "KH")
    assert "12345678" not in re.sub(r"[\s().\-+]", "", out), out


@pytest.mark.parametrize("last,lang_now", [("x", "km"), ("hello there friend", "km"), ("x", "en")],
                         ids=["menu", "unsorted", "language-changed-meanwhile"])
def test_sms_expiry_notice_keeps_the_screen_within_two_parts(last, lang_now):
    """The third case: the SMS conversation was in Khmer, and the reporter's language is English
    by now (chosen on USSD meanwhile): notice and menu come in that one language.
    Free text after expiry is stored at once; its confirmation keeps the notice only when both
    fit two parts (in Khmer they do not, and the report number matters more)."""
    backend = SeqBackend()
    reply = ENGINE.sms(None, "hi", NOW, backend, "km")
    reply = ENGINE.sms(reply.state, "1", NOW, backend, "km")               # at the first question
    assert reply.state["at"] == "q"
    reply = ENGINE.sms(reply.state, last, NOW + 31 * 60, backend, lang_now)  # 31 minutes later
    assert not reply.end
    assert reply.text.startswith(EXPIRED_NOTICES) or backend.reports, reply.text
    assert fits_screen(reply.text, "sms"), smsbudget.sms_cost(reply.text)
    assert all(ENGINE.config.text(lang_now, "expired", minutes=30) in reply.text or lang != lang_now
               for lang in ("km", "en") if reply.text.startswith(ENGINE.config.text(lang, "expired", minutes=30)))


def test_ussd_state_stays_small_with_a_long_khmer_input():
    text = "ក" * 1400
    assert len(text) <= USSD_MAX_INPUT  # the adapter lets it through
    reply = ENGINE.ussd(None, text, "s1", NOW, SeqBackend(), "en")
    stored = json.dumps(reply.state, separators=(",", ":"))
    assert len(stored) < STATE_LIMIT, len(stored)


def test_engine_survives_a_huge_digit_string():
    reply = ENGINE.sms(None, "1" * 5000, NOW, SeqBackend(), "en")
    ENGINE.ussd(reply.state, "1" * 5000, "s", NOW, SeqBackend(), "en")


# ---- phone numbers: the quick path for numbers already in E.164 ----------------------------
@settings(max_examples=3000, deadline=None)
@given(code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
       national=st.text("0123456789", min_size=0, max_size=16))
def test_the_quick_e164_path_agrees_with_the_full_parse(code, national):
    from hotline import phones

    text = f"+{code}{national}"
    quick = phones._already_e164(text)
    assert quick is phones._UNSURE or quick == phones._parse(text, "KH"), text


def test_the_quick_e164_path_takes_cambodian_numbers_and_leaves_the_rest():
    from hotline import phones

    assert phones._already_e164("+85512345678") == "+85512345678"
    assert phones._already_e164("+8551") is None  # too short to be a number
    assert phones._already_e164("+855012345678") is phones._UNSURE  # a national 0: the full parse strips it
    assert phones._already_e164("+12025550123") is phones._UNSURE  # North America strips a national 1
    assert phones._already_e164("012 345 678") is phones._UNSURE
    assert phones.normalise("+855012345678") == phones._parse("+855012345678", "KH") == "+85512345678"


# ---- calls: any keys, silence and redials --------------------------------------------------------
_call_keys = st.one_of(st.sampled_from(["1", "2", "3", "4", "5", "6", "7", "0", "*", "98", "99", "14010101", "1401",
                                         "012777888", "9", "00", "*1", "99999999"]),
                       st.text("0123456789*", min_size=1, max_size=12))
call_actions = st.lists(st.one_of(_call_keys.map(lambda k: ("keys", k)),
                                  st.sampled_from([("silence",), ("redial",), ("replay",)])), min_size=1, max_size=40)


@settings(max_examples=300, **SETTINGS)
@given(lang=languages, actions=call_actions)
def test_calls_any_keys_give_twiml_the_platforms_take_and_each_report_is_heard_twice(lang, actions):
    import json

    from hotline.engine.speech import decode
    from hotline.voice import schema, twiml

    backend, state, call, step, now = FakeBackend(), None, 0, None, NOW
    heard: list[str] = []
    for action in [("redial",)] + actions:
        now += 3
        if action[0] == "redial":
            call += 1
            step = None
            reply = ENGINE.voice(state, None, f"CA{call}", None, now, backend, lang)
        elif action[0] == "replay" and step and step > 1:
            reply = ENGINE.voice(state, "1", f"CA{call}", step - 1, now, backend, lang)
            assert decode(reply.text)["refused"] and reply.state == state   # refused, nothing moved
            continue
        elif step is None:
            continue
        else:
            reply = ENGINE.voice(state, action[1] if action[0] == "keys" else None, f"CA{call}", step, now, backend, lang)
        speech = decode(reply.text)
        if speech["refused"]:
            assert "ended" in speech["refused"]
            continue
        document = twiml.render(ENGINE, "https://line.example.org", speech)
        assert schema.problems(document) == []
        assert (speech["gather"] is None) == speech["end"]
        state = reply.state
        assert len(json.dumps(state)) < STATE_LIMIT
        if speech["end"]:
            step = None
            heard.append(document)
        else:
            assert speech["n"] == state["n"]
            step = speech["n"]
    for number in backend.reports:
        told = [d for d in heard if " ".join(number) in d]
        if told:
            assert all(d.count(" ".join(number)) == 2 for d in told)   # digit by digit, twice
