"""Local fake SMS providers for tests: Twilio's Messages API, Africa's Talking's SMS API and Kannel's sendsms.

Each fake is a stdlib `ThreadingHTTPServer` on 127.0.0.1 (a free port) in a daemon thread, speaking
the provider's protocol closely enough for the official SDKs (twilio 9.13, africastalking 2.0.3),
as described in docs/contract.md (wire facts). Nothing here reaches the internet.

    with FakeTwilio() as fake:                      # or the `fake_twilio` fixture
        settings = Settings.from_env(environ=fake.env())
        PROVIDER.send(settings, "+85512345678", "hi")
        fake.accepted   # [{"to": ..., "body": ..., "from": ..., "id": "SM..."}]
        fake.requests   # every request received, accepted or not

Failure scripts: `fake.script(["500", "timeout", "ok"])`: each request consumes one entry.

- "ok": the normal answer (also what every request gets once the script is empty);
- a 3-digit HTTP status ("500", "503", "429", ...): that status with the provider's error body;
- "timeout": wait `timeout_sleep` seconds (longer than the client's timeout), then close the
  connection without answering; the message is NOT accepted (a provider that never answered did
  not take it);
- "garbled": 201 with an HTML page (something in between, not the provider): not accepted;
- AT only: "text": the normal answer with `Content-Type: text/plain; charset=utf-8`,
  "json-charset": the same with `application/json; charset=utf-8` (the SDK then returns the raw
  string, not parsed JSON); both are accepted;
- Twilio only: "rfc9457": a 400 in the RFC 9457 problem format (code 21211), which the SDK turns
  into TwilioServiceException rather than TwilioRestException.

Per-number permanent failures: `fake_at.reject("+855...", 403)` answers 201 with that recipient's
statusCode 403 InvalidPhoneNumber; `fake_twilio.reject("+855...", 21610)` answers 400 with that
Twilio error code. `FakeAfricasTalking(sender_ids={"HOTLINE"})` answers any other `from` the way AT
does: `{"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}`.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

E164 = re.compile(r"^\+[1-9]\d{6,14}$")

TWILIO_ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    21211: (400, "Invalid 'To' Phone Number"),
    21212: (400, "Invalid 'From' Phone Number"),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21408: (400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (400, "The 'To' phone number is not currently reachable via SMS"),
    21614: (400, "'To' number is not a valid mobile number"),
}
"""Twilio error codes the fake can answer, with their HTTP status and message."""

AT_STATUS = {
    100: "Processed", 101: "Success", 102: "Queued",
    401: "RiskHold", 402: "InvalidSenderId", 403: "InvalidPhoneNumber", 404: "UnsupportedNumberType",
    405: "InsufficientBalance", 406: "UserInBlacklist", 407: "CouldNotRoute",
    500: "InternalServerError", 501: "GatewayError", 502: "RejectedByGateway",
}
"""Africa's Talking per-recipient statusCodes and their status names."""

_GARBLED = b"<html><head><title>502 Bad Gateway</title></head><body>upstream said something</body></html>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _FakeProvider(ABC):
    """What both fakes share: the server thread, the script, the records."""

    def __init__(self, timeout_sleep: float = 1.0):
        self.timeout_sleep = timeout_sleep
        self.accepted: list[dict] = []
        self.accepted_at: list[float] = []  # time.time() of each accepted message, for benchmarks
        self.requests: list[dict] = []
        self._script: list[str] = []
        self._rejects: dict[str, int] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                fake._handle(self)

            def do_GET(self):  # noqa: N802
                fake._handle(self)

            def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}:{port}", daemon=True)
        self._thread.start()

    # ---- control -------------------------------------------------------------
    def script(self, entries: list[str]) -> None:
        """Queue outcomes for the next requests, one entry each (see the module docstring)."""
        with self._lock:
            self._script.extend(str(entry) for entry in entries)

    def clear(self) -> None:
        """Drop the outcomes still scripted: every request from now on gets the normal answer."""
        with self._lock:
            self._script.clear()

    def reject(self, number: str, code: int) -> None:
        """Fail every message to `number` permanently with the provider's `code`."""
        with self._lock:
            self._rejects[number] = int(code)

    def close(self) -> None:
        """Stop the server (and wake any request that is sitting out a 'timeout')."""
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- handling ------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        with self._lock:
            entry = self._script.pop(0) if self._script else "ok"
            record = {"method": h.command, "path": urlsplit(h.path).path, "headers": dict(h.headers.items()),
                      "form": form, "outcome": entry}
            self.requests.append(record)
        if entry == "timeout":
            self._closing.wait(self.timeout_sleep)
            h.close_connection = True  # hang up without a word
            return
        if entry == "garbled":
            self._answer(h, 201, _GARBLED, "text/html; charset=utf-8")
            return
        if entry.isdigit() and len(entry) == 3:
            self._error(h, int(entry))
            return
        self._serve(h, urlsplit(h.path).path, form, entry)

    def _accept(self, to: str, body: str, sender: str | None, message_id: str) -> None:
        with self._lock:
            self.accepted.append({"to": to, "body": body, "from": sender, "id": message_id})
            self.accepted_at.append(time.time())

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
                headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    @abstractmethod
    def _error(self, h: BaseHTTPRequestHandler, status: int) -> None:
        """Answer a scripted HTTP error the way this provider does."""

    @abstractmethod
    def _serve(self, h: BaseHTTPRequestHandler, path: str, form: dict, entry: str) -> None:
        """Answer one request the way this provider does (`entry`: the scripted behaviour)."""


class FakeTwilio(_FakeProvider):
    """Twilio's `POST /2010-04-01/Accounts/<AccountSid>/Messages.json`, with HTTP Basic auth; its Calls
    API (`POST .../Calls.json`: the call is recorded in `calls`, as the SDK's `calls.create` sends it,
    and answered `queued`, as Twilio does before it rings); and recordings (`GET
    .../Recordings/<sid>`, what a test put in `recordings`, WAV as Twilio serves it)."""

    _PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
    _CALLS = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Calls\.json$")
    _RECORDING = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Recordings/(?P<rec>RE[0-9a-f]+)$")

    def __init__(self, account_sid: str | None = None, auth_token: str = "fake-twilio-token",
                 from_number: str = "+15005550006", timeout_sleep: float = 1.0):
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token
        self.from_number = from_number
        self.calls: list[dict] = []
        self.recordings: dict[str, bytes] = {}
        super().__init__(timeout_sleep)

    def recording(self, data: bytes) -> str:
        """Keep a recording as the platform would after <Record>; its RecordingUrl."""
        sid = "RE" + secrets.token_hex(16)
        self.recordings[sid] = data
        return f"{self.url}/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    def env(self, **extra: str) -> dict:
        """Environment for `Settings.from_env(environ=...)` pointing the Twilio provider here."""
        return {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": self.account_sid,
                "TWILIO_AUTH_TOKEN": self.auth_token, "TWILIO_FROM": self.from_number,
                "TWILIO_API_URL": self.url, **extra}

    def _json(self, h, status: int, payload: dict, headers: dict | None = None) -> None:
        self._answer(h, status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def _twilio_error(self, h, code: int, message: str | None = None) -> None:
        status, default = TWILIO_ERRORS.get(code, (400, "Bad Request"))
        payload = {"code": code, "message": message or default,
                   "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
        headers = {}
        if code == 20003:
            payload["detail"] = "Your AccountSid or AuthToken was incorrect."
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        self._json(h, status, payload, headers)

    def _error(self, h, status: int) -> None:
        code = {401: 20003, 404: 20404, 429: 20429}.get(status, 20500 if status >= 500 else 21211)
        payload = {"code": code, "message": TWILIO_ERRORS.get(code, (status, "Error"))[1],
                   "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
        self._json(h, status, payload)

    def _authorised(self, h) -> bool:
        header = h.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (secrets.compare_digest(user.encode(), self.account_sid.encode())
                and secrets.compare_digest(password.encode(), self.auth_token.encode()))

    def _serve(self, h, path: str, form: dict, entry: str) -> None:
        match = self._PATH.match(path)
        if not self._authorised(h):
            self._twilio_error(h, 20003)
            return
        recording = self._RECORDING.match(path)
        if h.command == "GET" and recording and recording["sid"] == self.account_sid:
            if recording["rec"] not in self.recordings:
                self._twilio_error(h, 20404)
            else:
                self._answer(h, 200, self.recordings[recording["rec"]], "audio/x-wav")
            return
        calls = self._CALLS.match(path)
        if h.command == "POST" and calls and calls["sid"] == self.account_sid:
            self._call(h, form)
            return
        if h.command != "POST" or not match or match["sid"] != self.account_sid:
            self._twilio_error(h, 20404)
            return
        to, sender, body = form.get("To"), form.get("From"), form.get("Body")
        if entry == "rfc9457":
            problem = {"type": "https://www.twilio.com/docs/errors/21211", "title": "Invalid 'To' Phone Number",
                       "status": 400, "code": 21211, "detail": f"{to!r} is not a valid phone number"}
            self._answer(h, 400, json.dumps(problem).encode(), "application/problem+json")
            return
        if not to:
            self._twilio_error(h, 21604)
        elif not sender:
            self._twilio_error(h, 21603)
        elif not body:
            self._twilio_error(h, 21602)
        elif not E164.fullmatch(to):
            self._twilio_error(h, 21211, f"Invalid 'To' Phone Number: {to[:40]}")
        elif not E164.fullmatch(sender):
            self._twilio_error(h, 21212, f"Invalid 'From' Phone Number: {sender[:40]}")
        elif to in self._rejects:
            self._twilio_error(h, self._rejects[to])
        else:
            sid = "SM" + secrets.token_hex(16)
            now = format_datetime(datetime.now(timezone.utc), usegmt=False)
            uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
            resource = {
                "account_sid": self.account_sid, "api_version": "2010-04-01", "body": body,
                "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
                "error_code": None, "error_message": None, "from": sender, "messaging_service_sid": None,
                "num_media": "0", "num_segments": str(_segments(body)), "price": None, "price_unit": "USD",
                "sid": sid, "status": "queued", "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
                "to": to, "uri": uri,
            }
            self._accept(to, body, sender, sid)
            self._json(h, 201, resource)


    def _call(self, h, form: dict) -> None:
        """Place an outbound call (Twilio answers 201 with the call, `queued`, and rings it later)."""
        to, sender, url = form.get("To"), form.get("From"), form.get("Url")
        if not to or not E164.fullmatch(to):
            self._twilio_error(h, 21211, f"Invalid 'To' Phone Number: {(to or '')[:40]}")
        elif not sender or not E164.fullmatch(sender):
            self._twilio_error(h, 21212, f"Invalid 'From' Phone Number: {(sender or '')[:40]}")
        elif not url and not form.get("Twiml"):
            self._twilio_error(h, 21205, "Url parameter is required")
        elif to in self._rejects:
            self._twilio_error(h, self._rejects[to])
        else:
            sid = "CA" + secrets.token_hex(16)
            now = format_datetime(datetime.now(UTC), usegmt=False)
            with self._lock:
                self.calls.append(dict(form, sid=sid))
            self._json(h, 201, {"sid": sid, "account_sid": self.account_sid, "to": to, "from": sender,
                                "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
                                "date_created": now, "date_updated": now, "start_time": None, "end_time": None,
                                "duration": None, "price": None, "parent_call_sid": None,
                                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"})


class FakeAfricasTalking(_FakeProvider):
    """Africa's Talking's `POST /version1/messaging`, authenticated by the `apiKey` header."""

    def __init__(self, username: str = "hotline-test", api_key: str = "fake-at-api-key",
                 sender_id: str | None = "HOTLINE", sender_ids: set[str] | None = None,
                 timeout_sleep: float = 1.0):
        self.username = username
        self.api_key = api_key
        self.sender_id = sender_id
        self.sender_ids = sender_ids
        super().__init__(timeout_sleep)

    def env(self, **extra: str) -> dict:
        """Environment for `Settings.from_env(environ=...)` pointing the AT provider here."""
        env = {"SMS_PROVIDER": "africastalking", "AT_USERNAME": self.username, "AT_API_KEY": self.api_key,
               "AT_API_URL": self.url}
        if self.sender_id:
            env["AT_FROM"] = self.sender_id
        return {**env, **extra}

    def _text(self, h, status: int, text: str) -> None:
        self._answer(h, status, text.encode(), "text/plain; charset=utf-8")

    def _error(self, h, status: int) -> None:
        messages = {401: "The supplied authentication is invalid", 429: "Too Many Requests"}
        self._text(h, status, messages.get(status, "Internal Server Error" if status >= 500 else "Bad Request"))

    def _serve(self, h, path: str, form: dict, entry: str) -> None:
        key = h.headers.get("apiKey") or ""
        if not secrets.compare_digest(key.encode(), self.api_key.encode()) or form.get("username") != self.username:
            self._text(h, 401, "The supplied authentication is invalid")
            return
        if h.command != "POST" or path != "/version1/messaging":
            self._text(h, 404, "Not Found")
            return
        message, sender = form.get("message"), form.get("from")
        numbers = [n.strip() for n in (form.get("to") or "").split(",") if n.strip()]
        if not numbers or message is None:
            self._text(h, 400, "Request is missing required form field 'to'" if not numbers
                       else "Request is missing required form field 'message'")
            return
        if sender and self.sender_ids is not None and sender not in self.sender_ids:
            payload = {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}
        else:
            recipients, sent = [], 0
            for number in numbers:
                code = self._rejects.get(number) or (101 if E164.fullmatch(number) else 403)
                if code in (100, 101, 102):
                    message_id = "ATXid_" + secrets.token_hex(16)
                    cost = f"KES {0.8 * _segments(message):.4f}"
                    sent += 1
                    self._accept(number, message, sender, message_id)
                else:
                    message_id, cost = "None", "0"
                recipients.append({"statusCode": code, "number": number, "status": AT_STATUS.get(code, "Failed"),
                                   "cost": cost, "messageId": message_id})
            total = f"KES {0.8 * sent * _segments(message):.4f}" if sent else "0"
            payload = {"SMSMessageData": {"Message": f"Sent to {sent}/{len(numbers)} Total Cost: {total}",
                                          "Recipients": recipients}}
        content_type = {"text": "text/plain; charset=utf-8",
                        "json-charset": "application/json; charset=utf-8"}.get(entry, "application/json")
        self._answer(h, 201, json.dumps(payload).encode(), content_type)


def _segments(body: str) -> int:
    """SMS parts for `body`: GSM-7-ish ASCII at 160/153, anything else UCS-2 at 70/67."""
    ascii_only = all(ord(c) < 128 for c in body)
    single, part = (160, 153) if ascii_only else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)


def most_in_any_window(times: list[float], seconds: float = 1.0) -> int:
    """The most of these moments (e.g. a fake's accepted_at) that fall within any `seconds` window."""
    times, most, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def loopback_only(monkeypatch) -> None:
    """Never through a proxy, never an edge/region host rewrite: requests go to 127.0.0.1 as given."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "TWILIO_EDGE", "TWILIO_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


class FakeKannel(_FakeProvider):
    """Kannel's smsbox sendsms interface: `GET /cgi-bin/sendsms?username&password&from&to&text...`,
    202 `0: Accepted for delivery`, 403 for a wrong user. Every accepted message's `dlr-url` is kept
    (`dlr_urls`), for a test to call back as Kannel would (with `%d` filled in)."""

    def __init__(self, username: str = "line", password: str = "fake-kannel-password", timeout_sleep: float = 1.0):
        self.username, self.password = username, password
        self.dlr_urls: list[str] = []
        super().__init__(timeout_sleep)

    def env(self, **extra: str) -> dict:
        """Environment pointing the Kannel provider here."""
        return {"SMS_PROVIDER": "kannel", "KANNEL_SEND_URL": self.url + "/cgi-bin/sendsms",
                "KANNEL_USERNAME": self.username, "KANNEL_PASSWORD": self.password, "KANNEL_FROM": "8181", **extra}

    def _error(self, h, status: int) -> None:
        self._answer(h, status, b"Internal error", "text/plain")

    def _serve(self, h, path: str, form: dict, entry: str) -> None:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(h.path).query, keep_blank_values=True).items()}
        with self._lock:
            self.requests[-1]["query"] = query
        if path != "/cgi-bin/sendsms":
            self._answer(h, 404, b"Unknown request", "text/plain")
            return
        if query.get("username") != self.username or query.get("password") != self.password:
            self._answer(h, 403, b"Authorization failed for sendsms", "text/plain")
            return
        if not query.get("to") or "text" not in query:
            self._answer(h, 400, b"Missing receiver number", "text/plain")
            return
        self._accept(query["to"], query["text"], query.get("from"), str(len(self.accepted) + 1))
        if query.get("dlr-url"):
            with self._lock:
                self.dlr_urls.append(query["dlr-url"])
        self._answer(h, 202, b"0: Accepted for delivery", "text/plain")
