"""The one small interface every provider module implements, and the plain data it speaks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Callable, Mapping

from werkzeug.datastructures import MultiDict

from hotline import phones

DELIVERY_STATUSES = ("queued", "sent", "delivered", "failed")
"""Our own delivery statuses; provider statuses map onto these through tables."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Rejected(Exception):
    """A request the line will not handle: answered with `status` and a message naming the problem."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebRequest:
    """What a webhook received, as plain data (the view builds it from Flask's request).

    `url_source` is the full URL or a function giving it: only a provider that signs the URL
    needs it, and building it costs more than the rest of this object. Likewise `form` may be a
    function giving the parsed form, and `body_source` one giving the raw body: a provider that
    must read the raw bytes (Kannel's UTF-16BE text) asks for them before anything parses them."""

    url_source: str | Callable[[], str]
    path: str
    query_string: str
    args: MultiDict
    form_source: MultiDict | Callable[[], MultiDict]
    headers: Mapping[str, str]
    method: str = "POST"
    body_source: Callable[[], bytes] | None = None
    country: str = "KH"
    """Where a number written without its country code is read (the directory's country)."""

    @cached_property
    def url(self) -> str:
        """The request's full URL."""
        return self.url_source() if callable(self.url_source) else self.url_source

    @cached_property
    def form(self) -> MultiDict:
        """The form-encoded body's fields."""
        return self.form_source() if callable(self.form_source) else self.form_source

    def body(self) -> bytes:
        """The raw body (empty when the view gave none)."""
        return self.body_source() if self.body_source is not None else b""


@dataclass(frozen=True)
class Inbound:
    """One normalised incoming SMS or USSD step.

    For USSD, `text` is every input of the session so far joined by `separator` (a provider that
    sends only the latest input gives it alone, with `separator` None). `to` is the line's number
    or short code the message was sent to, when the provider says: replies leave from it. For a
    call (channel "voice"), `text` is the keys pressed, `session_id` the call and `step` the prompt
    they answer (None for the call's first request; `text` empty: nothing was pressed)."""

    provider: str
    channel: str
    external_id: str
    sender: str
    text: str
    session_id: str | None = None
    inline_reply: bool = True
    to: str | None = None
    separator: str | None = None
    step: int | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """A provider's word on a message we sent: our status, and whether failure is permanent."""

    provider: str
    provider_message_id: str
    status: str | None
    error: str | None = None
    permanent: bool = False
    opted_out: bool = False


@dataclass(frozen=True)
class SessionEnd:
    """A USSD session's end; `dropped` when the network lost it while waiting for the reporter."""

    provider: str
    session_id: str
    sender: str
    dropped: bool


@dataclass(frozen=True)
class Answer:
    """What the line answers an inbound message: text, and whether the exchange is over."""

    text: str
    end: bool = True


@dataclass(frozen=True)
class Outgoing:
    """One SMS to send: to whom, what, the line's own id of it (for delivery reports that name it),
    and the sender id to use when not the provider's default (a reply leaves from the number the
    reporter wrote to)."""

    to: str
    body: str
    ref: str | None = None
    sender: str | None = None


@dataclass(frozen=True)
class SendResult:
    """What a provider said when asked to send one SMS."""

    provider_message_id: str | None
    status: str


RECIPIENT, REFUSED, TRANSIENT, UNKNOWN = "recipient", "refused", "transient", "unknown"
"""What a failed send means for what the line does next (SendError.outcome):
RECIPIENT the number itself is refused (invalid, blacklisted, unsubscribed): no provider does better;
REFUSED   this provider refuses to send (not configured, credentials or request refused): another may;
TRANSIENT not sent (network, 5xx, throttled): try again later, or another provider now;
UNKNOWN   no answer after the request went out: it may have been accepted, so it never moves."""


class SendError(Exception):
    """A send that failed, and what it means (`outcome`). `permanent`: never retried by this provider."""

    def __init__(self, message: str, permanent: bool = False, outcome: str | None = None):
        super().__init__(message)
        self.outcome = outcome or (RECIPIENT if permanent else TRANSIENT)

    @property
    def permanent(self) -> bool:
        """True when trying this provider again cannot help."""
        return self.outcome in (RECIPIENT, REFUSED)


@dataclass(frozen=True)
class Endpoint:
    """One webhook path of a provider: what it parses the request into, how it answers, and which
    HTTP methods the provider calls it with."""

    path: str
    kind: str  # 'message' | 'status' | 'session_end'
    parse: Callable[[WebRequest], object]
    render: Callable[[Answer], tuple[str, str]] = field(default=lambda answer: ("", "text/plain"))
    methods: tuple[str, ...] = ("POST",)


# ---- helpers every adapter uses -------------------------------------------------
def clean_text(value: str) -> str:
    """Text with control characters (NUL included) removed: they have no meaning in an SMS."""
    return _CONTROL.sub("", value or "")


def required(form: MultiDict, name: str, max_length: int = 1600, allow_empty: bool = False) -> str:
    """A required form field, or a 400 naming it."""
    value = form.get(name)
    if value is None or (not value.strip() and not allow_empty):
        raise Rejected(400, f"missing required field: {name}")
    if len(value) > max_length:
        raise Rejected(400, f"field {name} is too long")
    return clean_text(value)


def sender(form: MultiDict, name: str, country: str = "KH") -> str:
    """A required sender field that must be an international phone number, in E.164, or a 400 naming
    it. Its '+' may be missing (Twilio-compatible platforms and SMPP gateways write 85512345678)."""
    raw = required(form, name, 40).strip()
    digits = raw[1:] if raw.startswith("+") else raw
    number = phones.normalise("+" + digits, country) if digits.isdigit() and digits.isascii() else None
    if number is None:
        raise Rejected(400, f"field {name} is not a phone number")
    return number


def optional(form: MultiDict, name: str, max_length: int = 64) -> str | None:
    """An optional short field, stripped (None when absent or blank), or a 400 naming it."""
    value = (form.get(name) or "").strip()
    if len(value) > max_length:
        raise Rejected(400, f"field {name} is too long")
    return clean_text(value) or None


def parse_date(value: str | None, name: str, formats: tuple[str, ...]) -> datetime | None:
    """A date in one of `formats`, None when absent, or a 400 naming the field."""
    if value is None or value == "":
        return None
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise Rejected(400, f"field {name} is not a valid date")


def mapped_status(table: dict[str, str | None], value: str, name: str) -> str | None:
    """Our status for a provider status through its table, or a 400 naming the field."""
    if value not in table:
        raise Rejected(400, f"field {name} has unknown status {value[:40]!r}")
    return table[value]


class ProviderSettingsError(ValueError):
    """A provider's settings in the environment are malformed (the line refuses to start)."""


@dataclass(frozen=True)
class ProviderConfig:
    """A provider's own settings, read from its environment prefix by its module. `tps`: the most
    messages a second it may carry, across all workers (`<PREFIX>_TPS`)."""

    tps: float = 10.0

    def missing(self) -> list[str]:
        """The settings it still needs before it can send (none: it can)."""
        return []


@dataclass(frozen=True)
class Simulated:
    """A request as the provider would make it to the line (for the phone simulator and tests)."""

    method: str
    path: str
    query: str = ""
    form: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    session_id: str | None = None


@dataclass(frozen=True)
class Mode:
    """One way the phone simulator can reach the line through a provider: what it is called, whether
    it is USSD or SMS, and whether the answer comes inline (else through the outbox)."""

    label: str
    channel: str
    inline: bool = False
    dial: str | None = None  # the code a phone dials, for a USSD mode


class Provider:
    """A provider module's one object: its settings, its webhooks and how it checks them, its
    delivery statuses (tables in the module), how it sends, and (for the phone simulator) how it
    calls the line."""

    slug: str = ""
    title: str = ""
    """Its name for people (the console's dashboard)."""
    prefix: str = ""
    """The environment prefix of its settings (`TWILIO_`, `AT_`, `KANNEL_`)."""
    endpoints: tuple[Endpoint, ...] = ()
    can_send: bool = True
    default_tps: float = 10.0

    def read_config(self, environ: Mapping[str, str], production: bool) -> ProviderConfig:
        """Its settings from the environment; ProviderSettingsError when one is malformed."""
        return ProviderConfig(tps=read_tps(environ, self.prefix, self.default_tps))

    def authenticate(self, req: WebRequest, config: ProviderConfig, settings) -> None:
        """Raise Rejected(403) unless the request provably comes from the provider."""
        raise Rejected(403, "this provider takes no webhooks")

    def send(self, config: ProviderConfig, message: Outgoing, settings) -> SendResult:
        """Send one SMS; raise SendError on failure."""
        raise SendError(f"{self.slug} cannot send SMS", outcome=REFUSED)

    modes: Mapping[str, Mode] = {}
    """The phone simulator's modes this provider plays, by name."""

    def simulate(self, mode: str, phone: str, text: str, session_id: str | None, config: ProviderConfig,
                 settings) -> Simulated:
        """The request this provider would make for a phone sending `text` (for USSD, `text` is the
        session's inputs so far as the provider sends them)."""
        raise Rejected(400, f"{self.slug} has no simulator mode {mode!r}")


def env(environ: Mapping[str, str], name: str) -> str | None:
    """An environment value, stripped; None when unset or blank."""
    return (environ.get(name) or "").strip() or None


def read_tps(environ: Mapping[str, str], prefix: str, default: float) -> float:
    """`<PREFIX>_TPS`: a positive number of messages a second."""
    raw = env(environ, f"{prefix}TPS")
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ProviderSettingsError(f"{prefix}TPS must be a number of messages a second, not {raw!r}") from None
    if not 0 < value <= 10_000:
        raise ProviderSettingsError(f"{prefix}TPS must be more than 0 and at most 10000")
    return value


def read_url(environ: Mapping[str, str], name: str) -> str | None:
    """An optional http(s) base URL setting, without its trailing slash."""
    raw = env(environ, name)
    if raw is None:
        return None
    if not re.match(r"^https?://[^\s/]+", raw):
        raise ProviderSettingsError(f"{name} must be an http:// or https:// URL, not {raw[:60]!r}")
    return raw.rstrip("/")
