"""Adapter tests as tables: the providers' real request bodies (tests/data/provider-payloads.json)
and hostile ones, each with the status the contract expects. Nothing is stored for a 4xx."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from hotline.models import InboundMessage, Report
from tests.kit import AT_EVENT, AT_SMS, AT_USSD, PAYLOADS, TW_SMS, post, replace

# (label, provider, path, body, signature/token mode, expected status, expected body fragment)
HOSTILE = [
    ("twilio wrong token", "twilio", "/webhooks/twilio/sms", TW_SMS, "wrong-token", 403, "X-Twilio-Signature"),
    ("twilio signed for another URL", "twilio", "/webhooks/twilio/sms", TW_SMS, "other-url", 403, "X-Twilio-Signature"),
    ("twilio body changed after signing", "twilio", "/webhooks/twilio/sms", TW_SMS, "tampered", 403, "X-Twilio-Signature"),
    ("twilio sender not a number", "twilio", "/webhooks/twilio/sms", replace(TW_SMS, From="whatsapp:+85512345678"), "valid", 400, "From"),
    ("twilio sender letters", "twilio", "/webhooks/twilio/sms", replace(TW_SMS, From="MTN"), "valid", 400, "From"),
    ("twilio no MessageSid", "twilio", "/webhooks/twilio/sms", replace(TW_SMS, MessageSid=None), "valid", 400, "MessageSid"),
    ("twilio body too long", "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body="x" * 5000), "valid", 400, "Body"),
    ("twilio enormous request", "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body="x" * 200_000), "valid", 413, ""),
    ("twilio binary body", "twilio", "/webhooks/twilio/sms", b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 50, "valid", 403, "X-Twilio-Signature"),
    ("twilio status unknown", "twilio", "/webhooks/twilio/status", "MessageSid=SM1&MessageStatus=exploded", "valid", 400, "MessageStatus"),
    ("twilio status no sid", "twilio", "/webhooks/twilio/status", "MessageStatus=sent", "valid", 400, "MessageSid"),
    ("twilio status forged", "twilio", "/webhooks/twilio/status", "MessageSid=SM1&MessageStatus=sent", "forged", 403, ""),
    ("at sms no token", "africastalking", "/webhooks/africastalking/sms", AT_SMS, "none", 403, "token"),
    ("at sms wrong token", "africastalking", "/webhooks/africastalking/sms", AT_SMS, "wrong-token", 403, "token"),
    ("at sms sender not a number", "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, **{"from": "+12ab"}), "valid", 400, "from"),
    ("at sms impossible date", "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, date="2026-02-30 06:04:45"), "valid", 400, "date"),
    ("at sms no id", "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, id=None), "valid", 400, "id"),
    ("at sms json body", "africastalking", "/webhooks/africastalking/sms", '{"from": "+85512345678"}', "valid-json", 400, "id"),
    ("at delivery wrong token", "africastalking", "/webhooks/africastalking/delivery", "id=x&status=Success", "wrong-token", 403, "token"),
    ("at delivery no id", "africastalking", "/webhooks/africastalking/delivery", "status=Success", "valid", 400, "id"),
    ("at ussd no session", "africastalking", "/webhooks/africastalking/ussd", replace(AT_USSD, sessionId=None), "valid", 400, "sessionId"),
    ("at ussd no text field", "africastalking", "/webhooks/africastalking/ussd", replace(AT_USSD, text=None), "valid", 400, "text"),
    ("at ussd sender not a number", "africastalking", "/webhooks/africastalking/ussd", replace(AT_USSD, phoneNumber="12345"), "valid", 400, "phoneNumber"),
    ("at ussd wrong token", "africastalking", "/webhooks/africastalking/ussd", AT_USSD, "wrong-token", 403, "token"),
    ("at ussd enormous input", "africastalking", "/webhooks/africastalking/ussd", replace(AT_USSD, text="1*" * 1500), "valid", 400, "text"),
    ("at ussd event unknown status", "africastalking", "/webhooks/africastalking/ussd/events", replace(AT_EVENT, status="Exploded"), "valid", 400, "status"),
    ("at ussd event no session", "africastalking", "/webhooks/africastalking/ussd/events", replace(AT_EVENT, sessionId=None), "valid", 400, "sessionId"),
    ("at ussd event wrong token", "africastalking", "/webhooks/africastalking/ussd/events", AT_EVENT, "wrong-token", 403, "token"),
]

GOOD = [
    ("twilio kh sms", "twilio", "/webhooks/twilio/sms", TW_SMS, "valid", 200, "<Response>"),
    ("twilio sms with control chars", "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body="hi\x00\x07 there friend"), "valid", 200, "<Message>"),
    ("twilio status with port-less URL", "twilio", "/webhooks/twilio/status", "MessageSid=SM9&MessageStatus=delivered", "valid", 200, ""),
    ("at sms kh", "africastalking", "/webhooks/africastalking/sms", AT_SMS, "valid", 200, ""),
    ("at sms NUL in text", "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, text="a\x00b c d"), "valid", 200, ""),
    ("at ussd first screen", "africastalking", "/webhooks/africastalking/ussd", AT_USSD, "valid", 200, "CON "),
    # A step that stores a report under the longest session id the adapter takes (its id once overflowed
    # the 128 characters PostgreSQL keeps, and the report was refused).
    ("at ussd storing step, 128-character session", "africastalking", "/webhooks/africastalking/ussd",
     replace(AT_USSD, sessionId="S" * 128, text="3"), "valid", 200, "CON "),
    ("at ussd event incomplete", "africastalking", "/webhooks/africastalking/ussd/events", AT_EVENT, "valid", 200, ""),
    ("at ussd event success", "africastalking", "/webhooks/africastalking/ussd/events", replace(AT_EVENT, status="Success"), "valid", 200, ""),
    ("at delivery unknown id", "africastalking", "/webhooks/africastalking/delivery", "id=nobody&status=Failed&failureReason=UserInBlackList", "valid", 200, ""),
]


def _counts(services) -> tuple[int, int]:
    """(inbound messages, reports) stored."""
    with services.Session() as session:
        return (session.scalar(select(func.count()).select_from(InboundMessage)),
                session.scalar(select(func.count()).select_from(Report)))


def _payload_rows():
    """The shared provider payload rows as test parameters."""
    for row in PAYLOADS:
        mode = row.get("signature") if row["provider"] == "twilio" else ("valid" if row.get("token") == "valid" else "none")
        yield pytest.param(row["provider"], row["path"], row["body"], mode, row["expect_status"],
                           row.get("expect_body_prefix", ""), id=row["label"])


@pytest.mark.parametrize("provider,path,body,mode,status,prefix", list(_payload_rows()))
def test_provider_payloads(client, services, provider, path, body, mode, status, prefix):
    """Every shared payload gets the contracted status; nothing is stored for a refusal."""
    before = _counts(services)
    response = post(client, provider, path, body, mode)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_data(as_text=True).startswith(prefix)
    if status >= 400:
        assert _counts(services) == before


@pytest.mark.parametrize("label,provider,path,body,mode,status,fragment", HOSTILE + GOOD, ids=[r[0] for r in HOSTILE + GOOD])
def test_rows(client, services, label, provider, path, body, mode, status, fragment):
    """Hostile rows are refused with a 4xx naming the problem and store nothing; good rows pass."""
    before = _counts(services)
    response = post(client, provider, path, body, mode)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert fragment in text
    if status >= 400:
        assert _counts(services) == before


def test_hostile_rows_are_a_third():
    """At least a third of the adapter rows are hostile."""
    hostile = len(HOSTILE) + sum(1 for r in PAYLOADS if r["expect_status"] >= 400)
    assert hostile * 3 >= len(HOSTILE) + len(GOOD) + len(PAYLOADS)


def test_twilio_sdk_vector():
    """The SDK's own test vector (docs/channels.md) holds for the validator we use."""
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert RequestValidator("12345").validate(url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_twilio_does_not_keep_reporter_location(client, services):
    """FromCity/FromState/FromZip never reach storage."""
    body = replace(TW_SMS, FromCity="SVAY RIENG", FromState="SR", FromZip="20001", Body="a worrying offer today")
    assert post(client, "twilio", "/webhooks/twilio/sms", body, "valid").status_code == 200
    with services.Session() as session:
        report = session.scalars(select(Report)).one()
        dump = json.dumps(report.answers) + str(report.area_code)
    for value in ("SVAY RIENG", "20001"):
        assert value not in dump


def test_get_is_not_allowed(client):
    """Webhooks only take POST."""
    assert client.get("/webhooks/twilio/sms").status_code == 405
