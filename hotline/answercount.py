"""How many answers a report takes on a phone, per language, channel and report type: the figure
that says whether the menus are short enough for a villager (published in the README, printed by
`python -m hotline check`).

A report's answers are: its main-menu option, the place, then one answer per question. The place
is counted two ways: typing the village code (one answer), or choosing province, district, commune
and village from the lists, with every "98 More" pressed on the way (the mean over every village
of the gazetteer). A choice question counts its "98 More" presses too (the mean over its options).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from hotline.engine import Engine
from hotline.engine.speech import decode


@dataclass(frozen=True)
class Count:
    """Answers one report takes: by the typed village code, and (mean, most) by the lists."""

    typed: float
    lists_mean: float
    lists_max: int


def _state(engine: Engine, channel: str, lang: str, flow: str, qi: int, area: str | None = None) -> dict:
    """A conversation at one question (and, for a place, at one level of the lists)."""
    return {"v": 1, "ch": channel, "lang": lang, "ts": 0, "page": 0, "at": "q", "flow": flow, "qi": qi,
            "answers": {}, "area": area}


def _page_of(engine: Engine, state: dict) -> dict[str, int]:
    """The page (0, 1, ...) each numbered option of a screen is on (on a call, the prompt that reads it)."""
    pages = engine.render(state).state["pages"]
    where: dict[str, int] = {}
    for page in range(pages):
        text = engine.render(dict(state, page=page)).text
        for number in (_spoken_options(text) if state["ch"] == "voice" else
                       (line.split(" ", 1)[0] for line in text.splitlines())):
            if number.isdigit():
                where.setdefault(number, page)
    return where


def _spoken_options(text: str) -> list[str]:
    """The option numbers a call's prompt reads ("for ..., press N")."""
    return [item[2]["key"][0][1] for item in decode(text)["say"] if item[:2] == ["t", "voice_option"]]


def place_by_lists(engine: Engine, channel: str, lang: str, flow: str, qi: int) -> list[int]:
    """Answers to reach each village from the lists (its choice at each level, and the 98s before it)."""
    areas = engine.areas
    pages_at: dict[str | None, dict[str, int]] = {}
    costs = []
    for village in areas.all():
        if village.level != "village":
            continue
        answers, parent = 0, None
        for area in areas.path(village.code):
            if parent not in pages_at:
                pages_at[parent] = _page_of(engine, _state(engine, channel, lang, flow, qi, parent))
            index = [a.code for a in areas.children(parent)].index(area.code) + 1
            answers += pages_at[parent][str(index)] + 1
            parent = area.code
        costs.append(answers)
    return costs


def count(engine: Engine, channel: str, lang: str, flow: str) -> Count:
    """Answers a report of `flow` takes on `channel` in `lang`."""
    questions = engine.config.flows[flow].questions
    rest, place = 1.0, None  # the main-menu option
    for qi, q in enumerate(questions):
        if channel == "voice" and q.kind == "text":
            continue  # a call asks no free words
        if q.kind == "area":
            place = place_by_lists(engine, channel, lang, flow, qi)
        elif q.kind in ("choice", "consent"):
            where = _page_of(engine, _state(engine, channel, lang, flow, qi))
            options = len(q.options) if q.kind == "choice" else 2
            rest += statistics.mean(where[str(i)] + 1 for i in range(1, options + 1))
        else:
            rest += 1
    if place is None:
        return Count(rest, rest, round(rest))
    return Count(rest + 1, rest + statistics.mean(place), round(rest) + max(place))


def table(engine: Engine) -> dict[tuple[str, str, str], Count]:
    """Every (channel, language, report type) a reporter can make by menu, counted."""
    line = engine.config.line
    out = {}
    for channel, langs in (("ussd", line.ussd_languages), ("sms", line.languages), ("voice", engine.voice_setup.offered)):
        for lang in langs:
            for flow in engine.config.main_menu:
                if flow in engine.config.flows:
                    out[(channel, lang, flow)] = count(engine, channel, lang, flow)
    return out


def markdown(engine: Engine) -> str:
    """The table as the README shows it."""
    rows = ["| channel | language | report | typed village code | by the lists: mean (most) |",
            "|---|---|---|---|---|"]
    for (channel, lang, flow), c in table(engine).items():
        rows.append(f"| {'call' if channel == 'voice' else channel.upper()} | {lang} | {flow} | {c.typed:.1f} | "
                    f"{c.lists_mean:.1f} ({c.lists_max}) |")
    return "\n".join(rows)
