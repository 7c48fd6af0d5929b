"""What Twilio and Somleng accept of a TwiML document: the verbs, where each may be nested, their
attributes and the values those take. A schema written from Twilio's TwiML reference (each verb's
page) and Somleng's TwiML parser (somleng-switch: `<Gather>` takes only `<Say>` and `<Play>`,
`<Dial>` only `<Number>` and `<Sip>`), keeping to what both take. Tests run every document the
line answers through `problems`.
https://www.twilio.com/docs/voice/twiml
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

URL = re.compile(r"^https?://[^\s<>\"]+$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
POSITIVE = re.compile(r"^[1-9]\d{0,5}$")
KEYS = re.compile(r"^[0-9#*]?$")
RECORD_KEYS = re.compile(r"^[0-9#*]{0,12}$")
BOOLEAN = re.compile(r"^(true|false)$")
METHOD = re.compile(r"^(GET|POST)$")


@dataclass(frozen=True)
class Verb:
    """One element: its attributes (name to a pattern its value must match), the elements it may
    hold, and whether it holds text (a URL, words, a number) or nothing."""

    attributes: dict[str, re.Pattern] = field(default_factory=dict)
    children: frozenset[str] = frozenset()
    text: re.Pattern | None = None
    ends: bool = False  # nothing after it is ever reached


VERBS = {
    "Response": Verb(children=frozenset({"Say", "Play", "Gather", "Record", "Dial", "Hangup", "Redirect", "Reject"})),
    "Gather": Verb({"action": URL, "method": METHOD, "timeout": POSITIVE, "finishOnKey": KEYS,
                    "numDigits": POSITIVE, "input": re.compile(r"^dtmf$"), "actionOnEmptyResult": BOOLEAN},
                   frozenset({"Say", "Play"})),
    "Say": Verb({"voice": re.compile(r"^[\w.\-]+$"), "language": re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"),
                 "loop": re.compile(r"^\d{1,3}$")}, text=re.compile(r"\S")),
    "Play": Verb({"loop": re.compile(r"^\d{1,3}$")}, text=URL),
    "Record": Verb({"action": URL, "method": METHOD, "timeout": POSITIVE, "finishOnKey": RECORD_KEYS,
                    "maxLength": POSITIVE, "playBeep": BOOLEAN, "trim": re.compile(r"^(trim-silence|do-not-trim)$"),
                    "recordingStatusCallback": URL, "recordingStatusCallbackMethod": METHOD}),
    "Dial": Verb({"action": URL, "method": METHOD, "timeout": POSITIVE, "timeLimit": POSITIVE, "callerId": E164,
                  "answerOnBridge": BOOLEAN, "hangupOnStar": BOOLEAN}, frozenset({"Number"})),
    "Number": Verb({"statusCallback": URL, "statusCallbackMethod": METHOD}, text=E164),
    "Hangup": Verb(ends=True),
    "Redirect": Verb({"method": METHOD}, text=URL, ends=True),
    "Reject": Verb({"reason": re.compile(r"^(rejected|busy)$")}, ends=True),
}
"""The TwiML the line may answer with."""


def problems(document: str) -> list[str]:
    """Everything in a TwiML document that Twilio or Somleng would refuse (empty: it is fine)."""
    if not document.startswith('<?xml version="1.0" encoding="UTF-8"?>'):
        return ["the document does not start with the XML declaration"]
    try:
        root = ET.fromstring(document.encode("utf-8"))
    except ET.ParseError as exc:
        return [f"not XML: {exc}"]
    if root.tag != "Response":
        return [f"the root element is <{root.tag}>, not <Response>"]
    found: list[str] = []
    _check(root, "Response", found)
    return found


def _check(element: ET.Element, path: str, found: list[str]) -> None:
    """Check one element and, in turn, what it holds."""
    verb = VERBS.get(element.tag)
    if verb is None:
        found.append(f"{path}: <{element.tag}> is no TwiML verb the line may use")
        return
    for name, value in element.attrib.items():
        pattern = verb.attributes.get(name)
        if pattern is None:
            found.append(f"{path}: <{element.tag}> takes no attribute {name!r}")
        elif not pattern.match(value):
            found.append(f"{path}: <{element.tag} {name}={value!r}> is not a value it takes")
    text = (element.text or "").strip()
    if verb.text is None and text:
        found.append(f"{path}: <{element.tag}> holds no text, but holds {text[:40]!r}")
    if verb.text is not None and not list(element) and not verb.text.search(text):
        found.append(f"{path}: <{element.tag}> must hold {'a URL' if verb.text is URL else 'its text'}, not {text[:40]!r}")
    ended = None
    for child in element:
        if ended is not None:
            found.append(f"{path}: <{child.tag}> after <{ended}> is never reached")
        if child.tag not in verb.children:
            found.append(f"{path}: <{child.tag}> may not be inside <{element.tag}>")
        _check(child, f"{path}/{child.tag}", found)
        if VERBS.get(child.tag) is not None and VERBS[child.tag].ends:
            ended = child.tag
        if (child.tail or "").strip():
            found.append(f"{path}: text {child.tail.strip()[:40]!r} between verbs")
