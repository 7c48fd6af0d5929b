"""The configuration check: directory, areas and flows valid, and every screen fits its channel.

Run with `python -m hotline check` (or `flask --app hotline check`). The app runs the same
validation at start-up and refuses to start on errors.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hotline.engine import Engine
from hotline.engine.config import SAMPLE_VALUES
from hotline.engine.screens import fits_final, fits_screen
from hotline.errors import ConfigError, Problem
from hotline.services import load_config
from hotline.settings import Settings
from hotline.smsbudget import fits_sms, sms_cost

FINAL_TEXTS = ("help", "stop_done", "start_done", "status_usage", "ok_done", "ok_already", "ok_unknown",
               "ok_not_contact", "ok_usage", "rate_limited", "err_number_checkdigit", "err_number_unknown")
"""SMS-only answers (keywords and free text), which must fit the SMS reply limit."""


@dataclass
class CheckResult:
    """Errors (the app refuses to start) and warnings (gaps worth knowing)."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    screens: int = 0
    voice: list = field(default_factory=list)
    """How calls speak each language, and the clips still to record (hotline.voice.catalogue)."""


def run(settings: Settings) -> CheckResult:
    """Validate everything the line loads and measure every screen in every language."""
    result = CheckResult()
    try:
        directory, engine = load_config(settings)
    except ConfigError as exc:
        result.errors.extend(exc.problems)
        return result
    result.warnings.extend(directory.warnings)
    result.warnings.extend(delivery_warnings(directory, settings))
    measure_screens(engine, result)  # counts the screens (errors were raised by load_config)
    measure_calls(engine, result)
    result.voice = list(getattr(engine, "voice_report", []))
    return result


@dataclass(frozen=True)
class Missing:
    """A setting an agency's deliveries need and this environment lacks: `variable` is unset, so the
    contact gets no `means` (webhook, email, api)."""

    contact: str
    line: int
    means: str
    variable: str


def missing_settings(directory, settings: Settings, environ: dict | None = None) -> list[Missing]:
    """Every secret or setting that an agency of the directory needs and the environment lacks."""
    import os

    environ = os.environ if environ is None else environ
    missing = []
    for c in directory.contacts:
        if c.webhook and not environ.get(c.webhook.secret_env):
            missing.append(Missing(c.id, c.line, "webhook", c.webhook.secret_env))
        if c.email and not settings.smtp_host:
            missing.append(Missing(c.id, c.line, "email", "SMTP_HOST"))
        if c.api_token_env and not environ.get(c.api_token_env):
            missing.append(Missing(c.id, c.line, "api", c.api_token_env))
    return missing


MISSING_WORDS = {"webhook": "{variable} is not set, so its webhook deliveries fail without being sent",
                 "email": "{variable} is not set, so it gets no email",
                 "api": "{variable} is not set"}
"""The check's words for each kind of missing setting."""


def delivery_warnings(directory, settings: Settings, environ: dict | None = None) -> list[Problem]:
    """Agencies that would not get their webhooks or emails with this environment (`missing_settings`)."""
    return [Problem(directory.path, m.line, f"contact {m.contact}: " + MISSING_WORDS[m.means].format(variable=m.variable))
            for m in missing_settings(directory, settings, environ)]


def measure_screens(engine: Engine, result: CheckResult) -> None:
    """Render every screen the engine can show, on both channels, in every offered language."""
    config = engine.config
    seen: set[tuple[str, str, str]] = set()
    for channel in ("ussd", "sms"):
        langs = config.line.ussd_languages if channel == "ussd" else config.line.languages
        for lang in langs:
            _check_first_page(engine, channel, lang, result)
            for state, key in _screen_states(engine, channel, lang):
                for page in range(64):
                    reply = engine.render(dict(state, page=page))
                    result.screens += 1
                    if not fits_screen(reply.text, channel) and (lang, key, channel) not in seen:
                        seen.add((lang, key, channel))
                        result.errors.append(_too_long(config, lang, key, channel, reply.text))
                    if page + 1 >= reply.state.get("pages", 1):
                        break
            if channel == "sms":
                for kind in ("new", "escalated", "located"):
                    words = config.text(lang, f"alert_{kind}", type=config.text(lang, "alert_type_recruiter"),
                                        number=SAMPLE_VALUES["number"], place=config.text(lang, "place_unknown"))
                    result.screens += 1
                    if not fits_sms(words, 2):
                        result.errors.append(_too_long(config, lang, f"alert_{kind}", channel, words))
                # A cluster's alert with its longest value and one report's number (more are added as they fit).
                words = config.text(lang, "alert_cluster", **{k: SAMPLE_VALUES[k] for k in ("count", "days", "value",
                                                                                             "numbers")})
                result.screens += 1
                if not fits_sms(words, 2):
                    result.errors.append(_too_long(config, lang, "alert_cluster", channel, words))
            for key, text in _final_texts(engine, channel, lang):
                result.screens += 1
                if not fits_final(text, channel):
                    result.errors.append(_too_long(config, lang, key, channel, text))


def measure_calls(engine: Engine, result: CheckResult) -> None:
    """The voice patience budget: every prompt of a call, in every language, takes at most
    speech.MAX_SECONDS to hear and offers at most speech.MAX_OPTIONS options; and every question a
    call asks can be answered by keypad."""
    from hotline.engine import speech
    from hotline.voice import catalogue, pieces

    config = engine.config
    for flow in config.flows.values():
        for q in flow.questions:
            if q.kind == "text" and not q.optional:
                result.errors.append(Problem("config/flows.yaml", None, f"[voice] question {q.id} of {flow.type} asks for "
                                             "words, which a caller cannot type on a keypad: make it optional"))
    for lang in config.line.languages:
        blamed: set[str] = set()
        for said, key in catalogue.every_speech(engine, lang):
            result.screens += 1
            options = sum(1 for item in said["say"] if item[:2] == ["t", "voice_option"])
            seconds = pieces.seconds(config, engine.voice_setup, said)
            if (options > speech.MAX_OPTIONS or seconds > speech.MAX_SECONDS) and key not in blamed:
                blamed.add(key)
                result.errors.append(Problem(
                    f"config/messages/{lang}.yaml", config.text_lines.get(lang, {}).get(key),
                    f"[voice] the prompt for {key!r} takes {seconds:.0f} s to hear with {options} options: a caller "
                    f"waits at most {speech.MAX_SECONDS:.0f} s and hears at most {speech.MAX_OPTIONS} options; "
                    f"shorten its words: {pieces.words(config, engine.areas, said)[:60]!r}…"))


def voice_lines(reports) -> list[str]:
    """What the check prints of calls: how each language is spoken, whether calls offer it, and
    every clip still to record."""
    lines = []
    for r in reports:
        if r.say is not None:
            lines.append(f"voice: {r.lang} is spoken by the platform's text-to-speech (<Say> "
                         f"{', '.join(f'{k}={v}' for k, v in r.say.items())}): offered on calls")
            continue
        recorded = len(r.needed) - len(r.missing)
        state = "offered on calls" if r.offered else f"NOT offered on calls until its {len(r.missing)} missing clips are recorded"
        lines.append(f"voice: {r.lang} is spoken from recorded clips: {len(r.needed)} clips to record "
                     f"(digits and shared phrases reused), {recorded} recorded; {state}; place names are optional "
                     f"({r.places} recorded; a level without them asks for the area code)")
        for clip in r.missing:
            lines.append(f"  missing clip {r.lang}/{clip.id}: {clip.words}")
    return lines


def _check_first_page(engine: Engine, channel: str, lang: str, result: CheckResult) -> None:
    """Options 1-6 of the first screen are printed on posters: all of them must be on its first page,
    with and without an error line (docs/contract.md section 4)."""
    config = engine.config
    base = {"v": 1, "ch": channel, "lang": lang, "ts": 0, "page": 0, "at": "menu"}
    for state in (base, dict(base, err="err_choice")):
        text = engine.render(state).text
        missing = [str(i) for i in range(1, 7) if not any(line.startswith(f"{i} ") for line in text.splitlines())]
        if missing:
            line = config.text_lines.get(lang, {}).get("menu_recruiter")
            result.errors.append(Problem(f"config/messages/{lang}.yaml", line,
                                         f"[{channel}] the first screen's first page lacks option(s) {', '.join(missing)}"
                                         f"{' after an error line' if 'err' in state else ''}: shorten the words of "
                                         f"menu_* (and line_name, err_choice): {text[:60]!r}…"))


def _screen_states(engine: Engine, channel: str, lang: str):
    """(state, text key to blame) for every kind of screen, with and without an error line."""
    config = engine.config
    base = {"v": 1, "ch": channel, "lang": lang, "ts": 0, "page": 0}
    for err in (None, "err_choice"):
        extra = {"err": err} if err else {}
        yield dict(base, at="menu", **extra), "menu_recruiter"
        yield dict(base, at="check", **({"err": "err_number_checkdigit"} if err else {})), "check_prompt"
        yield dict(base, at="lang", **extra), "language_prompt"
        yield dict(base, at="resume", saved={}), "resume_prompt"
        for i, tip in enumerate(config.tips):
            yield dict(base, at="tips", tip=i, **extra), tip
        for flow in config.flows.values():
            for qi, q in enumerate(flow.questions):
                q_err = {"err": "err_phone"} if err and q.kind == "phone" else extra
                state = dict(base, at="q", flow=flow.type, qi=qi, answers={}, area=None, **q_err)
                yield state, q.prompt
                if q.kind == "area" and err is None and qi == 0 and flow.type == "recruiter":
                    for area in engine.areas.all():
                        if area.level != "village" and engine.areas.children(area.code):
                            yield dict(state, area=area.code), f"area {area.code}"
    yield dict(base, at="followup", number=SAMPLE_VALUES["number"]), "unsorted_added"


def _final_texts(engine: Engine, channel: str, lang: str):
    """(key, text) of every answer that ends an exchange."""
    config = engine.config
    t = lambda key, **kw: config.text(lang, key, **kw)  # noqa: E731
    for flow in config.flows.values():
        if flow.kind.free_text and channel != "sms":
            continue  # free words come by SMS only
        for reach in engine.REACH:  # each promise routing can make, the longest included
            yield flow.done, engine.stored_text(lang, channel, flow.done, SAMPLE_VALUES["number"], reach)
    for status in ("new", "acknowledged", "in_progress", "referred", "closed"):
        yield "status_line", t("status_line", number=SAMPLE_VALUES["number"], status=t(f"status_{status}"))
    if channel == "sms":
        for key in FINAL_TEXTS:
            yield key, t(key, number=SAMPLE_VALUES["number"], minutes=SAMPLE_VALUES["minutes"])
        yield "unsorted_added", t("unsorted_added", number=SAMPLE_VALUES["number"]) + "\n" + t("sms_delete_hint")
        yield "expired", t("expired", minutes=SAMPLE_VALUES["minutes"])


def _too_long(config, lang: str, key: str, channel: str, text: str) -> Problem:
    """A problem naming the text that does not fit, with its file line when known."""
    cost = sms_cost(text)
    where = "one USSD screen" if channel == "ussd" else "its SMS budget"
    line = config.text_lines.get(lang, {}).get(key)
    return Problem(f"config/messages/{lang}.yaml", line,
                   f"[{channel}] screen for {key!r} does not fit {where} ({cost.units} {cost.encoding} units, "
                   f"{cost.parts} SMS parts): {text[:60]!r}…")


def main(settings: Settings | None = None, answers: bool = False) -> int:
    """Print the check's findings (and, with `answers`, how many answers each report takes); exit
    status 1 on errors."""
    settings = settings or Settings.from_env()
    result = run(settings)
    for w in result.warnings:
        print(f"warning: {w}")
    for e in result.errors:
        print(f"error: {e}")
    for line in voice_lines(result.voice):
        print(line)
    print(f"{len(result.errors)} errors, {len(result.warnings)} warnings, {result.screens} screens measured")
    if answers and not result.errors:
        from hotline import answercount

        print("\nAnswers a report takes (the menu option, the place, each question):\n")
        print(answercount.markdown(load_config(settings)[1]))
    return 1 if result.errors else 0
