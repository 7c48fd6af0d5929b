"""`python -m hotline gateway`: the whole SMPP path on this machine (SMSC simulator, bearerbox,
smsbox) pointed at a running line, until Ctrl-C."""
from __future__ import annotations

import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from hotline.gateway import kannel, kannelconf

POLL = 0.5
"""Seconds between looks for new messages Kannel submitted, to print them."""
EXAMPLE_PHONE = "+85512345678"


def main(line_url: str, token: str | None, short_code: str) -> int:
    """Start the stack, print what to give the line and how to text it, print each MT, stop on Ctrl-C."""
    if not kannel.installed():
        print(f"Kannel is not installed ({kannel.BEARERBOX} and {kannel.SMSBOX} are needed).\n"
              f"On Debian or Ubuntu: {kannel.INSTALL_HINT}", file=sys.stderr)
        return 1
    try:
        from hotline.gateway.stack import LocalStack
    except ImportError as exc:  # smpplib is a development requirement
        print(f"{exc}: pip install -r requirements-dev.txt", file=sys.stderr)
        return 1
    if token is not None and not kannelconf.TOKEN_CHARS.match(token):
        print("--token may hold only letters, digits and . _ ~ -", file=sys.stderr)
        return 2
    _warn_unless_line_answers(line_url)
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell may start us with it ignored
        signal.signal(signum, _interrupt)
    with tempfile.TemporaryDirectory(prefix="hotline-kannel-") as folder:
        stack = LocalStack(line_url, Path(folder), token=token, short_code=short_code)
        try:
            stack.start()
        except kannel.KannelError as exc:
            print(f"Kannel did not start: {exc}", file=sys.stderr)
            return 1
        try:
            print(instructions(stack, line_url, folder), flush=True)
            _print_mts(stack)
        except KeyboardInterrupt:
            print("\nstopping smsbox, bearerbox and the SMSC simulator")
        finally:
            stack.stop()
    return 0


def instructions(stack, line_url: str, folder: str) -> str:
    """What an operator needs: the line's settings, and how a simulated phone texts it."""
    env = "\n".join(f"  {name}={value}" for name, value in stack.line_env.items())
    api = stack.api.url
    return f"""\
Kannel is bound over SMPP to a simulated SMSC (127.0.0.1:{stack.smsc.port}); logs in {folder}
Inbound SMS go to {kannelconf.mo_url(line_url, stack.token).split('?')[0]}?token=…

Give the line these settings (e.g. in .env; SMS_PROVIDERS=kannel sends its SMS this way) and restart it:
{env}

A phone texts the short code {stack.short_code}:
  curl -d sender={EXAMPLE_PHONE} --data-urlencode 'text=hello' {api}/mo
  curl -d sender={EXAMPLE_PHONE} --data-urlencode 'text=សួស្តី' {api}/mo
What Kannel sent to phones (also printed below as it arrives):
  curl {api}/mt
A delivery receipt for one of them (stat=UNDELIV for a failed one):
  curl -d message_id=<id from /mt> -d stat=DELIVRD {api}/receipt

Ctrl-C stops everything."""


def _print_mts(stack) -> None:
    """Print each message Kannel submits to the SMSC, as it arrives, until interrupted."""
    seen = 0
    while True:
        mts = stack.smsc.submitted()
        for mt in mts[seen:]:
            part = f" part {mt.part.number}/{mt.part.total}" if mt.part else ""
            to = ("+" if mt.dest_ton == 1 else "") + mt.destination
            print(f"MT {mt.message_id} to {to} (data_coding {mt.data_coding}{part}): {mt.text}", flush=True)
        seen = len(mts)
        time.sleep(POLL)


def _warn_unless_line_answers(line_url: str) -> None:
    try:
        urllib.request.urlopen(line_url.rstrip("/") + "/healthz", timeout=2).close()
    except urllib.error.HTTPError:  # it answers, though something behind it may be down
        return
    except OSError as exc:
        print(f"warning: the line does not answer at {line_url} ({exc}); inbound SMS will fail until it does",
              file=sys.stderr)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt
