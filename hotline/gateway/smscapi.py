"""A tiny HTTP API on loopback to drive the SMSC simulator by hand (curl) or from other programs:
POST /mo (a phone sends), GET /mt (what Kannel submitted), POST /receipt (a delivery receipt)."""
from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hotline.gateway import LOOPBACK
from hotline.gateway.smsc import SMSC, SMSCError

MAX_BODY = 64 * 1024
"""Largest request body read, in bytes."""
HELP = """\
SMSC simulator (SMPP 3.4 on {smpp}). Fields as a form or as JSON:
  POST /mo       sender=+855…  text=…  [to=<short code>]  [coding=0|8]   a phone sends an SMS
  GET  /mt                                                             what Kannel submitted
  POST /receipt  message_id=…  [stat=DELIVRD|UNDELIV|REJECTD|EXPIRED|…]  [err=000]   a delivery receipt
"""


class SMSCApi:
    """Serves the API for one SMSC on a free loopback port, from a background thread."""

    def __init__(self, smsc: SMSC, short_code: str, port: int = 0):
        self.smsc, self.short_code = smsc, short_code
        self.server = ThreadingHTTPServer((LOOPBACK, port), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="smsc-api", daemon=True)

    def start(self) -> "SMSCApi":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, path: str, fields: dict[str, str]) -> tuple[int, object]:
        """One call: its HTTP status and what to answer (a dict as JSON, a str as text)."""
        try:
            if method == "GET" and path == "/":
                return 200, HELP.format(smpp=f"{self.smsc.host}:{self.smsc.port}")
            if method == "GET" and path == "/mt":
                return 200, {"messages": [m.as_dict() for m in self.smsc.submitted()]}
            if method == "POST" and path == "/mo":
                if not fields.get("sender") or "text" not in fields:
                    return 400, {"error": "sender and text are required"}
                coding = int(fields["coding"]) if fields.get("coding") else None
                statuses = self.smsc.send_mo(fields["sender"], fields["text"], fields.get("to") or self.short_code,
                                             data_coding=coding)
                return 200, {"parts": len(statuses), "command_status": statuses}
            if method == "POST" and path == "/receipt":
                if not fields.get("message_id"):
                    return 400, {"error": "message_id is required"}
                status = self.smsc.send_receipt(fields["message_id"], fields.get("stat") or "DELIVRD",
                                                fields.get("err") or "000")
                return 200, {"command_status": status}
        except (SMSCError, ValueError) as exc:
            return 409, {"error": str(exc)}
        return 404, {"error": f"no {method} {path}: GET / lists the calls"}


def _handler(api: SMSCApi) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one API."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self._answer(*api.handle("GET", urllib.parse.urlsplit(self.path).path, self._query()))

        def do_POST(self):
            fields = self._query()
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            if body.lstrip().startswith("{"):
                try:
                    fields.update({k: str(v) for k, v in json.loads(body).items()})
                except (ValueError, AttributeError):
                    self._answer(400, {"error": "the body is not a JSON object"})
                    return
            else:
                fields.update(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))
            self._answer(*api.handle("POST", urllib.parse.urlsplit(self.path).path, fields))

        def _query(self) -> dict[str, str]:
            return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True))

        def _answer(self, status: int, payload) -> None:
            if isinstance(payload, str):
                data, kind = payload.encode("utf-8"), "text/plain; charset=utf-8"
            else:
                data, kind = json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # quiet: the terminal is the operator's
            pass

    return Handler
