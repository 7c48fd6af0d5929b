"""The conversation: one pure step from (state, input) to (reply, new state)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from hotline import phones, reportnumber
from hotline.areas import Gazetteer
from hotline.engine import voice as voice_screens
from hotline.engine.config import DialogueConfig, Question
from hotline.engine.screens import Layout, fits_screen, render
from hotline.engine.speech import VoiceSetup

RESUME_SECONDS = 5 * 60
"""A reporter who dials again within this time of a dropped session may continue."""

MAX_TEXT = 500
"""Longest free-text answer kept; the rest is cut."""

BACK, MENU, MORE, SKIP = "0", "00", "98", "99"
"""Navigation inputs, the same on every screen (docs/contract.md section 4)."""

_KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
_KEYWORD_WITH_NUMBER = re.compile(r"^([^\d\s]+)\s*([\d\s\-#]*)$")


@dataclass(frozen=True)
class Draft:
    """A report ready to be stored. `ref` names the conversation that stored it first, when its
    type is stored the moment it is chosen (one report per type and USSD session and phone)."""

    type: str
    area_code: str | None
    answers: dict
    language: str
    consent: bool | None
    channel: str
    ref: str | None = None


@dataclass(frozen=True)
class Reply:
    """What to answer, whether the conversation is over, and the state to keep."""

    text: str
    end: bool
    state: dict | None
    invalid: bool = False  # the input was not an answer to the screen


class Backend(Protocol):
    """What the engine asks of storage, for one sender."""

    def submit(self, draft: Draft) -> str:
        """Store a report and return its number (the same number again for a draft whose `ref`
        this sender stored before)."""

    def update(self, number: str, draft: Draft) -> bool:
        """Replace the answers, place and consent of the sender's own report stored earlier in the
        conversation; False if it is not theirs."""

    def reach(self, draft: Draft) -> str:
        """Who routing will tell of this report: 'leader', 'agency' or 'staff' (nobody outside the line)."""

    def status(self, number: str) -> str | None:
        """The status of a report, or None if there is no such report."""

    def add_detail(self, number: str, text: str) -> bool:
        """Add the sender's further words to their report; False if not theirs."""

    def set_language(self, lang: str) -> None:
        """Remember the sender's language."""

    def set_opt_out(self, opted_out: bool) -> None:
        """Remember that the sender said STOP (True) or START (False)."""

    def acknowledge(self, number: str) -> str:
        """A contact's OK: 'done', 'already', 'unknown' or 'not_contact'."""


def normalise_input(text: str) -> str:
    """Trim an answer and read Khmer digits as ASCII ones."""
    return (text or "").translate(_KHMER_DIGITS).strip()


class Engine:
    """Menus and report flows for USSD and SMS, driven by configuration data."""

    def __init__(self, config: DialogueConfig, gazetteer: Gazetteer, sms_idle_seconds: int = 30 * 60):
        self.config = config
        self.areas = gazetteer
        self.sms_idle_seconds = sms_idle_seconds
        self.voice_setup = VoiceSetup()
        """The languages calls are offered in and how each is spoken (set when the configuration loads)."""

    # ---- entry points -------------------------------------------------------------
    def ussd(self, state: dict | None, full_text: str, session_id: str, now: float,
             backend: Backend, lang: str, separator: str | None = "*") -> Reply:
        """Answer one USSD request. `full_text` is every input of the session so far joined by
        `separator` (a gateway that sends only the latest input: `separator` None). The history is
        what lets a session whose state was lost be replayed, and a typed `separator` be kept."""
        full_text = full_text or ""
        lang = self.channel_language("ussd", lang)
        if state and state.get("sid") == session_id:
            seen = state.get("seen", 0)
            if separator is None:
                new = full_text
            elif len(full_text) == seen and state.get("mark") == _mark(full_text):  # a resend of the last step
                return self._show(state)
            elif seen and len(full_text) > seen and full_text[seen] == separator and _mark(full_text[:seen]) == state.get("mark"):
                new = full_text[seen + 1:]
            else:
                new = full_text if not seen else full_text.rsplit(separator, 1)[-1]
            state = dict(state, ts=now, **_seen(full_text))
            return self._input(state, new, backend)
        saved = state if state and state.get("at") in ("q", "check") and now - state.get("ts", 0) < RESUME_SECONDS else None
        fresh = self._new_state("ussd", saved.get("lang", lang) if saved else lang, now)
        fresh.update(sid=session_id, **_seen(""))
        if saved and not full_text:
            fresh.update(at="resume", saved=saved)
            return self._show(fresh)
        reply = self._show(fresh)
        # Our state was lost (Redis emptied, or another web process) mid-session: replay.
        parts = [full_text] if separator is None else full_text.split(separator)
        for part in (parts if full_text else []):
            if reply.end:
                break
            reply = self._input(reply.state, part, backend)
        if reply.state is not None:
            reply.state.update(_seen(full_text))
        return reply

    def voice(self, state: dict | None, digits: str | None, call_sid: str, answered: int | None, now: float,
              backend: Backend, lang: str) -> Reply:
        """Answer one request of a call (hotline.engine.voice): the reply's text is the speech, as JSON."""
        return voice_screens.step(self, state, digits, call_sid, answered, now, backend, lang)

    def sms(self, state: dict | None, text: str, now: float, backend: Backend, lang: str) -> Reply:
        """Answer one SMS from a reporter (or a contact)."""
        text = (text or "").strip()
        keyword = self._keyword(text)
        if keyword:
            return self._keyword_reply(keyword, state, backend, lang)
        notice = ""
        if state and now - state.get("ts", 0) > self.sms_idle_seconds:
            if state.get("at") in ("q", "check"):
                lang = self.channel_language("sms", lang)  # the notice and what follows in one language
                notice = self.config.text(lang, "expired", minutes=self.sms_idle_seconds // 60)
            state = None
        if state:
            lang = state.get("lang", lang)
            state = dict(state, ts=now)
            if state.get("at") == "followup" and normalise_input(text) != MENU:
                return self._add_detail(state, text, backend)
            reply = self._input(state, text, backend)
            if reply.invalid and free_words(text):
                return self._unsorted(text, lang, now, backend)
            return reply
        if free_words(text):
            return self._unsorted(text, lang, now, backend, notice)
        return self._show(dict(self._new_state("sms", lang, now), notice=notice) if notice else self._new_state("sms", lang, now))

    # ---- keywords (SMS) -------------------------------------------------------------
    def _keyword(self, text: str) -> tuple[str, str] | None:
        """(KEYWORD, argument) if the whole message is a keyword, with a number after STATUS/OK."""
        match = _KEYWORD_WITH_NUMBER.match(normalise_input(text))
        if not match:
            return None
        name = self.config.keyword(match.group(1))
        arg = reportnumber.clean(match.group(2))
        if name is None or (arg and name not in ("STATUS", "OK")):
            return None
        return name, arg

    def _keyword_reply(self, keyword: tuple[str, str], state: dict | None, backend: Backend, lang: str) -> Reply:
        """Carry out STATUS, OK, STOP, START or HELP; the conversation state is kept."""
        name, arg = keyword
        lang = (state or {}).get("lang", lang)
        t = lambda key, **kw: self.config.text(lang, key, **kw)  # noqa: E731
        if name == "HELP":
            text = t("help")
        elif name == "STOP":
            backend.set_opt_out(True)
            text, state = t("stop_done"), None
        elif name == "START":
            backend.set_opt_out(False)
            text = t("start_done")
        elif name == "STATUS":
            text = self._status_text(arg, lang, backend) if arg else t("status_usage")
        else:
            if not arg:
                text = t("ok_usage")
            elif not reportnumber.is_valid(arg):
                text = t("err_number_checkdigit")
            else:
                text = t(f"ok_{backend.acknowledge(arg)}", number=arg)
        return Reply(text, True, state)

    def _status_text(self, number: str, lang: str, backend: Backend) -> str:
        """A report's status in neutral words, or why the number was not found."""
        if not reportnumber.is_valid(number):
            return self.config.text(lang, "err_number_checkdigit")
        status = backend.status(number)
        if status is None:
            return self.config.text(lang, "err_number_unknown")
        return self.config.text(lang, "status_line", number=number, status=self.config.text(lang, f"status_{status}"))

    # ---- state and rendering --------------------------------------------------------
    def channel_language(self, channel: str, lang: str) -> str:
        """The reporter's language if this channel offers it, else the channel's first."""
        if channel == "voice":
            offered = self.voice_setup.offered or self.config.line.languages
        else:
            offered = self.config.line.ussd_languages if channel == "ussd" else self.config.line.languages
        return lang if lang in offered else offered[0]

    def _new_state(self, channel: str, lang: str, now: float) -> dict:
        """A conversation at the main menu. An SMS conversation is named by when it began (a USSD
        session by its provider's id, set by `ussd`): a report stored when its type is chosen is
        stored once per conversation, however often the type is chosen in it."""
        state = {"v": 1, "ch": channel, "lang": self.channel_language(channel, lang), "at": "menu", "page": 0, "ts": now}
        if channel == "sms":
            state["sid"] = f"sms:{int(now * 1000)}"
        return state

    new_state = _new_state

    def _t(self, state: dict, key: str, **values) -> str:
        """Words in the conversation's language."""
        return self.config.text(state["lang"], key, **values)

    def _question(self, state: dict) -> Question | None:
        """The question the conversation is at, if any."""
        if state.get("at") != "q":
            return None
        return self.config.flows[state["flow"]].questions[state["qi"]]

    def render(self, state: dict) -> Reply:
        """The screen a state is at, as the reporter would see it."""
        return self._show(state)

    def _show(self, state: dict) -> Reply:
        """Render the screen the state is at (clearing a one-time error)."""
        if state["ch"] == "voice":
            return voice_screens.show(self, state)
        state = dict(state)
        err = state.pop("err", None)
        notice = state.pop("notice", None)  # said once, on top of the screen it came with
        top = [self._t(state, err)] if err else []
        nav = [f"{self._t(state, 'nav_back')} {self._t(state, 'nav_menu')}"]
        at = state["at"]
        if at == "menu":
            items = [f"{i} {self._t(state, f'menu_{m}')}" for i, m in enumerate(self.config.main_menu, 1)]
            head = self.config.texts.get(state["lang"], {}).get("line_name", self.config.line.name)
            hint = [self._t(state, "sms_menu_hint")] if state["ch"] == "sms" else []
            # An error line takes the place of the line's name: options 1-6 stay on the first page.
            layout = Layout(tuple(x for x in (notice, *(top or [head])) if x), tuple(items), (), tuple(hint),
                            self._t(state, "nav_more"))
        elif at == "q":
            layout = self._question_layout(state, top, nav)
        elif at == "check":
            layout = Layout(tuple(top or [self._t(state, "check_prompt")]), (), first=tuple(nav))
        elif at == "tips":
            i = state.get("tip", 0)
            more = [self._t(state, "tip_next")] if i + 1 < len(self.config.tips) else []
            layout = Layout((*top, self._t(state, self.config.tips[i]), *more), (), first=tuple(nav))
        elif at == "lang":
            langs = self._offered_languages(state)
            items = [f"{i} {self.config.language_name(code)}" for i, code in enumerate(langs, 1)]
            layout = Layout(tuple(top or [self._t(state, "language_prompt")]), tuple(items), more=self._t(state, "nav_more"),
                            first=tuple(nav))
        elif at == "resume":
            layout = Layout((self._t(state, "resume_prompt"),), (f"1 {self._t(state, 'resume_continue')}",
                                                                  f"2 {self._t(state, 'resume_restart')}"))
        else:  # followup: what to do after an unsorted report
            layout = Layout((self._t(state, "unsorted_added", number=state["number"]),), ())
        text, pages = render(layout, state["ch"], state.get("page", 0))
        state["pages"] = pages
        return Reply(text, False, state)

    def _offered_languages(self, state: dict) -> tuple[str, ...]:
        """Languages the reporter may choose on this channel."""
        line = self.config.line
        if state["ch"] == "voice":
            return self.voice_setup.offered
        return line.ussd_languages if state["ch"] == "ussd" else line.languages

    def _question_layout(self, state: dict, top: list[str], nav: list[str]) -> Layout:
        """The screen of the current question."""
        q = self._question(state)
        more = self._t(state, "nav_more")
        # An error line takes the place of the question's words: small screens have no room for both.
        prompt = top or [self._t(state, q.prompt)]
        if q.kind == "area":
            # The question (or the place chosen so far) on the first page only, the level on every
            # page; how to go back and the typed village code on the first page of every level.
            cursor = state.get("area")
            children = self.areas.children(cursor)
            level = children[0].level if children else "village"
            head = top or ([self._t(state, q.prompt)] if cursor is None else [self.areas.get(cursor).name(state["lang"])])
            items = [f"{i} {a.name(state['lang'])}" for i, a in enumerate(children, 1)]
            return Layout((), tuple(items), more=more, intro=(" ".join((*head, self._t(state, f"area_{level}"))),),
                          outro=(self._t(state, "nav_dont_know"),), first=(*nav, self._t(state, "area_code_hint")))
        skip = [self._t(state, "nav_skip")] if q.optional else []
        if q.kind == "choice":
            items = [f"{i} {self._t(state, o)}" for i, o in enumerate(q.options, 1)]
            return Layout(tuple(prompt), tuple(items), tuple(skip), more=more, first=tuple(nav))
        if q.kind == "consent":
            items = (f"1 {self._t(state, 'consent_yes')}", f"2 {self._t(state, 'consent_no')}")
            return Layout(tuple(prompt), items, more=more, first=tuple(nav))
        return Layout(tuple(prompt), (), tuple(skip), more=more, first=tuple(nav))

    # ---- input ----------------------------------------------------------------------
    def _input(self, state: dict, raw: str, backend: Backend) -> Reply:
        """Apply one input to the screen the state is at."""
        value = normalise_input(raw)
        at = state["at"]
        if value == MENU and at != "resume":
            return self._show(self._to_menu(state))
        if value == MORE and state.get("pages", 1) > 1:
            return self._show(dict(state, page=state.get("page", 0) + 1))
        handler = {"menu": self._on_menu, "q": self._on_question, "check": self._on_check, "tips": self._on_tips,
                   "lang": self._on_language, "resume": self._on_resume, "followup": self._on_followup}[at]
        return handler(state, value, raw, backend)

    input = _input

    def _to_menu(self, state: dict) -> dict:
        """The same conversation, back at the main menu."""
        return {k: v for k, v in state.items() if k in ("v", "ch", "lang", "ts", "sid", "seen", "mark", "n")} | {"at": "menu", "page": 0}

    def _error(self, state: dict, key: str) -> Reply:
        """Show the same screen again with an explanation first."""
        reply = self._show(dict(state, err=key))
        return Reply(reply.text, reply.end, reply.state, invalid=True)

    def _on_menu(self, state: dict, value: str, raw: str, backend: Backend) -> Reply:
        """A choice on the main menu; a type stored the moment it is chosen is stored now."""
        index = _choice(value, len(self.config.main_menu))
        if index is None:
            return self._error(state, "err_choice")
        entry = self.config.main_menu[index]
        state = self._to_menu(state)
        if entry in self.config.flows:
            state.update(at="q", flow=entry, qi=self._asked(entry, -1, 1, state["ch"]), answers={}, area=None)
            if self.config.flows[entry].kind.store_first:
                ref = f"{state['sid']}:{entry}" if state.get("sid") else None
                state["number"] = backend.submit(self._draft(state, {}, ref))
        else:
            state.update(at={"check": "check", "tips": "tips", "language": "lang"}[entry], tip=0)
        return self._show(state)

    def _on_resume(self, state: dict, value: str, raw: str, backend: Backend) -> Reply:
        """Continue the dropped conversation (1) or start again (2)."""
        if value == "1":
            saved = dict(state["saved"], sid=state.get("sid"), seen=state.get("seen", 0), mark=state.get("mark"), ts=state["ts"])
            if "n" in state:
                saved["n"] = state["n"]
            return self._show(saved)
        if value == "2":
            return self._show({k: v for k, v in state.items() if k != "saved"} | {"at": "menu", "page": 0})
        return self._error(state, "err_choice")

    def _on_check(self, state: dict, value: str, raw: str, backend: Backend) -> Reply:
        """A typed report number on the check screen."""
        if value == BACK:
            return self._show(self._to_menu(state))
        if not reportnumber.is_valid(value):
            return self._error(state, "err_number_checkdigit")
        status = backend.status(reportnumber.clean(value))
        if status is None:
            return self._error(state, "err_number_unknown")
        number = reportnumber.clean(value)
        if state["ch"] == "voice":
            return Reply(voice_screens.status(self, state["lang"], number, status), True, None)
        text = self._t(state, "status_line", number=number, status=self._t(state, f"status_{status}"))
        return Reply(text, True, None)

    def _on_tips(self, state: dict, value: str, raw: str, backend: Backend) -> Reply:
        """Next tip (1) or back (0)."""
        i = state.get("tip", 0)
        if value == "1" and i + 1 < len(self.config.tips):
            return self._show(dict(state, tip=i + 1, page=0))
        if value == BACK:
            return self._show(dict(state, tip=i - 1) if i > 0 else self._to_menu(state))
        return self._error(state, "err_choice")

    def _on_language(self, state: dict, value: str, raw: str, backend: Backend) -> Reply:
        """A language chosen from the list."""
        if value == BACK:
            return self._show(self._to_menu(state))
        langs = self._offered_languages(state)
        index = _choice(value, len(langs))
        if index is None:
            return self._error(state, "err_choice")
        backend.set_language(langs[index])
        return self._show(self._to_menu(dict(state, lang=langs[index])))

    def _on_followup(self, state: dict, value: str, raw: str, backend: Backend) -> Reply:
        """After an unsorted report (only 00 reaches here, handled above)."""
        return self._show(self._to_menu(state))

    def _on_question(self, state: dict, value: str, raw: str, backend: Backend) -> Reply:
        """An answer to the current question of a report flow."""
        q = self._question(state)
        if q.kind == "area":
            return self._on_area(state, q, value, backend)
        if value == BACK:
            return self._back(state)
        if value == SKIP and q.optional:
            return self._next(state, q, None, backend)
        if q.kind == "choice":
            index = _choice(value, len(q.options))
            return self._error(state, "err_choice") if index is None else self._next(state, q, q.options[index], backend)
        if q.kind == "consent":
            if value not in ("1", "2"):
                return self._error(state, "err_choice")
            return self._next(state, q, value == "1", backend)
        if q.kind == "phone":
            number = phones.normalise(value, self.config.line.country)
            return self._error(state, "err_phone") if number is None else self._next(state, q, number, backend)
        text = " ".join(raw.split())[:MAX_TEXT]
        return self._next(state, q, text, backend) if text else self._error(state, "err_choice")

    def _on_area(self, state: dict, q: Question, value: str, backend: Backend) -> Reply:
        """Walk the gazetteer: a numbered child, a typed code, don't know, or back up a level."""
        cursor = state.get("area")
        if value == BACK:
            if cursor is None:
                return self._back(state)
            return self._show(dict(state, area=self.areas.get(cursor).parent, page=0))
        if value == SKIP:
            return self._next(state, q, cursor, backend)
        if len(value) >= 4 and value.isdigit():
            typed = self.areas.find_village(value)
            if typed is None:
                return self._error(state, "err_choice")
            cursor = typed.code
        else:
            children = self.areas.children(cursor)
            index = _choice(value, len(children))
            if index is None:
                return self._error(state, "err_choice")
            cursor = children[index].code
        if not self.areas.children(cursor):
            return self._next(state, q, cursor, backend)
        return self._show(dict(state, area=cursor, page=0))

    def _back(self, state: dict) -> Reply:
        """The previous question, or the main menu from the first."""
        qi = self._asked(state["flow"], state["qi"], -1, state["ch"])
        if qi < 0:
            return self._show(self._to_menu(state))
        answers = dict(state["answers"])
        previous = self.config.flows[state["flow"]].questions[qi]
        answers.pop(previous.id, None)
        return self._show(dict(state, qi=qi, answers=answers, area=None, page=0))

    def _next(self, state: dict, q: Question, answer, backend: Backend) -> Reply:
        """Record an answer, then ask the next question or store the report (a report stored when its
        type was chosen gets each answer as it comes, so a dropped session loses none)."""
        answers = dict(state["answers"], **{q.id: answer})
        flow = self.config.flows[state["flow"]]
        following = self._asked(flow.type, state["qi"], 1, state["ch"])
        last = following >= len(flow.questions)
        draft = self._draft(state, answers)
        if "number" in state:
            backend.update(state["number"], draft)
        if not last:
            return self._show(dict(state, qi=following, answers=answers, area=None, page=0))
        number = state["number"] if "number" in state else backend.submit(draft)
        if state["ch"] == "voice":
            return Reply(voice_screens.stored(self, state["lang"], flow.done, number, backend.reach(draft)), True, None)
        return Reply(self.stored_text(state["lang"], state["ch"], flow.done, number, backend.reach(draft)), True, None)

    def _asked(self, flow: str, qi: int, direction: int, channel: str) -> int:
        """The question after (direction 1) or before (-1) question `qi` that the channel asks: a call
        cannot type words, so it passes over free-text questions (the check allows only optional ones)."""
        questions = self.config.flows[flow].questions
        qi += direction
        while channel == "voice" and 0 <= qi < len(questions) and questions[qi].kind == "text":
            qi += direction
        return qi

    REACH = ("leader", "agency", "staff")
    """What routing can do for a report: a promise_<reach> text says it to the reporter."""

    def _draft(self, state: dict, answers: dict, ref: str | None = None) -> Draft:
        """The report a conversation's answers make so far."""
        flow = self.config.flows[state["flow"]]
        area = next((answers.get(x.id) for x in flow.questions if x.kind == "area"), None)
        consent = next((answers.get(x.id) for x in flow.questions if x.kind == "consent"), None)
        return Draft(flow.type, area, answers, state["lang"], consent, state["ch"], ref)

    def stored_text(self, lang: str, channel: str, key: str, number: str, reach: str) -> str:
        """The answer once a report is stored: its number, what routing will do for it (and no more:
        docs/safety.md rule 5), and on SMS a neutral word on deleting the conversation (rule 8)."""
        text = self.config.text(lang, key, number=number, promise=self.config.text(lang, f"promise_{reach}"))
        return _prefix(text, self.config.text(lang, "sms_delete_hint")) if channel == "sms" else text

    # ---- unsorted -------------------------------------------------------------------
    def _unsorted(self, text: str, lang: str, now: float, backend: Backend, notice: str = "") -> Reply:
        """Free text that followed no menu: stored as an unsorted report."""
        lang = self.channel_language("sms", lang)
        flow = self.config.flows[self.config.types.free_text]
        draft = Draft(flow.type, None, {"text": " ".join(text.split())[:MAX_TEXT * 2]}, lang, None, "sms")
        number = backend.submit(draft)
        state = {"v": 1, "ch": "sms", "lang": lang, "at": "followup", "number": number, "ts": now}
        saved = self.stored_text(lang, "sms", flow.done, number, backend.reach(draft))
        text = _prefix(notice, saved)
        return Reply(text if fits_screen(text, "sms") else saved, False, state)

    def _add_detail(self, state: dict, text: str, backend: Backend) -> Reply:
        """Further words after an unsorted report are added to it."""
        backend.add_detail(state["number"], " ".join(text.split())[:MAX_TEXT * 2])
        text = _prefix(self._t(state, "unsorted_added", number=state["number"]), self._t(state, "sms_delete_hint"))
        return Reply(text, False, state)


_WORD_BREAKS = re.compile(r"[\s\u200b]+")
"""Between words: white space, or the zero-width space Khmer writes between words."""

_KHMER_LETTER = re.compile(r"[\u1780-\u17ff]")

KHMER_SENTENCE = 12
"""Khmer is often written with no break between words: this many Khmer characters make a sentence."""


def free_words(text: str) -> bool:
    """True for words someone wrote to say something (several words, or a Khmer sentence), rather than
    a menu answer or a one-word greeting: such a text that is no keyword becomes a report."""
    words = [w for w in _WORD_BREAKS.split(text.strip()) if w]
    return len(words) >= 2 or len(_KHMER_LETTER.findall(text)) >= KHMER_SENTENCE


def _choice(value: str, count: int) -> int | None:
    """Zero-based index of a numbered choice 1..count, or None."""
    value = value.rstrip(".)")
    if not value.isdigit() or not value.isascii() or len(value) > 3:
        return None
    n = int(value)
    return n - 1 if 1 <= n <= count else None


def _mark(text: str) -> str:
    """A short fingerprint of the session's inputs so far (the inputs themselves are not kept)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _seen(full_text: str) -> dict:
    """What the state remembers of a USSD session's inputs: how long they were, and their fingerprint."""
    return {"seen": len(full_text), "mark": _mark(full_text)}


def _prefix(notice: str, text: str) -> str:
    """A notice on its own line before a text, when there is one."""
    return f"{notice}\n{text}" if notice else text

