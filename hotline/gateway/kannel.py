"""Kannel for the local stack: writes its kannel.conf (kannelconf), runs bearerbox then smsbox
in a folder of their own (logs kept there), waits until both answer, and stops them."""
from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from hotline.gateway import LOOPBACK
from hotline.gateway.kannelconf import KannelConfig

BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")
INSTALL_HINT = "apt-get install kannel kannel-extras"
START_WAIT = 20.0
"""Seconds bearerbox and smsbox may take to answer, and the SMPP bind to come up."""
STOP_WAIT = 10.0
"""Seconds a box may take to stop after SIGTERM before it is killed."""
SMSBOX_GRACE = 1.0
"""Seconds smsbox gets to stop alone before bearerbox is told to stop too."""
LOG_TAIL = 40
"""Lines of each log shown when something fails."""


class KannelError(RuntimeError):
    """Kannel is missing, did not start, or did not answer; the message carries its logs' tails."""


def installed() -> bool:
    """Whether both boxes are on this machine."""
    return BEARERBOX.is_file() and SMSBOX.is_file()


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
        An smsbox that does not leave within SMSBOX_GRACE is killed at once: it is waiting either for
        bearerbox (a message queued there) or for a pending retry of a call to the line (it would
        wait http-queue-delay seconds, then abort), and what it holds is lost either way."""
        smsbox, bearerbox = self._boxes.pop("smsbox", None), self._boxes.pop("bearerbox", None)
        for box, grace in ((smsbox, SMSBOX_GRACE), (bearerbox, STOP_WAIT)):
            if box is None or box.poll() is not None:
                continue
            box.send_signal(signal.SIGTERM)
            try:
                box.wait(grace)
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
