"""The dialogue on a call: each step of a call through the same engine, and each screen spoken.

A call's state is the engine's conversation state with `ch: voice`, its CallSid as `sid` and
`n`, the step it waits for: each prompt's answer comes back naming its step, so an answer to an
earlier prompt (a replayed request) is refused instead of moving the call. `*` repeats, `0` goes
back, and the option numbers are USSD's ("98" for more, "99" skip or don't know). Silence is
counted (`idle`, the waits of the prompts nobody answered), and after `VoiceSetup.idle_seconds` of
it the call is ended politely.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.engine.speech import MAX_OPTIONS, NAME, D, P, T, decode, encode, speech

if TYPE_CHECKING:
    from hotline.engine.dialogue import Backend, Engine, Reply

REPEAT = "*"
"""The key that says the prompt again."""

def vkey(engine: Engine, lang: str, key: str) -> str:
    """The words a call says for `key`: `voice_<key>` where the language has it (words meant to be
    heard, "then press hash"), else the screen's own."""
    voiced = f"voice_{key}"
    return voiced if voiced in engine.config.texts.get(lang, {}) else key


def step(engine: Engine, state: dict | None, digits: str | None, call_sid: str, answered: int | None, now: float,
         backend: Backend, lang: str) -> Reply:
    """Answer one request of a call: its first (`answered` None), or the keys pressed at prompt
    `answered` (`digits` None: the caller was silent)."""
    from hotline.engine.dialogue import RESUME_SECONDS, Reply

    lang = engine.channel_language("voice", lang)
    if state and state.get("ch") == "voice" and state.get("sid") == call_sid:
        if state.get("ended"):
            return _refused(state, "this call has ended")
        if answered is None:  # the call's first request again: the same greeting
            return engine.render(state)
        if answered != state.get("n"):
            if answered < state.get("n", 0):
                return _refused(state, f"prompt {answered} of this call was answered already (the call is at prompt "
                                       f"{state.get('n')}): a replayed request")
            return _refused(state, f"prompt {answered} was never given on this call (it is at prompt {state.get('n')})")
        state = dict(state, ts=now, n=answered + 1)
        if digits is None:  # the prompt's wait went by in silence
            idle = state.get("idle", 0) + (decode(engine.render(state).text)["gather"] or {}).get("wait", 0)
            if idle >= engine.voice_setup.idle_seconds:
                text = encode(speech(state["lang"], [T("voice_idle"), T("voice_idle_end")], end=True))
                return Reply(text, True, dict(state, idle=idle, ended=True))
            return engine.render(dict(state, idle=idle, notice="voice_idle"))
        state.pop("idle", None)
        if digits == REPEAT:
            return engine.render(state)
        return engine.input(state, digits, backend)
    saved = state if state and state.get("ch") == "voice" and state.get("at") in ("q", "check") \
        and now - state.get("ts", 0) < RESUME_SECONDS else None
    fresh = engine.new_state("voice", saved.get("lang", lang) if saved else lang, now)
    fresh.update(sid=call_sid, n=(answered or 0) + 1)
    if saved:
        fresh.update(at="resume", saved={k: v for k, v in saved.items() if k not in ("ended", "idle")})
    return engine.render(fresh)


def _refused(state: dict, why: str) -> Reply:
    """A request the call cannot take: the state is kept as it is."""
    from hotline.engine.dialogue import Reply

    return Reply(encode(speech(state.get("lang", ""), [], refused=why)), True, state)


def show(engine: Engine, state: dict) -> Reply:
    """The screen a call is at, spoken (clearing a one-time error or notice)."""
    from hotline.engine.dialogue import Reply

    state = dict(state)
    err, notice = state.pop("err", None), state.pop("notice", None)
    lang, at = state["lang"], state["at"]
    cfg = engine.config
    t = lambda key, **kw: T(vkey(engine, lang, key), **kw)
    lead: list = [T(notice)] if notice else []  # said on whichever page: why the screen is heard again
    if err:
        lead.append(t(err))
    head: list = []  # the screen's own words, on its first page (later pages are its options only)
    options: list[tuple[str, list]] = []
    tail: list = []
    typed = False  # a number or code may be typed (several keys, '#' ends)
    back = at != "menu"
    if at == "menu":
        if not err:
            head.append(NAME)
        options = [(str(i), T(f"menu_{m}")) for i, m in enumerate(cfg.main_menu, 1)]
    elif at == "q":
        typed = _question(engine, state, head, options, tail, err)
    elif at == "check":
        if not err:
            head.append(t("check_prompt"))
        typed = True
    elif at == "tips":
        i = state.get("tip", 0)
        head.append(T(cfg.tips[i]))
        if i + 1 < len(cfg.tips):
            options = [("1", T("voice_next_tip"))]
    elif at == "lang":
        head.append(t("language_prompt"))
        options = [(str(i), T("_language_name", code)) for i, code in enumerate(engine.voice_setup.offered, 1)]
    else:  # resume
        head.append(t("resume_prompt"))
        options = [("1", t("resume_continue")), ("2", t("resume_restart"))]
        back = False
    pages = max(1, -(-len(options) // MAX_OPTIONS))
    page = state.get("page", 0) % pages
    items = lead + head if page == 0 else lead
    for number, option in options[page * MAX_OPTIONS:(page + 1) * MAX_OPTIONS]:
        items.append(T("voice_option", option=[option], key=[D(number)]))
    if page < pages - 1:
        items.append(T("voice_more", key=[D("98")]))
    items += tail
    if back:
        items.append(T("voice_back", key=[D("0")]))
    items.append(T("voice_repeat"))
    state["pages"] = pages
    one_key = not typed and pages == 1 and not tail and len(options) <= 9
    return Reply(encode(speech(lang, items, state.get("n"), one_key)), False, state)


def _question(engine: Engine, state: dict, head: list, options: list, tail: list, err: str | None) -> bool:
    """The current question's prompt, options and extra keys; True if a number may be typed."""
    lang = state["lang"]
    q = engine.config.flows[state["flow"]].questions[state["qi"]]
    prompt = T(vkey(engine, lang, q.prompt))
    if q.kind == "area":
        cursor = state.get("area")
        children = engine.areas.children(cursor)
        level = children[0].level if children else "village"
        if not err:
            head.append(prompt if cursor is None else P(cursor))
        head.append(T(f"area_{level}"))
        spoken = engine.voice_setup.spoken(lang)
        if children and all(spoken.speaks_place(a.code) for a in children):
            options += [(str(i), P(a.code)) for i, a in enumerate(children, 1)]
            tail.append(T("voice_code_hint"))
        else:  # a place name not recorded: the area code is typed instead
            tail.append(T("voice_code_only"))
        tail.append(T("voice_dont_know", key=[D("99")]))
        return True
    if not err:
        head.append(prompt)
    if q.optional:
        tail.append(T("voice_skip", key=[D("99")]))
    if q.kind == "choice":
        options += [(str(i), T(o)) for i, o in enumerate(q.options, 1)]
        return False
    if q.kind == "consent":
        options += [("1", T(vkey(engine, lang, "consent_yes"))), ("2", T(vkey(engine, lang, "consent_no")))]
        return False
    return True  # a phone number, typed


def stored(engine: Engine, lang: str, key: str, number: str, reach: str) -> str:
    """The end of a call that stored a report: what routing will do, the number twice, goodbye."""
    items = [T(vkey(engine, lang, key), promise=[T(f"promise_{reach}")]),
             T("voice_your_number", number=[D(number)]), T("voice_goodbye")]
    return encode(speech(lang, items, end=True))


def status(engine: Engine, lang: str, number: str, state_name: str) -> str:
    """The end of a call that checked a report's status."""
    items = [T("status_line", number=[D(number)], status=[T(f"status_{state_name}")]), T("voice_goodbye")]
    return encode(speech(lang, items, end=True))


def rate_limited(lang: str) -> str:
    """A call refused by the rate limit, in the phone's language (a call in progress is never refused)."""
    return encode(speech(lang, [T("voice_rate_limited")], end=True))
