"""The whole SMPP path on this machine: the SMSC simulator and its HTTP API, bearerbox bound to it
over SMPP, and smsbox calling a line's /webhooks/kannel/sms and taking its sendsms calls."""
from __future__ import annotations

import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from hotline.gateway.kannel import Kannel
from hotline.gateway.kannelconf import HTTP_QUEUE_DELAY, HTTP_REQUEST_RETRY, KannelConfig, mo_url
from hotline.gateway.smsc import SMSC
from hotline.gateway.smscapi import SMSCApi

SHORT_CODE = "1700"
"""The short code the simulated phones text (a made-up one)."""
SYSTEM_ID = "hotline"
"""The SMPP account (system_id) Kannel binds with."""
SENDSMS_TIMEOUT = 10.0
"""Seconds a sendsms call made by sendsms() may take."""


class LocalStack:
    """SMSC simulator + bearerbox + smsbox, started together and stopped together."""

    def __init__(self, line_url: str, folder: Path, *, token: str | None = None, short_code: str = SHORT_CODE,
                 mo_method: str = "get", mo_recode: bool = True, http_request_retry: int = HTTP_REQUEST_RETRY,
                 http_queue_delay: int = HTTP_QUEUE_DELAY):
        self.token = token or secrets.token_urlsafe(18)
        self.short_code = short_code
        self.smsc = SMSC(SYSTEM_ID, secrets.token_hex(4))  # SMPP passwords are at most 8 characters
        self.api = SMSCApi(self.smsc, short_code)
        self.kannel = Kannel(KannelConfig(
            smsc_port=self.smsc.port, smsc_system_id=SYSTEM_ID, smsc_password=self.smsc.password,
            mo_url=mo_url(line_url, self.token), mo_method=mo_method, mo_recode=mo_recode,
            http_request_retry=http_request_retry, http_queue_delay=http_queue_delay), folder)

    def start(self) -> "LocalStack":
        """Start the SMSC and its API, then Kannel; return once Kannel is bound and sendsms answers."""
        self.smsc.start()
        self.api.start()
        try:
            self.kannel.start()
            self.smsc.wait_bound()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop Kannel first (so it unbinds cleanly), then the SMSC and its API."""
        self.kannel.stop()
        self.api.stop()
        self.smsc.stop()

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def line_env(self) -> dict[str, str]:
        """The settings a line needs to use this Kannel (docs/contract.md, section 2)."""
        config = self.kannel.config
        return {"KANNEL_SEND_URL": self.kannel.sendsms_url, "KANNEL_USERNAME": config.sendsms_username,
                "KANNEL_PASSWORD": config.sendsms_password, "KANNEL_FROM": self.short_code,
                "KANNEL_WEBHOOK_TOKEN": self.token}

    def send_mo(self, sender: str, text: str, **options) -> list[int]:
        """A phone texts the short code (see SMSC.send_mo)."""
        return self.smsc.send_mo(sender, text, self.short_code, **options)

    def sendsms(self, to: str, text: str | bytes, **params: str) -> tuple[int, str]:
        """GET smsbox's sendsms as the line does (username, password, from filled in); extra params
        such as coding, charset, dlr-mask or dlr-url as keywords with '_' for '-'. Returns status and
        body; raises OSError (connection refused) when smsbox is down."""
        query = {"username": self.kannel.config.sendsms_username, "password": self.kannel.config.sendsms_password,
                 "from": self.short_code, "to": to, "text": text}
        query.update({k.replace("_", "-"): v for k, v in params.items()})
        url = f"{self.kannel.sendsms_url}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=SENDSMS_TIMEOUT) as answer:
                return answer.status, answer.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", errors="replace")
