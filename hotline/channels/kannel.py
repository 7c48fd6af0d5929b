"""Kannel: SMS from and to phones through an aggregator's or operator's SMPP account. Kannel's
bearerbox holds the SMPP bind and its smsbox speaks HTTP to the line; the line never speaks SMPP.

- In: Kannel's `sms-service` calls /webhooks/kannel/sms (`get-url`, or `post-url`, which puts the
  escapes in the query string too and its own copy of the text in the body, ignored), or a
  form-encoded POST. A UCS-2 message (all Khmer) arrives as UTF-16BE bytes unless smsbox recodes it.
- Out: GET on Kannel's sendsms interface, `coding=2&charset=UTF-8` for text that is not GSM-7,
  with a `dlr-url` back to /webhooks/kannel/status naming the line's own message id.

Settings (prefix `KANNEL_`): SEND_URL, USERNAME, PASSWORD, FROM, WEBHOOK_TOKEN, TPS.
Wire facts: docs/channels.md ("Kannel"); docs/kannel.md for operators.
"""
from __future__ import annotations

import codecs
import hmac
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Mapping

import requests
from werkzeug.datastructures import MultiDict

from hotline import phones, smsbudget
from hotline.channels.base import (REFUSED, TRANSIENT, UNKNOWN, Endpoint, Inbound, Mode, Outgoing, Provider,
                                   ProviderConfig, Rejected, SendError, SendResult, Simulated, StatusUpdate,
                                   WebRequest, clean_text, env, optional, read_tps, read_url, required)

DLR_BITS = ((1, "delivered"), (2, "failed"), (16, "failed"), (8, "sent"), (4, "sent"))
"""Kannel's delivery report (`%d`) is a set of bits, read in this order to our status: 1 delivered to
the phone, 2 failed at the phone, 16 rejected by the SMSC, 8 accepted by the SMSC, 4 queued at the
SMSC. Other bits ride along (an expired message reports 34: 32 and 2, failed)."""

FAILED_DLR = 2 | 16
"""Bits after which sending the same message again cannot help."""

DLR_MASK = 27
"""Which reports to ask for: 1 + 2 + 8 + 16 (delivered, failed, accepted by and rejected by the SMSC)."""

UTF16 = {"utf-16be", "utf-16", "ucs-2", "ucs2", "ucs-2be", "iso-10646-ucs-2"}
"""Charset names under which Kannel passes a UCS-2 message's raw UTF-16BE bytes."""

CODINGS = {"0": "gsm7", "1": "8bit", "2": "ucs2"}
"""`%c`: how the message was coded on the SMPP side."""

ACCEPTED = ("0:", "3:")
"""The start of sendsms's answer when it took the message: accepted, or queued for later."""

SIMULATED_SHORT_CODE = "8181"
"""The short code the phone simulator texts through Kannel."""
"""The start of sendsms's answer when it took the message: accepted, or queued for later."""

DEFAULT_TPS = 10.0
"""Aggregators allow a few tens of messages a second per bind; 10 is safe until they say more."""


@dataclass(frozen=True)
class KannelConfig(ProviderConfig):
    """Kannel's sendsms interface, its user, the short code or sender id, and the webhook token."""

    send_url: str | None = None
    username: str | None = None
    password: str | None = None
    from_: str | None = None
    webhook_token: str | None = None

    def missing(self) -> list[str]:
        """Settings still needed to send (without KANNEL_FROM, Kannel's own default sender is used)."""
        names = (("KANNEL_SEND_URL", self.send_url), ("KANNEL_USERNAME", self.username),
                 ("KANNEL_PASSWORD", self.password))
        return [name for name, value in names if not value]


def _raw_fields(req: WebRequest) -> MultiDict:
    """Kannel's fields as raw bytes (each value a latin-1 string, one character a byte): from the query
    string, and from the body when it is a form (a `post-url` body is Kannel's copy of the text)."""
    fields = MultiDict(urllib.parse.parse_qsl(req.query_string, keep_blank_values=True, encoding="latin-1"))
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if req.method == "POST" and content_type == "application/x-www-form-urlencoded":
        body = req.body().decode("latin-1")
        for name, value in urllib.parse.parse_qsl(body, keep_blank_values=True, encoding="latin-1"):
            if name not in fields:
                fields.add(name, value)
    return fields


def _text(raw: MultiDict, name: str) -> str | None:
    """A field other than the message, which Kannel writes in ASCII or UTF-8."""
    value = raw.get(name)
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, f"field {name} is not UTF-8 text") from None


def decode_message(raw: bytes, coding: str | None, charset: str | None) -> str:
    """The message's words: UTF-8, unless `charset` names UTF-16BE/UCS-2 (or another charset Python
    knows), or `coding` is 2 (UCS-2) with no charset: then UTF-16BE."""
    name = (charset or "").strip().lower()
    if name in UTF16 or (not name and coding == "2"):
        codec = "utf-16-be"
    elif name in ("", "utf-8", "utf8"):
        codec = "utf-8"
    else:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            raise Rejected(400, f"field charset names an unknown charset {charset[:32]!r}") from None
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        raise Rejected(400, f"field message is not valid {codec} text") from None


def parse_sms(req: WebRequest) -> Inbound:
    """An MO message from Kannel's sms-service; the answer goes out later through sendsms, from a worker."""
    raw = _raw_fields(req)
    fields = MultiDict({name: _text(raw, name) for name in ("id", "sender", "to", "ts", "coding", "charset")
                        if raw.get(name) is not None})
    message_id = required(fields, "id", 128)
    sender = phones.normalise(required(fields, "sender", 40), req.country)
    if sender is None:
        raise Rejected(400, "field sender is not a phone number")
    coding, charset = optional(fields, "coding", 2), optional(fields, "charset", 32)
    if coding is not None and coding not in CODINGS:
        raise Rejected(400, f"field coding must be one of {', '.join(CODINGS)}")
    ts = optional(fields, "ts", 20)
    if ts is not None and not ts.isdigit():
        raise Rejected(400, "field ts is not a time in seconds")
    if raw.get("message") is None:
        raise Rejected(400, "missing required field: message")
    text = decode_message(raw["message"].encode("latin-1"), coding, charset)
    if len(text) > 1600:
        raise Rejected(400, "field message is too long")
    return Inbound("kannel", "sms", message_id, sender, clean_text(text), inline_reply=False,
                   to=optional(fields, "to", 40))


def parse_status(req: WebRequest) -> StatusUpdate:
    """A delivery report through the dlr-url the line wrote: its own message id, and Kannel's `%d`."""
    fields = MultiDict(req.args)
    if req.method == "POST":
        fields.update({k: v for k, v in req.form.items() if k not in fields})
    message_id = required(fields, "id", 64)
    value = required(fields, "status", 8).strip()
    bits = int(value) if value.isascii() and value.isdigit() else 0
    status = next((ours for bit, ours in DLR_BITS if bits & bit), None)
    if status is None:
        raise Rejected(400, f"field status has unknown value {value[:8]!r}")
    failed = status == "failed"
    return StatusUpdate("kannel", message_id, status, f"kannel delivery report {bits}" if failed else None,
                        permanent=failed)


class Kannel(Provider):
    """Kannel's smsbox: SMS in through sms-service, out through sendsms, reports through dlr-url."""

    slug = "kannel"
    title = "Kannel (SMPP)"
    prefix = "KANNEL_"
    default_tps = DEFAULT_TPS
    endpoints = (
        Endpoint("sms", "message", parse_sms, methods=("GET", "POST")),
        Endpoint("status", "status", parse_status, methods=("GET", "POST")),
    )
    modes = {"kannel": Mode("SMS via Kannel (SMPP)", "sms")}

    def read_config(self, environ: Mapping[str, str], production: bool) -> KannelConfig:
        """KANNEL_* settings."""
        return KannelConfig(tps=read_tps(environ, self.prefix, self.default_tps),
                            send_url=read_url(environ, "KANNEL_SEND_URL"), username=env(environ, "KANNEL_USERNAME"),
                            password=env(environ, "KANNEL_PASSWORD"), from_=env(environ, "KANNEL_FROM"),
                            webhook_token=env(environ, "KANNEL_WEBHOOK_TOKEN"))

    def authenticate(self, req: WebRequest, config: KannelConfig, settings) -> None:
        """Require ?token=KANNEL_WEBHOOK_TOKEN (compared in constant time); open only in development."""
        expected = config.webhook_token
        if not expected:
            if settings.production:
                raise Rejected(403, "KANNEL_WEBHOOK_TOKEN is not set: Kannel's calls are closed")
            return
        given = req.args.get("token") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Rejected(403, "missing or wrong token")

    def send(self, config: KannelConfig, message: Outgoing, settings) -> SendResult:
        """GET on sendsms: 202 with `0: Accepted…` or `3: Queued…` is taken; a 4xx is this Kannel's refusal
        (wrong user, missing field); a 5xx or no connection, not sent; no answer in time, unknown."""
        if config.missing():
            raise SendError(f"{', '.join(config.missing())} not set", outcome=REFUSED)
        params = {"username": config.username, "password": config.password, "to": message.to, "text": message.body}
        sender = message.sender or config.from_
        if sender:
            params["from"] = sender
        if smsbudget.encoding(message.body) != "gsm7":
            params.update(coding="2", charset="UTF-8")
        if settings.public_base_url and message.ref:
            params["dlr-mask"] = str(DLR_MASK)
            params["dlr-url"] = self.dlr_url(settings.public_base_url, config, message.ref)
        try:
            answer = requests.get(config.send_url, params=params, timeout=(3.05, float(settings.provider_timeout)),
                                  allow_redirects=False)
        except requests.ReadTimeout:
            raise SendError("kannel did not answer in time (it may have taken the message)", outcome=UNKNOWN) from None
        except (requests.RequestException, OSError) as exc:
            raise SendError(f"kannel unreachable: {type(exc).__name__}", outcome=TRANSIENT) from None
        said = answer.text.strip()[:80]
        if 200 <= answer.status_code < 300 and said.startswith(ACCEPTED):
            return SendResult(message.ref, "queued")
        if 400 <= answer.status_code < 500:
            raise SendError(f"kannel refused it: {answer.status_code} {said}", outcome=REFUSED)
        raise SendError(f"kannel answered {answer.status_code} {said}", outcome=TRANSIENT)

    def simulate(self, mode: str, phone: str, text: str, session_id: str | None, config: KannelConfig,
                 settings) -> Simulated:
        """An MO message as Kannel's get-url makes it: Khmer (any text that is not GSM-7) as the SMSC
        sends it, UCS-2, passed on as UTF-16BE bytes with charset=UTF-16BE (no mo-recode)."""
        ucs2 = smsbudget.encoding(text) != "gsm7"
        fields = [("id", secrets.token_hex(16)), ("sender", phone.lstrip("+")), ("to", SIMULATED_SHORT_CODE),
                  ("ts", str(int(time.time()))), ("coding", "2" if ucs2 else "0"),
                  ("charset", "UTF-16BE" if ucs2 else "UTF-8"), ("token", config.webhook_token or "")]
        query = urllib.parse.urlencode(fields)
        message = text.encode("utf-16-be" if ucs2 else "utf-8")
        return Simulated("GET", "/webhooks/kannel/sms", f"{query}&message={urllib.parse.quote_from_bytes(message)}")

    @staticmethod
    def dlr_url(base_url: str, config: KannelConfig, ref: str) -> str:
        """Where Kannel reports delivery: the status webhook with the token and the line's message id;
        Kannel fills in `%d` (left unescaped, or Kannel would not see it)."""
        query = urllib.parse.urlencode({"token": config.webhook_token or "", "id": ref})
        return f"{base_url}/webhooks/kannel/status?{query}&status=%d"


PROVIDER = Kannel()
"""This module's provider (registered by hotline.channels)."""
