"""A seeded fuzzing run over every webhook and every partner API route, plus /healthz, the
console's sign-in and the query values of its lists: thousands of requests through the Flask test client (in process, real Redis,
real database), and not one may be answered 5xx.

The requests start from the providers' real payload shapes (tests/data/provider-payloads.json,
tests/test_adapters.py) and are mutated: fields dropped, repeated, replaced by hostile text
(Khmer, emoji, control characters, NUL, very long), resends of a message id already handled,
USSD sessions walked step by step (one sessionId, a growing `text`), delivery reports for
messages the line really sent, partner API calls with valid and broken tokens and random
JSON, and transport damage (other methods, content types, multipart, empty, binary and
oversized bodies, broken percent-encoding). Most requests are signed or carry the right
token, so they get past authentication to the parsers, the dialogue engine and the database.

Checks on every answer: status < 500; a webhook 4xx names its problem (non-empty body); an
/api error is the JSON `{"error", "field"}` document; a successful USSD answer starts CON/END;
a resend of an identical webhook request gets the same status as the first.

    pytest tests/test_fuzz.py -s                                 # 10,000 requests, prints the histogram
    HOTLINE_FUZZ_REQUESTS=100000 pytest tests/test_fuzz.py -s    # the long run (4½ to 11 minutes here)
    HOTLINE_FUZZ_SEED=7 pytest tests/test_fuzz.py -s             # another seed (default 20260101)

A failure lists the first offending requests (method, path, headers, body) for replay.
"""
from __future__ import annotations

import json
import os
import random
import re
import string
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from hotline import openapi as spec
from hotline import reportnumber, reporttypes
from hotline.console.auth import create_user
from hotline.models import STATUSES
from hotline.outbound.outbox import new_sms
from hotline.settings import ROOT
from hotline.voice import schema
from tests.kit import (AT_EVENT, AT_SMS, AT_TOKEN, AT_USSD, BASE, NGO, PAYLOADS, TRACING, TW_SMS, TWILIO_TOKEN,
                       direct_report, sign_in)

REPORT_TYPES = tuple(reporttypes.load(ROOT / "config"))
"""The shipped report types (config/flows.yaml)."""

TOTAL = int(os.environ.get("HOTLINE_FUZZ_REQUESTS", "10000"))
SEED = int(os.environ.get("HOTLINE_FUZZ_SEED", "20260101"))

WEBHOOKS = ("/webhooks/twilio/sms", "/webhooks/twilio/status", "/webhooks/africastalking/sms",
            "/webhooks/africastalking/delivery", "/webhooks/africastalking/ussd",
            "/webhooks/africastalking/ussd/events", "/webhooks/twilio/voice", "/webhooks/twilio/voice/status")

# family: share of the requests (they add up to 100)
MIX = {
    "twilio/sms": 13, "twilio/status": 6, "at/sms": 9, "at/delivery": 6, "at/ussd": 15, "at/ussd/events": 5,
    "twilio/voice": 10, "twilio/voice/status": 3,
    "api/list": 7, "api/detail": 6, "api/events": 6, "api/messages": 5, "api/openapi": 2,
    "healthz": 2, "console/login": 3, "console/query": 2,
}
assert sum(MIX.values()) == 100

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
KEYWORDS = ("status", "check", "ok", "okay", "seen", "stop", "STOP", "unsubscribe", "start", "resume", "help",
            "info", "ស្ថានភាព", "យល់ព្រម", "ឈប់", "ចាប់ផ្តើម", "ជំនួយ", "chhop", "yolprom", "pinit", "chomnuoy")
NASTY = ("", " ", "\t", "\n", "\r\n", "0", "-1", "99", "00", "*", "**", "#", "1*", "*1", "null", "None", "NaN",
         "true", "[]", "{}", "<script>alert(1)</script>", "' OR '1'='1", "'; DROP TABLE reports;--", "%s%n%x",
         "{number}", "{0}", "\x00", "a\x00b", "\x07\x08\x1b[31m", "\u0085", "\u200b\u200f\u202e", "\ufeff",
         "\u3000", "ស្ថានភាព", "សួស្តី ខ្ញុំ​ចង់​រាយការណ៍", "💥🇰🇭👩‍👩‍👧", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
         "\U0010ffff", "\uffff", "ﷺ", "../../etc/passwd", "%00", "%ZZ", "+", "&", "=", "a=b&c=d", "x" * 161,
         "x" * 1600, "x" * 1601, "9" * 40, "9" * 41, "+" + "9" * 39, "1" * 2000, "1" * 2001, "៩៩", "١٢٣")


def _check(stem: str) -> str:
    """A well-formed report number from 6 digits."""
    return stem + reportnumber.check_digit(stem)


@dataclass
class Req:
    """One request to send, and what it was made as."""

    family: str
    method: str
    path: str
    query: str = ""
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    multipart: list | None = None
    remote_addr: str = "127.0.0.1"
    notes: list = field(default_factory=list)  # how it was made: signature mode, transport, damage
    session: dict | None = None                 # the USSD session it is a step of
    resend_of: Req | None = None                # the request it repeats byte for byte
    status: int | None = None                   # the answer's status, once sent

    def describe(self) -> str:
        body = self.multipart if self.multipart is not None else self.body
        query = f"?{self.query}" if self.query else ""
        return f"[{', '.join(self.notes)}] {self.method} {self.path}{query} headers={self.headers!r} body={body!r:.600}"


class Fuzzer:
    """Builds requests from a seeded Random and remembers what the line has seen (ids, sessions, numbers)."""

    def __init__(self, rng: random.Random, numbers: list[str], sent_ids: dict[str, list[str]],
                 accounts: dict[str, str], csrf: str):
        self.rng = rng
        self.notes: list[str] = []        # the notes of the request being made
        self.routed = list(numbers)       # report numbers routed to the agencies (the API finds them)
        self.numbers = list(numbers)      # and every other number the line has given out
        self.sent_ids = sent_ids          # provider -> provider_message_id of messages the line sent
        self.accounts, self.csrf = accounts, csrf  # console users (name -> password), the sign-in form's token
        self.phones = [f"+8551{rng.randrange(10_000_000, 99_999_999)}" for _ in range(max(300, TOTAL // 25))]
        self.phones += ["+254791541111", "+14133881111", "+66812345678", "+60123456789"]
        self.sessions: list[dict] = []    # USSD sessions: id, phone, text, ended
        self.calls: list[dict] = []       # calls: CallSid, phone, the prompt they are at, ended
        self.handled: list[Req] = []      # webhook requests answered 200: candidates for resends
        self.counter = 0
        self.templates = {
            "twilio/sms": [TW_SMS] + [r["body"] for r in PAYLOADS if r["path"] == "/webhooks/twilio/sms"],
            "twilio/status": [r["body"] for r in PAYLOADS if r["path"] == "/webhooks/twilio/status"],
            "at/sms": [AT_SMS] + [r["body"] for r in PAYLOADS if r["path"] == "/webhooks/africastalking/sms"],
            "at/delivery": [r["body"] for r in PAYLOADS if r["path"] == "/webhooks/africastalking/delivery"],
            "at/ussd": [AT_USSD] + [r["body"] for r in PAYLOADS if r["path"] == "/webhooks/africastalking/ussd"],
            "at/ussd/events": [AT_EVENT],
        }

    # ---- values --------------------------------------------------------------------------
    def uid(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:06d}{self.rng.randrange(16**8):08x}"

    def unicode_text(self, n: int) -> str:
        pools = (string.ascii_letters + string.digits + " *#+",
                 "កខគឃងចឆជឈញដឋឌឍណតថទធនបផពភមយរលវសហឡអ ាិីឹឺុូួើឿៀេែៃោៅំះៈ់៍្",
                 "😀💥🇰🇭👍🏽", "\x00\x01\x1f\x7f\x85\xa0\u2028\u2029\u200b\ufeff", "éüñçßøå€ŁЖж中文字العربية")
        weights = (6, 4, 1, 1, 1)
        return "".join(self.rng.choice(self.rng.choices(pools, weights)[0]) for _ in range(n))

    def text(self) -> str:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice(KEYWORDS)
        if r < 0.40 and self.numbers:
            number = self.rng.choice(self.numbers)
            return self.rng.choice((f"{self.rng.choice(KEYWORDS)} {number}", number, f"#{number}",
                                    f"{number[:3]} {number[3:]}", f"{number} the broker called again",
                                    f"OK {number}", f"status {number[:-1]}"))
        if r < 0.55:
            return self.rng.choice(NASTY)
        if r < 0.70:
            return self.rng.choice(("1", "2", "3", "4", "5", "6", "7", "99", "0", "14010101", "14", "1401"))
        return self.unicode_text(self.rng.choice((1, 5, 20, 80, 160, 400, 1600)))

    def phone(self) -> str:
        r = self.rng.random()
        if r < 0.85:
            return self.rng.choice(self.phones)
        return self.rng.choice(("MTN", "12345", "+12ab", "whatsapp:+85512345678", "+855 12 345 678", "012345678",
                                "+", "", " ", "+0123456789", "+85512345678\x00", "+٨٥٥١٢٣٤٥٦٧٨", "+" + "1" * 20,
                                "tel:+85512345678", "+855-12-345-678", "+85512345678;ext=1"))

    def number(self) -> str:
        """A report number as a partner might put it in a path: known, well-formed, or garbage."""
        r = self.rng.random()
        if r < 0.6:
            n = self.rng.choice(self.routed if self.rng.random() < 0.85 else self.numbers)
            return self.rng.choice((n, n, f"{n[:3]} {n[3:]}", f"{n[:3]}-{n[3:]}", f"#{n}", n + " "))
        if r < 0.75:
            return _check(f"{self.rng.randrange(10**6):06d}")
        return self.rng.choice(("0000000", "1234567", "abc", "", " ", "9" * 5000, "12345678901234567890",
                                "١٢٣٤٥٦٧", "1234567\x00", "..", "%", "💥", "1' OR '1'='1", "-1", "1e6"))

    def json_value(self, depth: int = 0):
        r = self.rng.random()
        if depth > 3 or r < 0.5:
            return self.rng.choice((None, True, False, 0, -1, 2**63, 10**400, 1.5, float("nan"), float("inf"),
                                    self.text(), self.rng.choice(STATUSES), ""))
        if r < 0.75:
            return [self.json_value(depth + 1) for _ in range(self.rng.randrange(4))]
        return {self.rng.choice(("status", "note", "text", "x", "", "💥", "__proto__")): self.json_value(depth + 1)
                for _ in range(self.rng.randrange(4))}

    # ---- form bodies ---------------------------------------------------------------------
    def mutate_fields(self, fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Drop, repeat, add or spoil fields (a quarter of the time, once or a few times)."""
        fields = list(fields)
        if self.rng.random() >= 0.25:
            return fields
        for _ in range(self.rng.choice((1, 1, 2, 3))):
            op = self.rng.randrange(6)
            self.notes.append(f"fields:{op}")
            if op == 0 and fields:
                del fields[self.rng.randrange(len(fields))]
            elif op == 1 and fields:  # repeated key, with another value
                key, _value = self.rng.choice(fields)
                fields.insert(self.rng.randrange(len(fields) + 1), (key, self.text()))
            elif op == 2 and fields:
                i = self.rng.randrange(len(fields))
                fields[i] = (fields[i][0], self.rng.choice(NASTY))
            elif op == 3:
                fields.append((self.rng.choice(("MediaUrl0", "NumMedia", "linkId", "x", "", "💥", "a" * 300)),
                               self.text()))
            elif op == 4:  # many fields
                fields += [(f"f{i}", "v") for i in range(self.rng.choice((50, 250, 1200)))]
            elif op == 5:
                self.rng.shuffle(fields)
        return fields

    def encode(self, fields: list[tuple[str, str]]) -> bytes:
        """Form-encode, now and then the way sloppy clients do."""
        r = self.rng.random()
        if r < 0.9:
            return urllib.parse.urlencode(fields).encode()
        self.notes.append("sloppy-encoding")
        if r < 0.95:  # unencoded unicode and separators
            return "&".join(f"{k}={v}" for k, v in fields).encode("utf-8", "surrogatepass")
        body = urllib.parse.urlencode(fields)
        return self.rng.choice((body + "&%", body + "&x=%ZZ%E1%9E", body.replace("&", ";"), body + "&&&=",
                                body + "&text=%ED%A0%80%FF%FE")).encode()

    def transport(self, req: Req, fields: list[tuple[str, str]] | None) -> str:
        """Mostly a form; now and then multipart or another content type. Returns "multipart" or "plain"."""
        r = self.rng.random()
        if r < 0.88:
            req.headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif r < 0.93 and fields is not None:
            req.multipart, req.body = fields, None
            req.notes.append("multipart")
            return "multipart"
        else:
            ctype = self.rng.choice(("application/json", "text/plain", "", "application/octet-stream",
                                     "application/x-www-form-urlencoded; charset=latin-1",
                                     "application/x-www-form-urlencoded; charset=utf-16",
                                     "multipart/form-data", "multipart/form-data; boundary=xyz", "text/xml",
                                     "application/x-www-form-urlencoded\x00", "ü/ü"))
            if ctype:
                req.headers["Content-Type"] = ctype
            req.notes.append("content-type")
        return "plain"

    def damage_body(self, req: Req) -> None:
        """After signing: empty, binary, oversized or truncated bodies, other methods (1 in 16)."""
        if self.rng.random() >= 1 / 16:
            return
        op = self.rng.randrange(6)
        req.notes.append(f"damage:{op}")
        if op == 0:
            req.body, req.multipart = b"", None
        elif op == 1:
            req.body, req.multipart = self.rng.randbytes(self.rng.choice((1, 64, 4096))), None
        elif op == 2:
            req.body, req.multipart = b"text=" + b"x" * self.rng.choice((65 * 1024, 200_000)), None
        elif op == 3 and req.body:
            req.body = req.body[: self.rng.randrange(len(req.body) + 1)]
        elif op == 4:
            req.method = self.rng.choice(METHODS)
        else:
            req.body, req.multipart = self.rng.choice((b"{\"from\": \"+85512345678\"}", b"<xml/>", b"\xff\xfe" * 10,
                                                       b"%" * 100, b"=" * 100, b"&" * 5000)), None

    # ---- webhooks ------------------------------------------------------------------------
    def twilio(self, family: str, path: str, fields: list[tuple[str, str]], query: str = "") -> Req:
        req = Req(family, "POST", path, query)
        self.notes = req.notes
        fields = self.mutate_fields(fields)
        how = self.transport(req, fields)
        if how != "multipart":
            req.body = self.encode(fields)
        if self.rng.random() < 0.03:
            req.query = self.rng.choice(("a=1", "token=x", "%FF=%00", "Body=injected"))
        url = BASE + path + (f"?{req.query}" if req.query else "")
        if how == "multipart":
            params = MultiDict(fields)
        else:
            params = MultiDict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        mode = self.rng.choices(("valid", "none", "wrong-token", "other-url", "tampered", "garbage"),
                                (80, 4, 4, 4, 4, 4))[0]
        req.notes.append(f"signature:{mode}")
        if mode == "valid":
            req.headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        elif mode == "wrong-token":
            req.headers["X-Twilio-Signature"] = RequestValidator("not-the-token").compute_signature(url, params)
        elif mode == "other-url":
            req.headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(BASE + "/x", params)
        elif mode == "tampered":
            params.add("Body", "other")
            req.headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        elif mode == "garbage":
            req.headers["X-Twilio-Signature"] = self.rng.choice(("", " ", "=", "a" * 5000, "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
                                                                 "sha256=abc", "Ã¼Ã±", "\t\t"))
        self.damage_body(req)
        return req

    def africastalking(self, family: str, path: str, fields: list[tuple[str, str]]) -> Req:
        req = Req(family, "POST", path)
        self.notes = req.notes
        fields = self.mutate_fields(fields)
        if self.transport(req, fields) != "multipart":
            req.body = self.encode(fields)
        req.query = self.rng.choices(
            (f"token={AT_TOKEN}", "", "token=guess", "token=", f"token={AT_TOKEN}&token=x", f"token=x&token={AT_TOKEN}",
             f"token={AT_TOKEN}%00", f"TOKEN={AT_TOKEN}", "token=%FF%FE", f"token={AT_TOKEN}&a=%ZZ"),
            (85, 3, 2, 1, 2, 2, 1, 1, 1, 2))[0]
        req.notes.append(f"query:{req.query}")
        self.damage_body(req)
        return req

    def fields_of(self, family: str) -> list[tuple[str, str]]:
        return urllib.parse.parse_qsl(self.rng.choice(self.templates[family]), keep_blank_values=True)

    def set_field(self, fields, name: str, value: str | None) -> list[tuple[str, str]]:
        out = [(k, v) for k, v in fields if k != name]
        return out + [(name, value)] if value is not None else out

    def resend(self, family: str) -> Req | None:
        """An identical copy of a request that was answered 200 before (a provider's retry)."""
        same = [r for r in self.handled[-300:] if r.family == family]
        if not same or self.rng.random() >= 0.08:
            return None
        old = self.rng.choice(same)
        return Req(old.family, old.method, old.path, old.query, dict(old.headers), old.body,
                   list(old.multipart) if old.multipart is not None else None, old.remote_addr,
                   notes=old.notes + ["resend"], resend_of=old)

    def twilio_sms(self) -> Req:
        fields = self.fields_of("twilio/sms")
        sid = "SM" + self.uid("")[:32]
        fields = self.set_field(fields, "MessageSid", sid)
        fields = self.set_field(fields, "SmsSid", sid)
        fields = self.set_field(fields, "From", self.phone())
        if self.rng.random() < 0.9:
            fields = self.set_field(fields, "Body", self.text())
        return self.twilio("twilio/sms", "/webhooks/twilio/sms", fields)

    def twilio_status(self) -> Req:
        fields = self.fields_of("twilio/status")
        known = self.sent_ids["twilio"]
        sid = self.rng.choice(known) if known and self.rng.random() < 0.7 else "SM" + self.uid("")[:32]
        fields = self.set_field(fields, "MessageSid", sid)
        status = self.rng.choice(("accepted", "scheduled", "queued", "sending", "sent", "partially_delivered",
                                  "delivered", "read", "undelivered", "failed", "canceled", "receiving", "received",
                                  "huh", "", "DELIVERED", "delivered "))
        fields = self.set_field(fields, self.rng.choice(("MessageStatus", "MessageStatus", "SmsStatus")), status)
        if self.rng.random() < 0.3:
            fields = self.set_field(fields, "ErrorCode", self.rng.choice(("21610", "30003", "30008", "", "abc", "0")))
        return self.twilio("twilio/status", "/webhooks/twilio/status", fields)

    def at_sms(self) -> Req:
        fields = self.fields_of("at/sms")
        fields = self.set_field(fields, "id", self.uid("at-"))
        fields = self.set_field(fields, "from", self.phone())
        fields = self.set_field(fields, "text", self.text())
        if self.rng.random() < 0.3:
            fields = self.set_field(fields, "date", self.rng.choice(
                ("2026-01-01 06:04:45", "2017-05-03T06:04:45Z", "2017-05-03T06:04:45.123Z", "2026-02-30 06:04:45",
                 "2026-01-01T06:04", "yesterday", "", "9999-12-31 23:59:59", "0001-01-01 00:00:00", "2026-01-01 25:00:00",
                 "١٢٣", "2026-01-01T06:04:45.1234567890Z", None)))
        return self.africastalking("at/sms", "/webhooks/africastalking/sms", fields)

    def at_delivery(self) -> Req:
        fields = self.fields_of("at/delivery")
        known = self.sent_ids["africastalking"]
        fields = self.set_field(fields, "id", self.rng.choice(known) if known and self.rng.random() < 0.7
                                else self.uid("ATXid_"))
        fields = self.set_field(fields, "status", self.rng.choice(
            ("Sent", "Submitted", "Buffered", "Success", "Rejected", "Failed", "Expired", "Borked", "", "success")))
        if self.rng.random() < 0.4:
            fields = self.set_field(fields, "failureReason", self.rng.choice(
                ("UserInBlackList", "InsufficientCredit", "UserAccountSuspended", "AbsentSubscriber", "", "x" * 500)))
        return self.africastalking("at/delivery", "/webhooks/africastalking/delivery", fields)

    def call_fields(self, call: dict) -> list[tuple[str, str]]:
        return [("CallSid", call["sid"]), ("AccountSid", "AC" + "0" * 32), ("From", call["phone"]),
                ("To", "+85512345000"), ("CallStatus", "in-progress"), ("Direction", "inbound"),
                ("ApiVersion", "2010-04-01"), ("FromCity", "PREY VENG")]

    def twilio_voice(self) -> Req:
        """A call's requests: the call coming in, keys at its prompt (good, bad and nasty), silence, an
        earlier prompt answered again (a replay), prompts that were never given."""
        rng = self.rng
        live = [c for c in self.calls[-40:] if not c["ended"]]
        if not live or rng.random() < 0.15:
            phone = rng.choice(self.calls)["phone"] if self.calls and rng.random() < 0.3 else self.phone()
            call = {"sid": "CA" + self.uid("")[:32], "phone": phone, "step": None, "ended": False}
            self.calls.append(call)
            fields, query = self.call_fields(call), ""
        else:
            call = rng.choice(live)
            fields, r = self.call_fields(call), rng.random()
            step = call["step"] or 1
            if r < 0.7:
                keys = rng.choices(("1", "2", "3", "4", "5", "6", "0", "*", "98", "99", "14010101", "14", "012345678",
                                    "#", "", "1#", rng.choice(NASTY)), (5, 3, 4, 2, 1, 2, 2, 1, 2, 3, 3, 1, 1, 1, 1, 1, 3))[0]
                fields.append(("Digits", keys))
                query = f"s={step}"
            elif r < 0.8:
                query = f"s={step}&silent=1"
            elif r < 0.9:
                fields.append(("Digits", rng.choice(("1", "2", "3"))))
                query = f"s={max(1, step - rng.randrange(1, 3))}"
            else:
                fields.append(("Digits", "1"))
                query = "s=" + rng.choice(("0", "-1", "abc", "99999999", "", "1.5", "%00", str(step + 5)))
        req = self.twilio("twilio/voice", "/webhooks/twilio/voice", fields, query)
        req.session = call
        return req

    def twilio_voice_status(self) -> Req:
        call = self.rng.choice(self.calls) if self.calls and self.rng.random() < 0.8 else \
            {"sid": "CA" + self.uid("")[:32], "phone": self.phone()}
        fields = self.call_fields(call)
        fields = self.set_field(fields, "CallStatus", self.rng.choice(
            ("completed", "completed", "busy", "no-answer", "failed", "canceled", "ringing", "in-progress", "exploded", "")))
        if self.rng.random() < 0.7:
            fields.append(("CallDuration", self.rng.choice(("0", "12", "3600", "-1", "x", ""))))
        req = self.twilio("twilio/voice/status", "/webhooks/twilio/voice/status", fields)
        req.session = call if "step" in call else None
        return req

    def ussd_input(self, session: dict) -> str:
        depth = session["text"].count("*") + (1 if session["text"] else 0)
        if depth == 0:
            return self.rng.choices(("1", "2", "3", "4", "5", "6", "7", "0", "99", "x"), (5, 4, 3, 2, 2, 2, 1, 1, 1, 1))[0]
        if depth == 1 and session["text"] in ("1", "2", "3"):
            return self.rng.choice(("14010101", "14", "1", "2", "99", "0", "00", "1401", "99999999"))
        return self.rng.choices(("1", "2", "3", "4", "5", "7", "9", "99", "0", "00", "012345678", "+85512345678"),
                                (6, 4, 2, 2, 1, 1, 1, 6, 1, 1, 1, 1))[0] if self.rng.random() < 0.9 else self.text()

    def at_ussd(self) -> Req:
        rng = self.rng
        live = [s for s in self.sessions[-40:] if not s["ended"]]
        if not live or rng.random() < 0.12:
            if self.sessions and rng.random() < 0.3:  # the same phone again (a dropped session may be resumed)
                phone = rng.choice(self.sessions)["phone"]
            else:
                phone = rng.choice(self.phones) if rng.random() < 0.95 else self.phone()
            session = {"id": self.uid("ATUid_"), "phone": phone, "text": "", "ended": False}
            self.sessions.append(session)
        else:
            session = rng.choice(live)
            r = rng.random()
            if r < 0.75:    # the next step: every input so far joined by '*'
                step = self.ussd_input(session)
                session["text"] = f"{session['text']}*{step}" if session["text"] else step
            elif r < 0.85:  # the same step again (a resend)
                pass
            elif r < 0.92:  # one step back (the network replays an older text)
                session["text"] = session["text"].rpartition("*")[0]
            else:           # anything at all, and the session is left
                session["text"] = rng.choice((self.text(), "*" * rng.randrange(1, 50), "1*" * 1001,
                                              "1*1*1*1*1*1*1*1*1*1*1*1"))
                session["ended"] = True
            if rng.random() < 0.05:  # the same session id from another phone
                session["phone"] = self.phone()
        fields = self.set_field(self.fields_of("at/ussd"), "sessionId", session["id"])
        fields = self.set_field(fields, "phoneNumber", session["phone"])
        fields = self.set_field(fields, "text", session["text"])
        req = self.africastalking("at/ussd", "/webhooks/africastalking/ussd", fields)
        req.session = session
        return req

    def at_ussd_event(self) -> Req:
        fields = self.fields_of("at/ussd/events")
        session = self.rng.choice(self.sessions) if self.sessions and self.rng.random() < 0.8 else None
        fields = self.set_field(fields, "sessionId", session["id"] if session else self.uid("ATUid_"))
        fields = self.set_field(fields, "phoneNumber", session["phone"] if session else self.phone())
        fields = self.set_field(fields, "status", self.rng.choice(("Success", "Incomplete", "Incomplete", "Failed",
                                                                   "Exploded", "", "incomplete")))
        if session is not None and self.rng.random() < 0.3:
            fields = self.set_field(fields, "input", session["text"])
        return self.africastalking("at/ussd/events", "/webhooks/africastalking/ussd/events", fields)

    # ---- the partner API -----------------------------------------------------------------
    def authorization(self, req: Req) -> None:
        r = self.rng.random()
        if r < 0.8:
            req.headers["Authorization"] = f"Bearer {NGO}"
        elif r < 0.88:
            req.headers["Authorization"] = self.rng.choice((f"bearer {TRACING}", f"Bearer  {TRACING} "))
        elif r < 0.9:
            return
        else:
            req.headers["Authorization"] = self.rng.choice(
                ("", "Bearer", "Bearer ", "Basic bmdvOnNlY3JldA==", f"Token {NGO}", f"Bearer {NGO}x", f"Bearer {NGO[:-1]}",
                 f"Bearer {NGO} extra", f"Bearer{NGO}", "Bearer NGO_API_TOKEN", "Bearer " + "A" * 10000,
                 "Bearer Ã¼Ã±Ã®", f"Bearer {NGO}\t", "Bearer ' OR '1'='1", "Bearer ====", f"Bearer {NGO}, Bearer {TRACING}"))

    def api_method(self, usual: str) -> str:
        return usual if self.rng.random() < 0.93 else self.rng.choice(METHODS)

    def api_list(self) -> Req:
        rng = self.rng
        params: list[tuple[str, str]] = []
        # each parameter: (good values, bad values)
        choices = {
            "status": (STATUSES, ("", "NEW", "new'--", "💥")),
            "type": (REPORT_TYPES, ("", "all", "urgent ")),
            "since": (("2000-01-01", "2026-01-31T06:00:00+07:00", "2026-01-31T06:00:00 07:00", "2999-01-01", "2024-02-29",
                       "2025-02-29T06:00", "0001-01-01T00:00+07:00", "9999-12-31T23:59:59.999999-23:59",
                       "2026-01-31T06:00:05.123456789Z", "2026-01-31t06:00z"),
                      ("2026-02-30", "yesterday", "", "2026-01-31T24:00", "1767225600", "2026-01-01\n", "٢٠٢٦-01-01")),
            "page": (("1", "2", "3", "001", "1000000000"),
                     ("0", "-1", "1.5", "two", "1000000001", "9" * 30, "9" * 4301, "+1", "១", "²", "٢")),
            "per_page": (("1", "2", "25", "100"), ("0", "101", "10000000000000", "")),
            "after": (self.routed, (self.number(), "abc", "0000000", "")),
        }
        for name in rng.sample(list(choices), rng.choice((0, 1, 1, 2, 2, 3, 6))):
            good, bad = choices[name]
            params.append((name, rng.choice(bad if rng.random() < 0.12 else good)))
        if rng.random() < 0.08:
            params.append((rng.choice(("order", "💩", "status", "page", "", "x" * 100)), self.text()))
        query = urllib.parse.urlencode(params)
        if rng.random() < 0.05:
            query = rng.choice((query + "&%ZZ", query + "&page", "%F0%9F%92%A9=%00%FF", "&&&", "status=new&status=new"))
        req = Req("api/list", self.api_method("GET"), "/api/v1/reports", query)
        self.authorization(req)
        return req

    def api_detail(self) -> Req:
        req = Req("api/detail", self.api_method("GET"), "/api/v1/reports/" + urllib.parse.quote(self.number(), safe=""))
        self.authorization(req)
        return req

    def api_body(self, req: Req, field_name: str) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            doc = {field_name: self.text()}
            if field_name == "note" and rng.random() < 0.5:
                doc = {"status": rng.choice(STATUSES)} | (doc if rng.random() < 0.5 else {})
            body = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()
        elif r < 0.75:
            body = json.dumps(self.json_value()).encode()
        elif r < 0.85:
            body = json.dumps({field_name: rng.choice(("x" * 70000, "x" * (spec.MAX_TEXT + 1), "x" * spec.MAX_TEXT,
                                                        "x" * 4000, "x" * 4001))}).encode()
        else:
            body = rng.choice((b"", b"{", b"[" * 30000, b'{"note": "\\ud800"}', b'{"text": "\xff\xfe"}', b"null",
                               b'{"note": NaN}', b'{"text": "a", "text": "b"}', b'\xef\xbb\xbf{"text": "bom"}',
                               b'{"status": "closed", "status": 1}', rng.randbytes(100), b" " * 70000))
        req.body = body
        ctype = "application/json" if rng.random() < 0.88 else rng.choice(
            ("text/plain", "", "application/x-www-form-urlencoded", "application/jsonx", "application/json; charset=latin-1",
             "application/merge-patch+json", "APPLICATION/JSON"))
        if ctype:
            req.headers["Content-Type"] = ctype

    def api_events(self) -> Req:
        req = Req("api/events", self.api_method("POST"),
                  f"/api/v1/reports/{urllib.parse.quote(self.number(), safe='')}/events")
        self.authorization(req)
        self.api_body(req, "note")
        return req

    def api_messages(self) -> Req:
        req = Req("api/messages", self.api_method("POST"),
                  f"/api/v1/reports/{urllib.parse.quote(self.number(), safe='')}/messages")
        self.authorization(req)
        self.api_body(req, "text")
        return req

    def api_openapi(self) -> Req:
        req = Req("api/openapi", self.api_method("GET"), "/api/v1/openapi.json",
                  self.rng.choice(("", "", "x=1", "%ZZ")))
        if self.rng.random() < 0.5:
            self.authorization(req)
        return req

    # ---- the rest ------------------------------------------------------------------------
    def healthz(self) -> Req:
        return Req("healthz", self.rng.choice(("GET",) * 8 + METHODS), "/healthz", self.rng.choice(("", "", "verbose=1")))

    def console_login(self) -> Req:
        rng = self.rng
        fields = []
        r = rng.random()
        if r < 0.85:
            fields.append(("csrf_token", self.csrf))
        elif r < 0.95:
            fields.append(("csrf_token", rng.choice(("", "x", self.csrf[:-1], self.csrf + "x", "💥"))))
        known = rng.choice(list(self.accounts))
        user = rng.choice((known, known, known.upper(), f" {known} ", "admin", "", self.text()[:80], "a" * 65,
                           "x' OR '1'='1"))
        password = self.accounts[known] if rng.random() < 0.1 else rng.choice(("wrong", "", "a" * 201, self.text()[:200]))
        for name, value in (("username", user), ("password", password)):
            if rng.random() < 0.95:
                fields.append((name, value))
        req = Req("console/login", "POST" if rng.random() < 0.95 else rng.choice(METHODS), "/console/login",
                  remote_addr=f"10.0.{rng.randrange(4)}.{rng.randrange(1, 40)}")
        self.notes = req.notes
        fields = self.mutate_fields(fields) if rng.random() < 0.3 else fields
        if self.transport(req, fields) != "multipart":
            req.body = self.encode(fields)
        return req

    def console_query(self) -> Req:
        """A signed-in admin's list, audit or export page with good and hostile query values."""
        rng = self.rng
        days = (("2000-01-01", "2026-01-31", "2999-12-31", ""),
                ("9999-12-31", "0001-01-01", "2026-02-30", "yesterday", "²026-01-01", "2026-01-01\x00", "១៩៩៩-01-01"))
        choices = {
            "page": (("1", "2", "40"), ("0", "-1", "1.5", "²", "១", "9" * 30, "9" * 4301, "NaN", " ")),
            "since": days, "until": days,
            "type": (REPORT_TYPES, ("", "all", "\x00", "💥")), "status": (STATUSES, ("", "NEW", "\x00")),
            "area": (("14", "1401", "14010101"), ("²", "\x00", "9" * 40)),
            "number": (self.numbers, ("²", "\x00", "9" * 400, "' OR 1=1")),
        }
        params = []
        for name in rng.sample(list(choices), rng.choice((1, 2, 3, 7))):
            good, bad = choices[name]
            params.append((name, rng.choice(bad if rng.random() < 0.4 else good)))
        path = rng.choice(("/console/", "/console/", "/console/audit", "/console/export.csv"))
        return Req("console/query", "GET" if rng.random() < 0.95 else rng.choice(METHODS), path,
                   urllib.parse.urlencode(params))

    def next(self, family: str) -> Req:
        if family in ("twilio/sms", "at/sms", "at/ussd", "twilio/status", "at/delivery", "twilio/voice"):
            again = self.resend(family)
            if again is not None:
                return again
        return {
            "twilio/sms": self.twilio_sms, "twilio/status": self.twilio_status, "at/sms": self.at_sms,
            "at/delivery": self.at_delivery, "at/ussd": self.at_ussd, "at/ussd/events": self.at_ussd_event,
            "api/list": self.api_list, "api/detail": self.api_detail, "api/events": self.api_events,
            "api/messages": self.api_messages, "api/openapi": self.api_openapi, "healthz": self.healthz,
            "console/login": self.console_login, "console/query": self.console_query,
            "twilio/voice": self.twilio_voice, "twilio/voice/status": self.twilio_voice_status,
        }[family]()


def send(client, req: Req):
    kwargs = {"method": req.method, "headers": req.headers, "environ_base": {"REMOTE_ADDR": req.remote_addr}}
    if req.multipart is not None:
        kwargs["data"] = MultiDict(req.multipart)
        kwargs["content_type"] = "multipart/form-data"
    elif req.body is not None:
        kwargs["data"] = req.body
    return client.open(req.path + (f"?{req.query}" if req.query else ""), base_url="http://localhost", **kwargs)


_NUMBER_IN_REPLY = re.compile(r"(?<![0-9])[0-9]{7}(?![0-9])")
"""A report number in the line's answer."""


def form_values(req: Req, name: str) -> list[str]:
    """The values of one form field of a request, as the app would read them."""
    if req.multipart is not None:
        return [v for k, v in req.multipart if k == name]
    pairs = urllib.parse.parse_qsl((req.body or b"").decode("utf-8", "replace"), keep_blank_values=True)
    return [v for k, v in pairs if k == name]


ON_POSTGRES = os.environ.get("HOTLINE_TEST_DATABASE_URL", "").startswith("postgres")

KNOWN_BUGS: dict = {}
"""5xx answers already found and reported, each reproduced by a strict xfail test below: counted and printed,
not failed again. Remove an entry when its bug is fixed (its xfail test then passes, and strict fails it)."""


def known_bug(req: Req, response, dialect: str) -> str | None:
    return next((name for name, matches in KNOWN_BUGS.items() if matches(req, response, dialect)), None)


def problems_with(req: Req, response) -> list[str]:
    """What is wrong with this answer, if anything."""
    status, text = response.status_code, response.get_data(as_text=True)
    found = []
    if status >= 500:
        found.append(f"{status} {text[:200]!r}")
    elif req.path in WEBHOOKS and 400 <= status < 500 and req.method != "HEAD" and not text.strip():
        found.append(f"{status} with an empty body")
    elif req.path.startswith("/api/") and 400 <= status < 500 and req.method != "HEAD":
        doc = response.get_json(silent=True) if response.mimetype == "application/json" else None
        if not (isinstance(doc, dict) and set(doc) == {"error", "field"} and isinstance(doc["error"], str)
                and doc["error"]):
            found.append(f"{status} /api error not the JSON error document: {response.mimetype} {text[:200]!r}")
        if status == 401 and not response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
            found.append("401 without a WWW-Authenticate: Bearer challenge")
        if status == 405 and not response.headers.get("Allow"):
            found.append("405 without an Allow header")
    if req.family == "at/ussd" and status == 200 and req.method == "POST" and not text.startswith(("CON ", "END ")):
        found.append(f"USSD answer neither CON nor END: {text[:100]!r}")
    if req.family == "twilio/voice" and status == 200 and req.method == "POST":
        found += [f"TwiML Twilio or Somleng would refuse: {p}" for p in schema.problems(text)]
    old = req.resend_of
    if old is not None and status != old.status:
        found.append(f"a resend answered {status}, the first time {old.status}")
    return found


@pytest.fixture
def fuzz_tokens(monkeypatch):
    """The sample directory's two agencies with API tokens (as in tests/test_api.py)."""
    monkeypatch.setenv("NGO_API_TOKEN", NGO)
    monkeypatch.setenv("TRACING_API_TOKEN", TRACING)


def _seed(services) -> tuple[list[str], dict[str, list[str]]]:
    """Routed reports of every type, and messages the line sent through each provider."""
    numbers = [direct_report(services, t, sender=f"+8551200{i:04d}", consent=i % 2 == 0)
               for i, t in enumerate(("recruiter", "missing", "recruiter", "unsorted", "urgent", "missing", "recruiter"))]
    sent: dict[str, list[str]] = {"twilio": [], "africastalking": []}
    with services.Session.begin() as session:
        for i in range(40):
            provider = ("twilio", "africastalking")[i % 2]
            message = new_sms(session, services, f"fuzz:{i}", f"+8551299{i:04d}", "hello", purpose="reply")
            message.provider = provider
            message.provider_message_id = (f"SM{i:032x}" if provider == "twilio" else f"ATXid_{i:032x}")
            message.status = ("queued", "sent", "delivered", "failed")[i % 4]
            sent[provider].append(message.provider_message_id)
    return numbers, sent


def _console(app):
    """A client of its own for the console (a sign-in does not change the others' cookies) and its CSRF token."""
    console = app.test_client()
    page = console.get("/console/login").get_data(as_text=True)
    return console, re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_fuzz_every_webhook_and_api_route_never_answers_5xx(app, client, services, fuzz_tokens, live_worker):
    """TOTAL seeded requests (HOTLINE_FUZZ_REQUESTS, default 10,000) over every route: no 5xx, every refusal named."""
    # No worker routes the fuzz's reports: however long the run, their waiting must not make /healthz 503.
    services.settings.unrouted_alert_seconds = 10**9
    numbers, sent = _seed(services)
    accounts = {f"fuzz-{role}": create_user(services, f"fuzz-{role}", role, None) for role in ("caseworker", "admin")}
    console, csrf = _console(app)
    lists = app.test_client()  # signed in as line staff's admin for the console's lists
    sign_in(lists, services, "fuzz-staff", "admin")

    rng = random.Random(SEED)
    fuzzer = Fuzzer(rng, numbers, sent, accounts, csrf)
    families = list(MIX)
    weights = [MIX[f] for f in families]
    histogram: Counter = Counter()
    by_family: dict[str, Counter] = {f: Counter() for f in families}
    failures: list[str] = []       # the first bad answers, for replay
    bad = 0
    known: Counter = Counter()     # known bugs met (see KNOWN_BUGS)
    dialect = services.db.dialect.name
    refusals: Counter = Counter()  # (family, status, the answer's first words): what the 4xx were for
    started = time.perf_counter()

    for i in range(TOTAL):
        family = rng.choices(families, weights)[0]
        req = fuzzer.next(family)
        response = send({"console/login": console, "console/query": lists}.get(family, client), req)
        req.status = response.status_code
        histogram[response.status_code] += 1
        by_family[family][response.status_code] += 1
        if 400 <= response.status_code < 500:
            first_line = (response.get_data(as_text=True).strip().splitlines() or [""])[0][:60]
            refusals[(family, response.status_code, re.sub(r"[0-9a-f]{8,}|'.*'", "…", first_line))] += 1
        if family == "console/login" and response.status_code == 302:  # signed in: start again signed out
            console, fuzzer.csrf = _console(app)
        bug = known_bug(req, response, dialect)
        if bug is not None:
            known[bug] += 1
        for problem in [] if bug is not None else problems_with(req, response):
            bad += 1
            if len(failures) < 25:
                failures.append(f"#{i} {problem}\n    {req.describe()}")
        if response.status_code == 200 and req.method == "POST" and req.path in WEBHOOKS:
            fuzzer.handled.append(req)
            if req.family == "twilio/voice/status" and req.session is not None and \
                    set(form_values(req, "CallStatus")) & {"completed", "busy", "no-answer", "failed", "canceled"}:
                req.session["ended"] = True  # the line takes no more of this call: start others
            if req.family == "twilio/voice" and req.session is not None and req.resend_of is None:
                text = response.get_data(as_text=True)
                prompt = re.search(r'action="[^"]*\?s=(\d+)"', text)
                req.session["step"] = int(prompt.group(1)) if prompt else req.session["step"]
                req.session["ended"] = "<Hangup />" in text or "<Reject />" in text
            if req.family in ("at/ussd", "twilio/sms"):
                text = response.get_data(as_text=True)
                if text.startswith("END ") and req.session is not None:
                    req.session["ended"] = True
                for number in _NUMBER_IN_REPLY.findall(text):  # a report number given out: use it later
                    if reportnumber.is_valid(number) and number not in fuzzer.numbers and len(fuzzer.numbers) < 500:
                        fuzzer.numbers.append(number)

    elapsed = time.perf_counter() - started
    print(f"\n== fuzz: {TOTAL} requests, seed {SEED}, {elapsed:.1f} s ({TOTAL / elapsed:.0f} requests/s)")
    print("status histogram:", "  ".join(f"{code}: {n}" for code, n in sorted(histogram.items())))
    for family in families:
        print(f"  {family:16} {sum(by_family[family].values()):6}  " +
              "  ".join(f"{code}: {n}" for code, n in sorted(by_family[family].items())))
    print(f"calls: {len(fuzzer.calls)} ({sum(1 for c in fuzzer.calls if c['ended'])} ended)")
    walked = sum(1 for s in fuzzer.sessions if s["text"])
    ended = sum(1 for s in fuzzer.sessions if s["ended"])
    print(f"USSD sessions: {len(fuzzer.sessions)} ({walked} walked, {ended} ended); "
          f"report numbers known: {len(fuzzer.numbers)}")
    for bug, n in known.items():
        print(f"KNOWN BUG met {n} times: {bug}")
    print("most frequent refusals:")
    for (family, code, what), n in refusals.most_common(int(os.environ.get("HOTLINE_FUZZ_REASONS", "15"))):
        print(f"  {n:6}  {family:16} {code}  {what}")
    assert sum(histogram.values()) == TOTAL
    assert all(by_family[f] for f in families), "a family got no request"
    # Most requests got past authentication: the parsers and the engine were really fuzzed.
    for family in ("twilio/sms", "at/sms", "at/ussd", "api/list", "api/detail", "twilio/voice"):
        assert by_family[family][200] > sum(by_family[family].values()) * 0.2, (family, by_family[family])
    assert not bad, f"{bad} bad answers; the first:\n" + "\n".join(failures)


def test_console_sign_in_with_nul_in_username_is_not_a_5xx(app, services):
    """A user name with a NUL character is a wrong user name (401), not a server error."""
    console, csrf = _console(app)
    response = console.post("/console/login", data={"csrf_token": csrf, "username": "a\x00b", "password": "wrong"})
    assert response.status_code == 401, response.status_code
