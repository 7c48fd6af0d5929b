"""The phone simulator in a terminal: a basic phone talking to a running line over HTTP.

It uses the web simulator's endpoints (`/simulator/api/send`, `/simulator/api/outbox`), so
every keypress goes through the real webhooks with the providers' own payloads.

    python -m hotline simulate                      # dial the USSD menu
    python -m hotline simulate --mode twilio        # text the line (reply inline)
    python -m hotline simulate --mode at-sms --phone +85512000001

Commands: /quit, /drop (USSD: lose the signal without ending the session), /outbox.
Works with piped stdin too (each line is one input); exits 0 at the end of input.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from html import unescape
from typing import Callable, TextIO

import requests

DEFAULT_URL = "http://127.0.0.1:5000"
SHORT_CODE = "*384*123#"
SCREEN_WIDTH = 30
"""Characters per line of the printed screen (a basic phone shows fewer; this keeps it readable)."""
OUTBOX_PAGE = 200
"""The outbox endpoint returns at most this many messages per call."""


# ---------------------------------------------------------------- pure parts

def parse_ussd(body: str) -> tuple[bool, str]:
    """(session over?, screen text) from an Africa's Talking USSD answer ('CON ...' / 'END ...').

    Anything else is shown as it is and ends the session, as a handset would."""
    text = body or ""
    word, rest = text[:3], text[3:]
    if word in ("CON", "END") and (not rest or rest[0] in " \r\n"):
        return word == "END", rest[1:] if rest[:1] == " " else rest.lstrip("\r\n")
    return True, text


_MESSAGE_RE = re.compile(r"<Message\b[^>]*>(.*?)</Message>", re.S)
_TAG_RE = re.compile(r"<[^>]+>")


def twiml_messages(body: str) -> list[str]:
    """Texts of every <Message> in a TwiML answer (entities unescaped); [] for <Response/>."""
    if not body or not body.strip():
        return []
    try:
        root = ET.fromstring(body.strip())
    except ET.ParseError:
        # Not well-formed: fall back to a lenient read rather than losing the reply.
        return [unescape(_TAG_RE.sub("", m)) for m in _MESSAGE_RE.findall(body)]
    return ["".join(m.itertext()) for m in root.iter() if _local(m.tag) == "Message"]


def twiml_text(body: str) -> str:
    """All the message texts of a TwiML answer, one after another ('' when there are none)."""
    return "\n".join(twiml_messages(body))


def _local(tag: str) -> str:
    """A tag without its XML namespace."""
    return tag.rsplit("}", 1)[-1]


def full_text(inputs: list[str]) -> str:
    """What Africa's Talking sends as `text`: every input of the session joined by '*'."""
    return "*".join(inputs)


def normalise_phone(raw: str) -> str | None:
    """'+855...' from a number typed with spaces or dashes, a leading 00 or a local 0; else None."""
    digits = re.sub(r"[\s().\-]", "", raw or "")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+855" + digits[1:]
    if not re.fullmatch(r"\+\d{6,15}", digits):
        return None
    return digits


def random_phone(rng: random.Random | None = None) -> str:
    """A fictional Cambodian mobile number like +85591xxxxxx (valid prefix, random subscriber)."""
    rng = rng or random.Random()
    return "+8559" + rng.choice("1279") + "".join(rng.choice("0123456789") for _ in range(6))


def screen(text: str, width: int = SCREEN_WIDTH) -> str:
    """A USSD screen drawn as a box, long lines wrapped like a handset does."""
    lines: list[str] = []
    for line in (text or "").splitlines() or [""]:
        lines.extend(textwrap.wrap(line, width) or [""])
    bar = "+" + "-" * (width + 2) + "+"
    return "\n".join([bar, *(f"| {line:<{width}} |" for line in lines), bar])


def describe_outbox(message: dict) -> str:
    """One outbox message as a line or two: id, recipient, purpose, status, then the body."""
    to = message.get("to") or "?"
    if message.get("contact"):
        to += f" ({message['contact']})"
    meta = " ".join(str(x) for x in (message.get("purpose"), message.get("provider"), message.get("status")) if x)
    return f"#{message.get('id')} to {to} [{meta}]\n    " + str(message.get("body") or "").replace("\n", "\n    ")


def describe_error(result: dict) -> str:
    """A non-200 webhook answer as one line."""
    body = (result.get("body") or "").strip()
    return f"! the line answered HTTP {result.get('status')}" + (f": {body}" if body else "")


# ---------------------------------------------------------------- HTTP

class SimulatorError(Exception):
    """The simulator endpoints could not be reached or refused the request."""


class Client:
    """The two simulator endpoints of a running line."""

    def __init__(self, base_url: str, timeout: float = 15.0, session: requests.Session | None = None):
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()

    def send(self, mode: str, phone: str, text: str, session_id: str | None = None,
             full_text: str | None = None) -> dict:
        """Deliver one input; returns {status, body, session_id, path}."""
        data = {"mode": mode, "phone": phone, "text": text}
        if session_id is not None:
            data["session_id"] = session_id
        if full_text is not None:
            data["full_text"] = full_text
        return self._json("post", "/simulator/api/send", json=data)

    def outbox(self, after: int = 0) -> list[dict]:
        """Every outbox message after an id, oldest first (follows the endpoint's pages)."""
        messages: list[dict] = []
        while True:
            page = self._json("get", "/simulator/api/outbox", params={"after": after}).get("messages") or []
            messages.extend(page)
            if len(page) < OUTBOX_PAGE:
                return messages
            after = max(int(m["id"]) for m in page)

    def _json(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.http.request(method, self.base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise SimulatorError(f"cannot reach {self.base}: {exc.__class__.__name__}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, dict):
            detail = data.get("error") if isinstance(data, dict) else response.text.strip()[:200]
            raise SimulatorError(f"{method.upper()} {path} answered HTTP {response.status_code}"
                                 + (f": {detail}" if detail else ""))
        return data


# ---------------------------------------------------------------- the phone

class Phone:
    """One simulated handset: reads inputs, prints what the screen and inbox show."""

    def __init__(self, client: Client, mode: str, phone: str, stdin: TextIO, stdout: TextIO,
                 poll_seconds: float = 3.0, sleep: Callable[[float], None] = time.sleep):
        self.client, self.mode, self.phone = client, mode, phone
        self.stdin, self.out = stdin, stdout
        self.poll_seconds, self.sleep = poll_seconds, sleep
        self.interactive = stdin.isatty()
        self.last_outbox_id = 0
        self.session_id: str | None = None
        self.inputs: list[str] = []

    # -- input / output
    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def read(self, prompt: str) -> str | None:
        """One line of input (None at the end of input); echoed when stdin is not a terminal."""
        if self.interactive:
            self.out.write(prompt)
            self.out.flush()
        line = self.stdin.readline()
        if not line:
            if self.interactive:
                self.say()
            return None
        line = line.rstrip("\r\n")
        if not self.interactive:
            self.say(prompt + line)
        return line

    # -- outbox
    def catch_up(self) -> None:
        """Skip every outbox message sent before this phone was switched on."""
        messages = self.client.outbox(0)
        self.last_outbox_id = max((int(m["id"]) for m in messages), default=0)

    def new_messages(self) -> list[dict]:
        """Outbox messages addressed to this phone since the last look (others are skipped)."""
        messages = self.client.outbox(self.last_outbox_id)
        if messages:
            self.last_outbox_id = max(int(m["id"]) for m in messages)
        return [m for m in messages if m.get("to") == self.phone]

    def show_inbox(self, wait: bool) -> None:
        """Print SMS the line sent to this phone; with `wait`, poll a few seconds for the first one."""
        deadline = time.monotonic() + (self.poll_seconds if wait else 0)
        while True:
            try:
                mine = self.new_messages()
            except SimulatorError as exc:
                self.say(f"! outbox: {exc}")
                return
            for message in mine:
                self.say(f"[SMS from the line] {message.get('body') or ''}")
            if mine or time.monotonic() >= deadline:
                if wait and not mine:
                    self.say("(no SMS yet; it may still come: type /outbox to look)")
                return
            self.sleep(0.5)

    def print_outbox(self) -> None:
        try:
            messages = self.client.outbox(0)[-10:]
        except SimulatorError as exc:
            self.say(f"! outbox: {exc}")
            return
        if not messages:
            self.say("(the outbox is empty)")
        for message in reversed(messages):
            self.say(describe_outbox(message))

    # -- the loop
    def run(self) -> int:
        try:
            self.catch_up()
        except SimulatorError as exc:
            self.say(f"! {exc}")
            return 1
        self.say(f"Phone {self.phone}, mode {self.mode}. Commands: /quit /drop /outbox")
        return self.run_ussd() if self.mode == "ussd" else self.run_sms()

    def command(self, line: str) -> bool | None:
        """Handle a /command: True to quit, False when handled, None when it is no command."""
        word = line.strip().lower()
        if word in ("/quit", "/exit", "/q"):
            return True
        if word == "/outbox":
            self.print_outbox()
            return False
        if word == "/drop":
            if self.mode != "ussd":
                self.say("(/drop is for USSD sessions)")
            elif self.session_id:
                self.session_id, self.inputs = None, []
                self.say("(signal lost: the session was dropped without ending; dial again to continue)")
            else:
                self.say("(no session to drop)")
            return False
        if word.startswith("/"):
            self.say("(commands: /quit /drop /outbox)")
            return False
        return None

    def next_input(self, prompt) -> str | None:
        """The next line that is no /command (those are carried out here); None to quit."""
        while True:
            line = self.read(prompt())
            if line is None:
                return None
            handled = self.command(line)
            if handled is True:
                return None
            if handled is None:
                return line

    def dial(self) -> None:
        self.session_id, self.inputs = None, []
        self.say(f"Dialling {SHORT_CODE} ...")
        self.answer(self.client.send("ussd", self.phone, ""), first=True)

    def answer(self, result: dict, first: bool = False) -> None:
        """Show a USSD answer; keep the session open on CON."""
        if result.get("status") != 200:
            self.say(describe_error(result))
            self.session_id, self.inputs = None, []
            return
        ended, text = parse_ussd(result.get("body") or "")
        self.say(screen(text))
        if ended:
            self.say("(session ended)")
            self.session_id, self.inputs = None, []
            self.show_inbox(wait=False)
        elif first:
            self.session_id = result.get("session_id")

    def run_ussd(self) -> int:
        dial_next = True
        while True:
            if dial_next:
                dial_next = False
                try:
                    self.dial()
                except SimulatorError as exc:
                    self.say(f"! {exc}")
            line = self.next_input(lambda: "> " if self.session_id else f"Enter to dial {SHORT_CODE} again, /quit to quit: ")
            if line is None:
                return 0
            if not self.session_id:
                if line.strip() in ("", SHORT_CODE):
                    dial_next = True
                else:
                    self.say(f"(no session: press Enter or type {SHORT_CODE} to dial)")
                continue
            if not line.strip():
                self.say("(type an answer, or /drop to lose the signal)")
                continue
            self.inputs.append(line.strip())
            try:
                self.answer(self.client.send("ussd", self.phone, line.strip(), self.session_id,
                                             full_text(self.inputs)))
            except SimulatorError as exc:
                self.say(f"! {exc}")
                self.session_id, self.inputs = None, []

    def run_sms(self) -> int:
        while True:
            line = self.next_input(lambda: "sms> ")
            if line is None:
                return 0
            if not line.strip():
                self.show_inbox(wait=False)
                continue
            try:
                result = self.client.send(self.mode, self.phone, line)
            except SimulatorError as exc:
                self.say(f"! {exc}")
                continue
            if result.get("status") != 200:
                self.say(describe_error(result))
                continue
            if result.get("inline"):  # the provider answers in its reply (Twilio's TwiML), not later
                for text in twiml_messages(result.get("body") or ""):
                    self.say(f"[SMS from the line] {text}")
                self.show_inbox(wait=False)
            else:
                self.show_inbox(wait=True)


# ---------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options (shared with `python -m hotline simulate`)."""
    parser.add_argument("--url", default=DEFAULT_URL, help=f"base URL of the running line (default {DEFAULT_URL})")
    from hotline.simulator import modes

    typed = {name: mode for name, (_, mode) in modes().items() if mode.channel != "voice"}  # calls: the web page
    parser.add_argument("--mode", choices=tuple(typed), default="ussd",
                        help="; ".join(f"{name}: {mode.label}" for name, mode in typed.items()))
    parser.add_argument("--phone", help="this phone's number, e.g. +85591234567 (default: a random fictional one)")


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None,
         client: Client | None = None) -> int:
    """Run the terminal phone; 0 at the end of input or /quit, 1 when the line cannot be reached."""
    parser = argparse.ArgumentParser(prog="python -m hotline simulate", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    out = stdout or sys.stdout
    phone = random_phone()
    if args.phone:
        phone = normalise_phone(args.phone)
        if not phone:
            print(f"error: --phone {args.phone!r} is not a number like +85591234567", file=sys.stderr)
            return 2
    device = Phone(client or Client(args.url), args.mode, phone, stdin or sys.stdin, out)
    try:
        return device.run()
    except KeyboardInterrupt:
        print(file=out)
        return 0


if __name__ == "__main__":
    sys.exit(main())
