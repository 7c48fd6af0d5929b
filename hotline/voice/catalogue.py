"""Prompts as data: every text a call speaks in each language, the clip each needs, and which
languages calls are offered in.

A language is spoken on calls by the platform's text-to-speech when `config/voice/languages.yaml`
names a voice for it (`say:`; English does by default), else from recorded clips in
`<HOTLINE_VOICE_DIR>/<lang>/<clip id>.wav` (or `.mp3`), place names in `<lang>/areas/<code>.wav`.
The clips a language needs are found by speaking every screen of the dialogue in it (so the
catalogue follows flows.yaml and the messages files by itself): each text is one clip, or one
per piece of words between its placeholders, and digits and shared phrases are clips of their
own, reused. Place names are optional: a level whose names are not all recorded asks for the
area code to be typed. A clip language is offered on calls only once every clip is there.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from hotline import yamlfile
from hotline.engine.speech import DIGIT_KEYS, D, SpokenLanguage, T, VoiceSetup, decode
from hotline.errors import ConfigError, Problem
from hotline.voice.pieces import pieces, template

log = logging.getLogger(__name__)

PLACE_LIST_TEXTS = ("voice_code_hint",)
"""Texts said only with a list of recorded place names (the catalogue finds them without any)."""

LANGUAGES_FILE = "languages.yaml"
"""In HOTLINE_VOICE_DIR: how each language is spoken on calls."""

CLIP_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg"}
"""Clip files the line serves for <Play> (both play on Twilio and Somleng), by extension."""

DEFAULT_SAY = {"en": {"language": "en-US"}}
"""Languages spoken by the platform's text-to-speech unless languages.yaml says otherwise."""

SAY_ATTRIBUTES = ("voice", "language")
"""What a language may set for <Say>."""


@dataclass(frozen=True)
class Clip:
    """One clip a language needs: its id (its file's name without extension) and the words it says."""

    id: str
    words: str


# ---- the catalogue -------------------------------------------------------------------------------
def screen_states(engine, lang: str):
    """(state, text key to blame) of every kind of screen a call can be at, with its error lines."""
    config = engine.config
    base = {"v": 1, "ch": "voice", "lang": lang, "ts": 0, "page": 0, "n": 1, "sid": "CA-check"}
    yield dict(base, at="menu"), "menu_recruiter"
    yield dict(base, at="menu", err="err_choice", notice="voice_idle"), "voice_idle"
    yield dict(base, at="check"), "check_prompt"
    for err in ("err_number_checkdigit", "err_number_unknown"):
        yield dict(base, at="check", err=err), err
    yield dict(base, at="lang"), "language_prompt"
    yield dict(base, at="resume", saved={}), "resume_prompt"
    for i, tip in enumerate(config.tips):
        yield dict(base, at="tips", tip=i), tip
    for flow in config.flows.values():
        for qi, q in enumerate(flow.questions):
            if q.kind == "text":
                continue
            state = dict(base, at="q", flow=flow.type, qi=qi, answers={}, area=None)
            yield state, q.prompt
            yield dict(state, err="err_phone" if q.kind == "phone" else "err_choice"), q.prompt
            if q.kind == "area":
                cursor = None
                while engine.areas.children(cursor) and engine.areas.children(engine.areas.children(cursor)[0].code):
                    cursor = engine.areas.children(cursor)[0].code
                    yield dict(state, area=cursor), f"area {cursor}"


def final_speeches(engine, lang: str):
    """(speech, key to blame) of every way a call ends."""
    from hotline.engine import voice as voice_screens
    from hotline.engine.config import SAMPLE_VALUES

    number = SAMPLE_VALUES["number"]
    for flow in engine.config.flows.values():
        if flow.kind.free_text:
            continue
        for reach in engine.REACH:
            yield decode(voice_screens.stored(engine, lang, flow.done, number, reach)), flow.done
    for status in ("new", "acknowledged", "in_progress", "referred", "closed"):
        yield decode(voice_screens.status(engine, lang, number, status)), "status_line"
    yield decode(voice_screens.rate_limited(lang)), "voice_rate_limited"
    yield {"lang": lang, "say": [T("voice_idle"), T("voice_idle_end")]}, "voice_idle_end"


def every_speech(engine, lang: str):
    """(speech, key to blame) of every page of every screen and every ending of a call in `lang`."""
    for state, key in screen_states(engine, lang):
        for page in range(64):
            reply = engine.render(dict(state, page=page))
            yield decode(reply.text), key
            if page + 1 >= reply.state.get("pages", 1):
                break
    yield from final_speeches(engine, lang)
    yield {"lang": lang, "say": [D("0123456789")]}, "voice_digit_0"


def needed(engine, lang: str) -> list[Clip]:
    """Every clip a call in `lang` may play, in the order a recorder meets them (places left out:
    they are optional)."""
    setup = engine.voice_setup
    engine.voice_setup = VoiceSetup(offered=tuple(engine.config.line.languages),
                                    languages={lang: SpokenLanguage(lang)}, idle_seconds=setup.idle_seconds)
    try:
        found: dict[str, str] = {}
        for speech, _ in every_speech(engine, lang):
            for item in speech["say"]:
                for own, text, clip in pieces(engine.config, lang, item):
                    if own == lang and clip is not None and not clip.startswith("areas/"):
                        said = template(engine.config, lang, clip) if clip.startswith("voice_digit_") else text
                        found.setdefault(clip, " ".join(said.split()))
    finally:
        engine.voice_setup = setup
    for key in (*DIGIT_KEYS, *PLACE_LIST_TEXTS):
        found.setdefault(key, template(engine.config, lang, key))
    return [Clip(clip, text) for clip, text in found.items()]


def shared(clips: list[Clip]) -> dict[str, str]:
    """Clips that say the very same words as an earlier one, to that one (recorded once, played for both)."""
    first: dict[str, str] = {}
    out = {}
    for clip in clips:
        same = first.setdefault(clip.words, clip.id)
        if same != clip.id:
            out[clip.id] = same
    return out


# ---- loading -------------------------------------------------------------------------------------
def read_languages(voice_dir: Path, languages: tuple[str, ...]) -> dict[str, dict | None]:
    """How each language is spoken: its <Say> attributes, or None for recorded clips."""
    path = voice_dir / LANGUAGES_FILE
    raw = (yamlfile.load(path) if path.exists() else None) or {}
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        raise ConfigError([Problem(str(path), 1, "must map each language to how calls speak it")])
    out: dict[str, dict | None] = {}
    for lang in languages:
        spec = raw.get(lang)
        if spec is None:
            out[lang] = DEFAULT_SAY.get(lang)
            continue
        line = raw.line_of(lang)
        if not isinstance(spec, dict) or set(spec) - {"say", "clips"}:
            problems.append(Problem(str(path), line, f"{lang}: give say: {{voice, language}} or clips: true"))
            continue
        say = spec.get("say")
        if say is None or spec.get("clips"):
            out[lang] = None
        elif isinstance(say, dict) and not set(say) - set(SAY_ATTRIBUTES) and all(isinstance(v, str) for v in say.values()):
            out[lang] = dict(say)
        else:
            problems.append(Problem(str(path), line, f"{lang}.say: may set only {', '.join(SAY_ATTRIBUTES)} (text)"))
    if problems:  # a language the line does not speak (yet) may stay in the file: it is not read
        raise ConfigError(problems)
    return out


def clip_files(folder: Path) -> dict[str, str]:
    """Clip id to file name, for the clips in a folder (a .wav wins over an .mp3 of the same id)."""
    found: dict[str, str] = {}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: (e.name.endswith(".mp3"), e.name))
    except OSError:
        return found
    for entry in entries:
        stem, ext = os.path.splitext(entry.name)
        if ext in CLIP_TYPES and not entry.name.startswith(".") and entry.is_file():
            found.setdefault(stem, f"{entry.name}?v={entry.stat().st_mtime_ns}")
    return found


def _durations(folder: Path, files: dict[str, str]) -> dict[str, float]:
    """Each clip's length in seconds (a file that cannot be read is left out: the check names it)."""
    import soundfile

    out = {}
    for clip, name in files.items():
        try:
            out[clip] = float(soundfile.info(str(folder / name.split("?")[0])).duration)
        except (RuntimeError, OSError, soundfile.LibsndfileError):
            log.warning("clip %s cannot be read", clip)
    return out


@dataclass(frozen=True)
class LanguageReport:
    """What the check says of one language on calls."""

    lang: str
    say: dict | None
    needed: list[Clip]
    missing: list[Clip]
    places: int
    offered: bool


def load(engine, voice_dir: Path, idle_seconds: int) -> tuple[VoiceSetup, list[LanguageReport]]:
    """The voice setup of a loaded engine: how each language is spoken, and the languages offered
    on calls (spoken by the platform, or every needed clip recorded)."""
    line = engine.config.line
    modes = read_languages(voice_dir, line.languages)
    spoken, reports = {}, []
    for lang in line.languages:
        if modes[lang] is not None:
            spoken[lang] = SpokenLanguage(lang, say=modes[lang])
            reports.append(LanguageReport(lang, modes[lang], [], [], 0, True))
            continue
        files = clip_files(voice_dir / lang)
        places = clip_files(voice_dir / lang / "areas")
        every = needed(engine, lang)
        aliases = shared(every)
        clips = [c for c in every if c.id not in aliases]
        spoken[lang] = SpokenLanguage(lang, clips={**{a: files[c] for a, c in aliases.items() if c in files}, **files},
                                      places=places, durations=_durations(voice_dir / lang, files))
        missing = [c for c in clips if c.id not in files]
        reports.append(LanguageReport(lang, None, clips, missing, len(places), not missing))
    offered = tuple(r.lang for r in reports if r.offered)
    return VoiceSetup(offered, spoken, idle_seconds), reports


def fingerprint(voice_dir: Path) -> tuple:
    """Change times of the voice folders (each language's, and its areas/): a clip added or replaced
    changes its folder's, so the configuration is loaded again, and a language whose clips are now
    complete is offered, without a restart."""
    folders = [voice_dir]
    try:
        for entry in sorted(os.scandir(voice_dir), key=lambda e: e.name):
            if entry.is_dir():
                folders += [Path(entry.path), Path(entry.path) / "areas"]
    except OSError:
        pass
    out = []
    for folder in folders:
        try:
            out.append((str(folder), folder.stat().st_mtime_ns))
        except OSError:
            out.append((str(folder), None))
    return tuple(out)
