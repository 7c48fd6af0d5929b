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
    needs it, and building it costs more than the rest of this object."""

    url_source: str | Callable[[], str]
    path: str
    query_string: str
    args: MultiDict
    form: MultiDict
    headers: Mapping[str, str]

    @cached_property
    def url(self) -> str:
        """The request's full URL."""
        return self.url_source() if callable(self.url_source) else self.url_source


@dataclass(frozen=True)
class Inbound:
    """One normalised incoming SMS or USSD step."""

    provider: str
    channel: str
    external_id: str
    sender: str
    text: str
    session_id: str | None = None
    inline_reply: bool = True


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
    """A USSD session's end: Incomplete means dropped while waiting for input."""

    provider: str
    session_id: str
    sender: str
    status: str


@dataclass(frozen=True)
class Answer:
    """What the line answers an inbound message: text, and whether the exchange is over."""

    text: str
    end: bool = True


@dataclass(frozen=True)
class SendResult:
    """What a provider said when asked to send one SMS."""

    provider_message_id: str | None
    status: str


class SendError(Exception):
    """A send that failed; `permanent` ones are never retried."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Endpoint:
    """One webhook path of a provider: what it parses the request into, and how it answers."""

    path: str
    kind: str  # 'message' | 'status' | 'session_end'
    parse: Callable[[WebRequest], object]
    render: Callable[[Answer], tuple[str, str]] = field(default=lambda answer: ("", "text/plain"))


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
    """A required sender field that must be a phone number, in E.164, or a 400 naming it."""
    raw = required(form, name, 40)
    number = phones.normalise(raw, country) if raw.strip().startswith("+") else None
    if number is None:
        raise Rejected(400, f"field {name} is not a phone number")
    return number


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


class Provider:
    """A provider module's one object: its webhooks, how it checks them, how it sends."""

    slug: str = ""
    endpoints: tuple[Endpoint, ...] = ()

    def authenticate(self, req: WebRequest, settings) -> None:
        """Raise Rejected(403) unless the request provably comes from the provider."""
        raise Rejected(403, "this provider takes no webhooks")

    def send(self, settings, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Send one SMS; raise SendError on failure."""
        raise SendError(f"{self.slug} cannot send SMS", permanent=True)
