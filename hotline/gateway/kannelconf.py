"""The kannel.conf of a local stack: loopback only, free ports and fresh passwords each run, wired to
the line as docs/contract.md says and set like docs/kannel.conf (where each setting is explained)."""
from __future__ import annotations

import re
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from hotline.gateway import LOOPBACK

SMSC_ID = "local-smsc"
"""The smsc-id of the SMPP connection; Kannel names it in logs, status and DLR storage."""
MO_ESCAPES = "id=%I&sender=%p&to=%P&ts=%T&message=%a&coding=%c&charset=%C"
"""The fields the line reads from each inbound SMS (docs/contract.md, section 3)."""
TOKEN_CHARS = re.compile(r"^[A-Za-z0-9._~-]+$")
"""A token Kannel can carry in its get-url as is: '%' would read as an escape, quotes end the value."""
URL_FORBIDDEN = re.compile(r'["%\s]')
"""What a line URL may not hold inside a quoted Kannel value: quotes, escapes, blanks."""
HTTP_REQUEST_RETRY = 3
"""Times smsbox calls the line again after a failed call (docs/kannel.conf): it forgets the message otherwise."""
HTTP_QUEUE_DELAY = 10
"""Seconds between those calls."""
SENDSMS_MAX_MESSAGES = 3
"""The most parts sendsms splits one text into (the line's replies are at most 3); Kannel cuts the rest."""


def free_port() -> int:
    """A TCP port free on loopback right now (the OS's choice)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def mo_url(line_url: str, token: str | None) -> str:
    """The sms-service URL: the line's Kannel webhook with its token and the escapes Kannel fills in."""
    if token is not None and not TOKEN_CHARS.match(token):
        raise ValueError("the webhook token may hold only letters, digits and . _ ~ -")
    if URL_FORBIDDEN.search(line_url):
        raise ValueError("the line's URL may not hold quotes, '%' or blanks")
    url = line_url.rstrip("/")
    if not url.endswith("/webhooks/kannel/sms"):
        url += "/webhooks/kannel/sms"
    return f"{url}?" + (f"token={token}&" if token else "") + MO_ESCAPES


@dataclass
class KannelConfig:
    """One local Kannel: where its SMSC is, where inbound SMS go, and its ports and passwords."""

    smsc_port: int
    smsc_system_id: str
    smsc_password: str
    mo_url: str
    mo_method: str = "get"
    """'get' (sms-service get-url) or 'post' (post-url: the same query, the text in the body too)."""
    mo_recode: bool = True
    """Turn UCS-2 (Khmer) MO into UTF-8 before the call: see render() for why."""
    http_request_retry: int = HTTP_REQUEST_RETRY
    http_queue_delay: int = HTTP_QUEUE_DELAY
    sendsms_max_messages: int = SENDSMS_MAX_MESSAGES
    admin_port: int = field(default_factory=free_port)
    smsbox_port: int = field(default_factory=free_port)
    sendsms_port: int = field(default_factory=free_port)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    sendsms_username: str = "hotline"
    sendsms_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    log_level: int = 0
    """0 debug (shows every PDU and HTTP call), 1 info, 2 warning."""

    def render(self, folder: Path) -> str:
        """kannel.conf text for this stack, logs in `folder`."""
        if self.mo_method not in ("get", "post"):
            raise ValueError("mo_method is 'get' or 'post'")
        yes = {True: "true", False: "false"}
        return f"""\
# Written by hotline.gateway.kannel for a local test stack: loopback only, passwords made per run.
group = core
admin-port = {self.admin_port}
admin-interface = {LOOPBACK}
admin-password = "{self.admin_password}"
admin-allow-ip = "{LOOPBACK}"
smsbox-port = {self.smsbox_port}
smsbox-interface = {LOOPBACK}
box-deny-ip = "*.*.*.*"
box-allow-ip = "{LOOPBACK}"
log-file = "{folder / 'bearerbox.log'}"
log-level = {self.log_level}
access-log = "{folder / 'bearerbox-access.log'}"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = {SMSC_ID}
host = {LOOPBACK}
port = {self.smsc_port}
transceiver-mode = true
smsc-username = "{self.smsc_system_id}"
smsc-password = "{self.smsc_password}"
system-type = ""
# Quick rebinds and link checks suit a local SMSC; a real account keeps Kannel's defaults.
reconnect-delay = 1
enquire-link-interval = 30

group = smsbox
bearerbox-host = {LOOPBACK}
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = {LOOPBACK}
# UCS-2 MO (all Khmer) becomes UTF-8 before the call, so the line gets UTF-8 and charset=UTF-8;
# without it %a splits the raw UTF-16BE octets at bytes that look like ASCII blanks (the 0x20 of
# U+200B, the zero-width space Khmer writes between words), which corrupts the text.
mo-recode = {yes[self.mo_recode]}
http-request-retry = {self.http_request_retry}
http-queue-delay = {self.http_queue_delay}
log-file = "{folder / 'smsbox.log'}"
log-level = {self.log_level}
access-log = "{folder / 'smsbox-access.log'}"

group = sendsms-user
username = "{self.sendsms_username}"
password = "{self.sendsms_password}"
user-allow-ip = "{LOOPBACK}"
max-messages = {self.sendsms_max_messages}
concatenation = true

group = sms-service
keyword = default
{self.mo_method}-url = "{self.mo_url}"
# The line answers with an empty body and sends replies itself through sendsms.
omit-empty = true
max-messages = 0
"""
