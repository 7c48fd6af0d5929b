"""What a simulated caller hears: the line's TwiML read back as words and clips, for the phone
simulator's call mode (the page shows the words and plays the clips in the browser)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache
from urllib.parse import urlsplit

from hotline.voice import catalogue


def read(s, twiml: str) -> dict:
    """A TwiML answer as {"items": [{"say", "lang"} | {"play", "words"}], "gather": {"action", "one"} | None,
    "silent": the URL followed when nothing is pressed, "ended": bool}."""
    root = ET.fromstring(twiml.encode("utf-8"))
    items = []
    for element in root.iter():
        if element.tag == "Say":
            items.append({"say": (element.text or "").strip(), "lang": element.get("language", "")})
        elif element.tag == "Play":
            path = urlsplit(element.text or "").path
            items.append({"play": path + ("?" + urlsplit(element.text).query if urlsplit(element.text).query else ""),
                          "words": _words(s, path)})
    gather = root.find("Gather")
    redirect = root.find("Redirect")
    return {"items": items,
            "gather": {"action": gather.get("action"), "one": gather.get("numDigits") == "1"} if gather is not None else None,
            "silent": redirect.text if redirect is not None else None,
            "ended": root.find("Hangup") is not None or root.find("Reject") is not None}


def _words(s, path: str) -> str:
    """The words a clip of the line says (from its URL: /voice/<lang>/<clip id>.<ext>)."""
    parts = path.split("/")
    if len(parts) < 4 or parts[1] != "voice":
        return ""
    lang, clip = parts[2], "/".join(parts[3:]).rsplit(".", 1)[0]
    if clip.startswith("areas/"):
        area = s.directory.gazetteer.get(clip[6:])
        return area.name(lang) if area else clip
    return _catalogue(s.engine, lang).get(clip, clip)


@lru_cache(maxsize=8)
def _catalogue(engine, lang: str) -> dict[str, str]:
    """Clip id to words, for one loaded configuration and language."""
    return {c.id: c.words for c in catalogue.needed(engine, lang)}
