"""Providers as plug-ins: every module registered once, each owning its settings, and every
provider's webhooks run through one table of request rows that asserts what the adapter parsed
(text, sender, id, session, the line's number) or the status it read, as courier's handler tests
do; about half the rows are hostile."""
from __future__ import annotations

import importlib
import pkgutil
import urllib.parse

import pytest

from hotline import channels
from hotline.channels.base import Inbound, Provider, SessionEnd, StatusUpdate
from hotline.inbound import webhooks
from hotline.outbound import means as means_registry
from tests.kit import AT_TOKEN, BASE, TWILIO_TOKEN

KHMER = "សួស្ដី ខ្ញុំចង់រាយការណ៍"
KANNEL_TOKEN = "test-kannel-token"


def test_every_provider_module_is_registered_exactly_once():
    found = set()
    for info in pkgutil.iter_modules(channels.__path__):
        module = importlib.import_module(f"hotline.channels.{info.name}")
        if isinstance(getattr(module, "PROVIDER", None), Provider):
            found.add(module.PROVIDER.slug)
            assert channels.PROVIDERS[module.PROVIDER.slug] is module.PROVIDER
            assert module.PROVIDER.title, f"{module.PROVIDER.slug} needs a title for people"
    assert found == set(channels.PROVIDERS) == {"console", "twilio", "africastalking", "kannel"}
    with pytest.raises(ValueError, match="registered twice"):
        channels.register(channels.get("kannel"))


def test_every_means_module_is_registered_exactly_once():
    assert set(means_registry.MEANS) == {"sms", "webhook", "email"}
    with pytest.raises(ValueError, match="registered twice"):
        means_registry.register(means_registry.MEANS["sms"])


def _twilio_signature(path: str, form: dict) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(TWILIO_TOKEN).compute_signature(BASE + path, form)


def _kannel_query(**fields) -> str:
    """A get-url query as Kannel writes it, `message` given as raw bytes."""
    message = fields.pop("message", None)
    query = urllib.parse.urlencode({"token": KANNEL_TOKEN, **fields})
    if message is not None:
        query += "&message=" + urllib.parse.quote_from_bytes(message)
    return query


TW_FORM = {"MessageSid": "SMab", "From": "+85512345678", "To": "+85512345000", "Body": "hello line",
           "AccountSid": "AC1", "FromCity": "Phnom Penh"}
AT_SMS_FORM = {"id": "at-9", "from": "+85512345678", "to": "21512", "text": "hello", "date": "2026-01-01 06:04:45"}
AT_USSD_FORM = {"sessionId": "ATUid_9", "phoneNumber": "+85512345678", "serviceCode": "*384*123#", "text": "1*14"}

# (label, provider, method, path, query, form, expected status, what the adapter must have read)
ROWS = [
    # ---- Twilio (and Somleng, which writes numbers without '+')
    ("twilio sms", "twilio", "POST", "/webhooks/twilio/sms", "", TW_FORM, 200,
     Inbound("twilio", "sms", "SMab", "+85512345678", "hello line", to="+85512345000")),
    ("somleng sms, numbers without +", "twilio", "POST", "/webhooks/twilio/sms", "",
     {**TW_FORM, "From": "85512345678", "To": "1294"}, 200,
     Inbound("twilio", "sms", "SMab", "+85512345678", "hello line", to="1294")),
    ("somleng sms as its MessageSerializer writes it: UUID sids", "twilio", "POST", "/webhooks/twilio/sms", "",
     {"MessageSid": "6e0b2f4c-3a1d-4a39-9c57-0f7a0f1c2b11", "AccountSid": "c3c1e7a4-7b0e-4d8e-9b3a-5d2e1f0a9c88",
      "From": "+85512345678", "To": "1294", "Body": "hello line", "NumMedia": "0", "ReferralNumMedia": "0",
      "ApiVersion": "2010-04-01"}, 200,
     Inbound("twilio", "sms", "6e0b2f4c-3a1d-4a39-9c57-0f7a0f1c2b11", "+85512345678", "hello line", to="1294")),
    ("twilio status delivered", "twilio", "POST", "/webhooks/twilio/status", "",
     {"MessageSid": "SMab", "MessageStatus": "delivered"}, 200, StatusUpdate("twilio", "SMab", "delivered")),
    ("twilio status unsubscribed", "twilio", "POST", "/webhooks/twilio/status", "",
     {"MessageSid": "SMab", "MessageStatus": "failed", "ErrorCode": "21610"}, 200,
     StatusUpdate("twilio", "SMab", "failed", "twilio 21610", permanent=True, opted_out=True)),
    ("twilio local sender", "twilio", "POST", "/webhooks/twilio/sms", "", {**TW_FORM, "From": "012345678"}, 400,
     "From"),
    ("twilio no body sid", "twilio", "POST", "/webhooks/twilio/sms", "", {k: v for k, v in TW_FORM.items()
                                                                          if k != "MessageSid"}, 400, "MessageSid"),
    ("twilio unknown status", "twilio", "POST", "/webhooks/twilio/status", "",
     {"MessageSid": "SMab", "MessageStatus": "lost"}, 400, "MessageStatus"),
    # ---- Africa's Talking
    ("at sms", "africastalking", "POST", "/webhooks/africastalking/sms", f"token={AT_TOKEN}", AT_SMS_FORM, 200,
     Inbound("africastalking", "sms", "at-9", "+85512345678", "hello", inline_reply=False, to="21512")),
    ("at ussd", "africastalking", "POST", "/webhooks/africastalking/ussd", f"token={AT_TOKEN}", AT_USSD_FORM, 200,
     Inbound("africastalking", "ussd", None, "+85512345678", "1*14", session_id="ATUid_9", separator="*")),
    ("at ussd dropped", "africastalking", "POST", "/webhooks/africastalking/ussd/events", f"token={AT_TOKEN}",
     {"sessionId": "ATUid_9", "phoneNumber": "+85512345678", "status": "Incomplete"}, 200,
     SessionEnd("africastalking", "ATUid_9", "+85512345678", dropped=True)),
    ("at ussd ended", "africastalking", "POST", "/webhooks/africastalking/ussd/events", f"token={AT_TOKEN}",
     {"sessionId": "ATUid_9", "phoneNumber": "+85512345678", "status": "Success"}, 200,
     SessionEnd("africastalking", "ATUid_9", "+85512345678", dropped=False)),
    ("at delivery blacklisted", "africastalking", "POST", "/webhooks/africastalking/delivery", f"token={AT_TOKEN}",
     {"id": "ATXid_1", "status": "Rejected", "failureReason": "UserInBlackList"}, 200,
     StatusUpdate("africastalking", "ATXid_1", "failed", "africastalking UserInBlackList", permanent=True,
                  opted_out=True)),
    ("at no token", "africastalking", "POST", "/webhooks/africastalking/sms", "", AT_SMS_FORM, 403, "token"),
    ("at bad date", "africastalking", "POST", "/webhooks/africastalking/sms", f"token={AT_TOKEN}",
     {**AT_SMS_FORM, "date": "2026-13-01 00:00:00"}, 400, "date"),
    # ---- Kannel: get-url (fields in the query), post-url (the same, and its copy of the text in the body)
    ("kannel english get-url", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k1", sender="85512345678", to="8181", ts="1764450000", coding="0", charset="UTF-8",
                   message=b"hello line"), {}, 200,
     Inbound("kannel", "sms", "k1", "+85512345678", "hello line", inline_reply=False, to="8181")),
    ("kannel khmer as UTF-16BE", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k2", sender="+85512345678", coding="2", charset="UTF-16BE", message=KHMER.encode("utf-16-be")),
     {}, 200, Inbound("kannel", "sms", "k2", "+85512345678", KHMER, inline_reply=False)),
    ("kannel khmer, coding 2 without a charset", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k3", sender="012345678", coding="2", message=KHMER.encode("utf-16-be")), {}, 200,
     Inbound("kannel", "sms", "k3", "+85512345678", KHMER, inline_reply=False)),
    ("kannel khmer recoded to UTF-8 (mo-recode)", "kannel", "POST", "/webhooks/kannel/sms",
     _kannel_query(id="k4", sender="85512345678", coding="2", charset="UTF-8", message=KHMER.encode()), {}, 200,
     Inbound("kannel", "sms", "k4", "+85512345678", KHMER, inline_reply=False)),
    ("kannel form POST", "kannel", "POST", "/webhooks/kannel/sms", f"token={KANNEL_TOKEN}",
     {"id": "k5", "sender": "+85512345678", "message": "from a form"}, 200,
     Inbound("kannel", "sms", "k5", "+85512345678", "from a form", inline_reply=False)),
    ("kannel delivered", "kannel", "GET", "/webhooks/kannel/status", f"token={KANNEL_TOKEN}&id=41&status=1", {}, 200,
     StatusUpdate("kannel", "41", "delivered")),
    ("kannel rejected by the SMSC", "kannel", "POST", "/webhooks/kannel/status",
     f"token={KANNEL_TOKEN}&id=41&status=16", {}, 200,
     StatusUpdate("kannel", "41", "failed", "kannel delivery report 16", permanent=True)),
    ("kannel accepted by the SMSC", "kannel", "GET", "/webhooks/kannel/status", f"token={KANNEL_TOKEN}&id=41&status=8",
     {}, 200, StatusUpdate("kannel", "41", "sent")),
    ("kannel expired (32 + 2)", "kannel", "GET", "/webhooks/kannel/status", f"token={KANNEL_TOKEN}&id=41&status=34",
     {}, 200, StatusUpdate("kannel", "41", "failed", "kannel delivery report 34", permanent=True)),
    ("kannel unknown status", "kannel", "GET", "/webhooks/kannel/status", f"token={KANNEL_TOKEN}&id=41&status=64", {},
     400, "status"),
    ("kannel status not a number", "kannel", "GET", "/webhooks/kannel/status",
     f"token={KANNEL_TOKEN}&id=41&status=delivered", {}, 400, "status"),
    ("kannel wrong token", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k6", sender="+85512345678", message=b"x").replace(KANNEL_TOKEN, "guess"), {}, 403, "token"),
    ("kannel no id", "kannel", "GET", "/webhooks/kannel/sms", _kannel_query(sender="+85512345678", message=b"x"), {},
     400, "id"),
    ("kannel no message", "kannel", "GET", "/webhooks/kannel/sms", _kannel_query(id="k7", sender="+85512345678"), {},
     400, "message"),
    ("kannel sender not a number", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k8", sender="MTN", message=b"x"), {}, 400, "sender"),
    ("kannel broken UTF-16", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k9", sender="+85512345678", charset="UTF-16BE", message=b"\xd8\x00"), {}, 400, "message"),
    ("kannel unknown charset", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k10", sender="+85512345678", charset="KLINGON", message=b"x"), {}, 400, "charset"),
    ("kannel impossible coding", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k11", sender="+85512345678", coding="7", message=b"x"), {}, 400, "coding"),
    ("kannel time not a number", "kannel", "GET", "/webhooks/kannel/sms",
     _kannel_query(id="k12", sender="+85512345678", ts="yesterday", message=b"x"), {}, 400, "ts"),
    ("console takes no webhooks", "console", "POST", "/webhooks/console/sms", "", {}, 404, ""),
]


@pytest.fixture
def kannel_token(monkeypatch, services):
    """The line with KANNEL_WEBHOOK_TOKEN set, as a deployment behind Kannel has it."""
    config = services.settings.provider("kannel")
    from dataclasses import replace as dc_replace

    services.settings.providers = dict(services.settings.providers, kannel=dc_replace(config, webhook_token=KANNEL_TOKEN))


def _headers(provider: str, path: str, form: dict) -> dict:
    if provider == "twilio":
        return {"X-Twilio-Signature": _twilio_signature(path, form)}
    return {}


@pytest.mark.parametrize("label,provider,method,path,query,form,status,expected", ROWS, ids=[r[0] for r in ROWS])
def test_provider_rows(app, client, kannel_token, label, provider, method, path, query, form, status, expected):
    """The HTTP answer, and what the adapter read from the very same request."""
    url = path + (f"?{query}" if query else "")
    data = dict(form) if form else (KHMER.encode("utf-16-be") if method == "POST" and provider == "kannel" else None)
    response = client.open(url, method=method, data=data, headers=_headers(provider, path, form),
                           base_url="http://localhost")
    assert response.status_code == status, response.get_data(as_text=True)
    if status >= 400:
        assert expected in response.get_data(as_text=True)
        return
    endpoint = next(e for e in channels.get(provider).endpoints if f"/webhooks/{provider}/{e.path}" == path)
    with app.test_request_context(url, method=method, data=data, base_url="http://localhost"):
        parsed = endpoint.parse(webhooks._web_request(app.extensions["hotline"].directory.line.country))
    if isinstance(expected, Inbound) and expected.external_id is None:  # USSD ids are the session and input, digested
        assert parsed.external_id.startswith(f"ussd:{expected.session_id}:")
        parsed = replace_id(parsed, None)
    assert parsed == expected


def replace_id(inbound: Inbound, external_id):
    """The same message under another id."""
    from dataclasses import replace as dc_replace

    return dc_replace(inbound, external_id=external_id)


def test_rows_cover_every_provider_that_takes_webhooks():
    covered = {row[1] for row in ROWS}
    assert {slug for slug, p in channels.PROVIDERS.items() if p.endpoints} <= covered
    hostile = [row for row in ROWS if row[6] >= 400]
    assert len(hostile) >= len(ROWS) // 3


def test_a_provider_module_owns_its_settings():
    """Each module reads its own prefix (validated there); settings.py names none of them."""
    from hotline import settings as settings_module

    source = settings_module.__file__
    text = open(source, encoding="utf-8").read()
    for word in ("TWILIO_", "AT_", "KANNEL_", "twilio", "africastalking", "kannel"):
        assert word not in text, f"settings.py names {word!r}"
