"""The 64 KiB request limit holds for bodies that do not say their length (Transfer-Encoding:
chunked) on every route: webhooks, the partner API and the console answer 413 past it, and a
body within it is read whole. In process (a WSGI environ as a dechunking server builds it) and
over real HTTP against gunicorn, as the Procfile runs the line."""
from __future__ import annotations

import http.client
import os
import urllib.parse

import pytest
from sqlalchemy import select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from hotline import MAX_REQUEST_BYTES
from hotline.inbound.intake import step_key
from hotline.models import InboundMessage, ReportEvent
from tests.kit import (
    AT_SMS,
    AT_TOKEN,
    NGO,
    REPORTER,
    TEST_ENV,
    csrf,
    direct_report,
    free_port,
    replace,
    sign_in,
    start_gunicorn,
)

FORM = "application/x-www-form-urlencoded"


def chunked(app, path: str, body: bytes, content_type: str, headers: dict | None = None, cookies: str | None = None):
    """POST `body` as a server that removed the chunking hands it on: no CONTENT_LENGTH, the stream
    marked terminated (`wsgi.input_terminated`). The status code and the body."""
    environ = EnvironBuilder(path=path.split("?")[0], query_string=path.partition("?")[2], method="POST", data=body,
                             content_type=content_type, headers=headers or {}).get_environ()
    del environ["CONTENT_LENGTH"]
    environ.update({"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    if cookies:
        environ["HTTP_COOKIE"] = cookies
    app_iter, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), b"".join(app_iter)


def at_sms(text: str, sms_id: str) -> bytes:
    """An Africa's Talking inbound SMS carrying `text`."""
    return replace(AT_SMS, text=text, id=sms_id).encode()


def padded(body: bytes, size: int) -> bytes:
    """A form body made exactly `size` bytes long by a field nobody reads."""
    pad = b"&pad="
    return body + pad + b"x" * (size - len(body) - len(pad))


def _signed_in_cookie(app, services) -> tuple[str, str]:
    """A console session (its Cookie header) and a CSRF token of it."""
    client = app.test_client()
    sign_in(client, services, "staff", "admin")
    page = client.get("/console/").get_data(as_text=True)
    return f"session={client.get_cookie('session').value}", csrf(page)


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("NGO_API_TOKEN", NGO)


def test_a_chunked_body_past_the_limit_is_refused_on_every_route(app, services, token):
    number = direct_report(services)
    session, token_ = _signed_in_cookie(app, services)
    big = MAX_REQUEST_BYTES + 1
    routes = [
        (f"/webhooks/africastalking/sms?token={AT_TOKEN}", padded(at_sms("hello", "at-big"), big), FORM, {}, None),
        (f"/webhooks/africastalking/ussd?token={AT_TOKEN}", b"text=" + b"1" * big, FORM, {}, None),
        ("/webhooks/twilio/sms", b"Body=" + b"x" * big, FORM, {}, None),
        (f"/api/v1/reports/{number}/events", b'{"note": "' + b"x" * big + b'"}', "application/json",
         {"Authorization": f"Bearer {NGO}"}, None),
        ("/console/login", b"username=a&password=" + b"x" * big, FORM, {}, None),
        (f"/console/reports/{number}/notes", padded(f"csrf_token={token_}&note=hi".encode(), big), FORM, {}, session),
        (f"/console/reports/{number}/notes", b"--b\r\n" + b"x" * big, "multipart/form-data; boundary=b", {}, session),
    ]
    for path, body, content_type, headers, cookies in routes:
        status, answer = chunked(app, path, body, content_type, headers, cookies)
        assert status == 413, (path, status, answer[:200])
    with services.Session() as db:
        assert db.scalars(select(InboundMessage)).all() == []
        assert db.scalars(select(ReportEvent.kind).where(ReportEvent.kind == "note")).all() == []


def test_a_chunked_body_within_the_limit_is_read_whole(app, services, token):
    number = direct_report(services)
    session, token_ = _signed_in_cookie(app, services)
    whole = padded(at_sms("hello", "at-whole"), MAX_REQUEST_BYTES - 10) + b"&last=1234"
    assert len(whole) == MAX_REQUEST_BYTES                              # exactly at the limit: still whole
    status, answer = chunked(app, f"/webhooks/africastalking/sms?token={AT_TOKEN}", whole, FORM)
    assert status == 200, answer
    status, _ = chunked(app, f"/console/reports/{number}/notes", f"csrf_token={token_}&note=a+chunked+note".encode(),
                        FORM, cookies=session)
    assert status == 303
    status, answer = chunked(app, f"/api/v1/reports/{number}/events", b'{"note": "chunked from the API"}',
                             "application/json", {"Authorization": f"Bearer {NGO}"})
    assert status == 201, answer
    with services.Session() as db:
        assert db.scalars(select(InboundMessage.external_id)).all() == [
            step_key("at-whole", services.vault.lookup_hash(REPORTER))]
        notes = [e.data["note"] for e in db.scalars(select(ReportEvent).where(ReportEvent.kind == "note").order_by(ReportEvent.id))]
    assert notes == ["a chunked note", "chunked from the API"]


@pytest.fixture
def gunicorn(app, settings, tmp_path):
    """The line under gunicorn on a free loopback port (one worker), on this test's Redis and database."""
    port = free_port()
    env = dict(os.environ, **TEST_ENV, REDIS_URL=settings.redis_url, DATABASE_URL=settings.database_url)
    log = open(tmp_path / "gunicorn.log", "w")
    proc = start_gunicorn(port, env, log)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _post_chunked(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    """A real chunked POST (4 KiB chunks); the status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    chunks = (body[i:i + 4096] for i in range(0, len(body), 4096))
    conn.request("POST", path, body=chunks, headers={"Content-Type": FORM}, encode_chunked=True)
    response = conn.getresponse()
    return response.status, response.read()


def test_gunicorn_refuses_a_long_chunked_body_and_reads_a_short_one_whole(gunicorn, services):
    path = f"/webhooks/africastalking/sms?token={urllib.parse.quote(AT_TOKEN)}"
    status, answer = _post_chunked(gunicorn, path, padded(at_sms("hello", "at-gunicorn-big"), 100 * 1024))
    assert status == 413, answer
    status, answer = _post_chunked(gunicorn, path, padded(at_sms("hello", "at-gunicorn"), 20 * 1024) + b"&last=1")
    assert status == 200, answer
    with services.Session() as db:
        assert db.scalars(select(InboundMessage.external_id)).all() == [
            step_key("at-gunicorn", services.vault.lookup_hash(REPORTER))]
