"""Kannel for the local stack: writes a kannel.conf, runs bearerbox then smsbox in a temporary
folder (logs kept there), waits until both answer, and stops them.

Kannel's user guide (1.4.x) names every setting used here; docs/kannel.conf is the same wiring
for a real aggregator's SMPP account, with each setting explained."""
from __future__ import annotations

import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")
INSTALL_HINT = "apt-get install kannel kannel-extras"
LOOPBACK = "127.0.0.1"
SMSC_ID = "local-smsc"
"""The smsc-id of the SMPP connection; Kannel names it in logs, status and DLR storage."""
MO_ESCAPES = "id=%I&sender=%p&to=%P&ts=%T&message=%a&coding=%c&charset=%C"
"""The fields the line reads from each inbound SMS (docs/contract.md, section 3)."""
START_WAIT = 20.0
"""Seconds bearerbox and smsbox may take to answer, and the SMPP bind to come up."""
STOP_WAIT = 10.0
"""Seconds a box may take to stop after SIGTERM before it is killed."""
SMSBOX_GRACE = 1.0
"""Seconds smsbox gets to stop alone before bearerbox is told to stop too."""
LOG_TAIL = 40
"""Lines of each log shown when something fails."""
TOKEN_CHARS = re.compile(r"^[A-Za-z0-9._~-]+$")
"""A token Kannel can carry in its get-url as is: '%' would read as an escape, quotes end the value."""


class KannelError(RuntimeError):
    """Kannel is missing, did not start, or did not answer; the message carries its logs' tails."""


def installed() -> bool:
    """Whether both boxes are on this machine."""
    return BEARERBOX.is_file() and SMSBOX.is_file()


def free_port() -> int:
    """A TCP port free on loopback right now (the OS's choice)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def mo_url(line_url: str, token: str | None) -> str:
    """The sms-service URL: the line's Kannel webhook with its token and the escapes Kannel fills in."""
    if token is not None and not TOKEN_CHARS.match(token):
        raise ValueError("the webhook token may hold only letters, digits and . _ ~ -")
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
    http_request_retry: int = 0
    http_queue_delay: int = 10
    sendsms_max_messages: int = 3
    """The most parts sendsms splits one text into (the line's replies are at most 3)."""
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


class Kannel:
    """bearerbox and smsbox running from a KannelConfig in a folder of their own."""

    def __init__(self, config: KannelConfig, folder: Path, text: str | None = None):
        """`text`, when given, is the kannel.conf to run instead of config.render(): it must use
        config's admin, smsbox and sendsms ports and its admin password."""
        self.config, self.folder, self.text = config, Path(folder), text
        self.conf_path = self.folder / "kannel.conf"
        self._boxes: dict[str, subprocess.Popen] = {}

    @property
    def sendsms_url(self) -> str:
        """smsbox's sendsms interface (KANNEL_SEND_URL)."""
        return f"http://{LOOPBACK}:{self.config.sendsms_port}/cgi-bin/sendsms"

    @property
    def admin_url(self) -> str:
        """bearerbox's administration interface."""
        return f"http://{LOOPBACK}:{self.config.admin_port}"

    def start(self, timeout: float = START_WAIT) -> "Kannel":
        """Write the configuration, start bearerbox, wait for its SMPP bind, start smsbox, wait for sendsms."""
        if not installed():
            raise KannelError(f"Kannel is not installed ({BEARERBOX} or {SMSBOX} missing): {INSTALL_HINT}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.text or self.config.render(self.folder), encoding="utf-8")
        deadline = time.monotonic() + timeout
        try:
            self._spawn("bearerbox", BEARERBOX)
            self._wait(deadline, "the SMPP bind to come up", self._bound)
            self._spawn("smsbox", SMSBOX)
            self._wait(deadline, "smsbox to connect and sendsms to answer", self._smsbox_ready)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM smsbox, then bearerbox (which unbinds from the SMSC); kill whichever lingers.
        An smsbox holding a message bearerbox has queued waits for bearerbox, and leaves when it goes."""
        smsbox, bearerbox = self._boxes.pop("smsbox", None), self._boxes.pop("bearerbox", None)
        _terminate(smsbox, SMSBOX_GRACE)
        _terminate(bearerbox, STOP_WAIT)
        for box in (smsbox, bearerbox):
            if box is not None and box.poll() is None:
                try:
                    box.wait(STOP_WAIT)
                except subprocess.TimeoutExpired:
                    box.kill()
                    box.wait()

    def __enter__(self) -> "Kannel":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def status(self) -> dict[str, str]:
        """bearerbox's status.xml reduced to {'smsc': '<state of its (first) SMSC>', 'smsbox': '<its
        status>'}; empty while bearerbox does not answer."""
        url = f"{self.admin_url}/status.xml?password={urllib.parse.quote(self.config.admin_password)}"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                root = ET.fromstring(answer.read())
        except (OSError, ET.ParseError):
            return {}
        found = {}
        for smsc in root.iter("smsc"):
            found.setdefault("smsc", (smsc.findtext("status") or "").strip())
        for box in root.iter("box"):
            if (box.findtext("type") or "") == "smsbox":
                found["smsbox"] = (box.findtext("status") or "").strip()
        return found

    def logs(self, lines: int = LOG_TAIL) -> str:
        """The last lines of every log in the folder, each under its name."""
        out = []
        for path in sorted(self.folder.glob("*.log")) + sorted(self.folder.glob("*.out")):
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(out)

    def _spawn(self, name: str, program: Path) -> None:
        out = open(self.folder / f"{name}.out", "ab")  # console output: start-up errors land here
        # A session of their own: a terminal's Ctrl-C reaches only us, and stop() ends smsbox before bearerbox.
        self._boxes[name] = subprocess.Popen([str(program), "-v", "2", str(self.conf_path)], stdout=out,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.folder,
                                             start_new_session=True)
        out.close()

    def _bound(self) -> bool:
        state = self.status().get("smsc", "")
        if state == "dead":  # Kannel gives up on an SMSC that refuses its bind (e.g. a wrong password)
            raise KannelError(f"the SMSC refused Kannel's bind (its status is 'dead')\n{self.logs()}")
        return state.startswith("online")

    def _smsbox_ready(self) -> bool:
        if "smsbox" not in self.status():
            return False
        try:  # any HTTP answer (a 4xx for the missing user) means sendsms listens
            urllib.request.urlopen(self.sendsms_url, timeout=2).close()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def _wait(self, deadline: float, what: str, ready) -> None:
        while not ready():
            dead = [n for n, box in self._boxes.items() if box.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else "timed out"
                raise KannelError(f"waiting for {what}: {why}\n{self.logs()}")
            time.sleep(0.05)


def _terminate(box: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM a running box and give it `grace` seconds to exit (it may still be running after)."""
    if box is None or box.poll() is not None:
        return
    box.send_signal(signal.SIGTERM)
    try:
        box.wait(grace)
    except subprocess.TimeoutExpired:
        pass
