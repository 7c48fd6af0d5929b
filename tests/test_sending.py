"""PROVIDER.send for Twilio and Africa's Talking, through the official SDKs, against local fakes.

Every request goes to 127.0.0.1 (tests/fakes.py). Client timeouts are capped in this file (see
`client_timeouts`) so a 'timeout' row costs a fraction of a second, and so no test can hang on the
Twilio SDK's default of no timeout at all.
"""
from __future__ import annotations

import pytest
from africastalking.Service import DEFAULT_TIMEOUT_S
from africastalking.SMS import SMSService
from twilio.http.http_client import TwilioHttpClient

from hotline.channels import africastalking as at_module
from hotline.channels import twilio as twilio_module
from hotline.channels.base import RECIPIENT, REFUSED, TRANSIENT, UNKNOWN, Outgoing, SendError, SendResult
from hotline.settings import Settings
from tests.fakes import FakeAfricasTalking, loopback_only

TWILIO = twilio_module.PROVIDER
AT = at_module.PROVIDER

TO = "+85512345678"
BODY = "Report 42 received. Reply 1 to confirm."
KHMER = "សូមអរគុណ! របាយការណ៍ត្រូវបានទទួល"

SAFE_TIMEOUT = 5.0
"""Cap on every client timeout in this file: nothing waits for ever."""

SHORT_TIMEOUT = 0.3
"""The client timeout of the 'timeout' rows (the fakes sit out 1 s before hanging up)."""


@pytest.fixture(autouse=True)
def client_timeouts(monkeypatch):
    """Cap the SDKs' request timeouts, and record the timeout each SDK call would have used.

    Twilio: every request goes through TwilioHttpClient.request(timeout=None -> self.timeout), so the
    cap wraps that (it holds however the provider builds its client). AT: SMSService.send takes
    `timeout=` (default DEFAULT_TIMEOUT_S); the cap is passed in. `seen["twilio"]` / `seen["at"]` are
    the timeouts the provider code itself asked for.
    """
    state = {"cap": SAFE_TIMEOUT, "twilio": [], "at": []}
    twilio_request, at_send = TwilioHttpClient.request, SMSService.send

    def request(self, *args, timeout=None, **kwargs):
        state["twilio"].append(timeout if timeout is not None else self.timeout)
        return twilio_request(self, *args, timeout=state["cap"], **kwargs)

    def send(self, *args, **kwargs):
        state["at"].append(kwargs.get("timeout", DEFAULT_TIMEOUT_S))
        kwargs["timeout"] = (state["cap"], state["cap"])
        return at_send(self, *args, **kwargs)

    monkeypatch.setattr(TwilioHttpClient, "request", request)
    monkeypatch.setattr(SMSService, "send", send)
    return state


def settings_for(fake, **extra) -> Settings:
    return Settings.from_env(environ=fake.env(**extra))


def send(provider, settings, to=TO, body=BODY) -> SendResult:
    """One SMS through the provider's own settings, as the line's sending does."""
    return provider.send(settings.provider(provider.slug), Outgoing(to, body, ref="1"), settings)


def failing(provider, settings, to=TO, body=BODY) -> SendError:
    with pytest.raises(SendError) as info:
        send(provider, settings, to, body)
    return info.value


# ---- Twilio ------------------------------------------------------------------------------------
def test_twilio_success(fake_twilio):
    callback = "https://line.example.org/webhooks/twilio/status"
    result = send(TWILIO, settings_for(fake_twilio, PUBLIC_BASE_URL="https://line.example.org"))
    assert isinstance(result, SendResult)
    assert result.status == "queued"
    assert result.provider_message_id.startswith("SM") and len(result.provider_message_id) == 34
    assert fake_twilio.accepted == [{"to": TO, "body": BODY, "from": fake_twilio.from_number,
                                     "id": result.provider_message_id}]
    [request] = fake_twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert request["form"] == {"To": TO, "From": fake_twilio.from_number, "Body": BODY, "StatusCallback": callback}


def test_twilio_success_without_callback_and_in_khmer(fake_twilio):
    result = send(TWILIO, settings_for(fake_twilio), TO, KHMER)
    assert fake_twilio.accepted == [{"to": TO, "body": KHMER, "from": fake_twilio.from_number,
                                     "id": result.provider_message_id}]
    assert "StatusCallback" not in fake_twilio.requests[0]["form"]


@pytest.mark.parametrize("entry", ["500", "503", "429", "timeout"])
def test_twilio_transient_failures(fake_twilio, client_timeouts, entry):
    client_timeouts["cap"] = SHORT_TIMEOUT
    fake_twilio.script([entry])
    error = failing(TWILIO, settings_for(fake_twilio))
    assert not error.permanent
    # No answer at all: it may have been taken, so the line never moves it to another provider.
    assert error.outcome == (UNKNOWN if entry == "timeout" else TRANSIENT)
    assert fake_twilio.accepted == []
    assert [r["outcome"] for r in fake_twilio.requests] == [entry]


def test_twilio_retry_after_failures_sends_once(fake_twilio, client_timeouts):
    client_timeouts["cap"] = SHORT_TIMEOUT
    fake_twilio.script(["500", "timeout", "ok"])
    settings = settings_for(fake_twilio)
    for _ in range(2):
        assert not failing(TWILIO, settings).permanent
    result = send(TWILIO, settings, TO, BODY)
    assert [m["id"] for m in fake_twilio.accepted] == [result.provider_message_id]
    assert len(fake_twilio.requests) == 3


@pytest.mark.parametrize("to", ["12345", "+855 12 345 678", "+85512abc678", "not a number"])
def test_twilio_invalid_number_is_permanent(fake_twilio, to):
    error = failing(TWILIO, settings_for(fake_twilio), to=to)
    assert error.permanent and "21211" in str(error)
    assert fake_twilio.accepted == []


@pytest.mark.parametrize("code", [21610, 21612, 21614, 21408])
def test_twilio_rejected_number_is_permanent(fake_twilio, code):
    fake_twilio.reject(TO, code)
    error = failing(TWILIO, settings_for(fake_twilio))
    assert error.permanent and str(code) in str(error)
    assert fake_twilio.accepted == []


def test_twilio_wrong_credentials(fake_twilio):
    """This account will not send it: another provider may (REFUSED)."""
    error = failing(TWILIO, settings_for(fake_twilio, TWILIO_AUTH_TOKEN="wrong-token"))
    assert "401" in str(error) and "20003" in str(error) and error.outcome == REFUSED
    assert fake_twilio.accepted == []
    assert len(fake_twilio.requests) == 1


def test_twilio_not_configured_is_permanent_and_sends_nothing(fake_twilio):
    error = failing(TWILIO, settings_for(fake_twilio, TWILIO_FROM=""))
    assert error.permanent
    assert fake_twilio.requests == []


def test_twilio_send_sets_a_finite_timeout(fake_twilio, client_timeouts):
    send(TWILIO, settings_for(fake_twilio), TO, BODY)
    [timeout] = client_timeouts["twilio"]
    assert timeout is not None and 0 < timeout <= 30


def test_twilio_garbled_answer_is_transient(fake_twilio):
    fake_twilio.script(["garbled"])
    error = failing(TWILIO, settings_for(fake_twilio))
    assert not error.permanent
    assert fake_twilio.accepted == []


def test_twilio_problem_json_invalid_number_is_permanent(fake_twilio):
    fake_twilio.script(["rfc9457"])
    error = failing(TWILIO, settings_for(fake_twilio))
    assert error.permanent
    assert fake_twilio.accepted == []


# ---- Africa's Talking --------------------------------------------------------------------------
def test_at_success(fake_at, client_timeouts):
    result = send(AT, settings_for(fake_at), TO, BODY)
    assert isinstance(result, SendResult)
    assert result.status == "sent"
    assert result.provider_message_id.startswith("ATXid_")
    assert fake_at.accepted == [{"to": TO, "body": BODY, "from": fake_at.sender_id, "id": result.provider_message_id}]
    [request] = fake_at.requests
    assert request["path"] == "/version1/messaging"
    assert request["headers"]["apiKey"] == fake_at.api_key
    assert request["form"] == {"username": fake_at.username, "to": TO, "message": BODY,
                               "from": fake_at.sender_id, "bulkSMSMode": "1"}
    assert client_timeouts["at"] == [(3.05, 10.0)]  # finite: connect, then HOTLINE_PROVIDER_TIMEOUT


def test_at_success_without_sender_id_and_in_khmer(fake_at):
    result = send(AT, settings_for(fake_at, AT_FROM=""), TO, KHMER)
    assert fake_at.accepted == [{"to": TO, "body": KHMER, "from": None, "id": result.provider_message_id}]
    assert "from" not in fake_at.requests[0]["form"]


@pytest.mark.parametrize("entry", ["text", "json-charset"])
def test_at_answer_not_labelled_application_json_is_parsed(fake_at, entry):
    fake_at.script([entry])
    result = send(AT, settings_for(fake_at), TO, BODY)
    assert result.status == "sent" and result.provider_message_id.startswith("ATXid_")
    assert [m["id"] for m in fake_at.accepted] == [result.provider_message_id]


@pytest.mark.parametrize("entry", ["500", "502", "429", "timeout", "garbled"])
def test_at_transient_failures(fake_at, client_timeouts, entry):
    client_timeouts["cap"] = SHORT_TIMEOUT
    fake_at.script([entry])
    error = failing(AT, settings_for(fake_at))
    assert not error.permanent
    assert error.outcome == (UNKNOWN if entry == "timeout" else TRANSIENT)
    assert fake_at.accepted == []
    assert [r["outcome"] for r in fake_at.requests] == [entry]


def test_at_retry_after_failures_sends_once(fake_at, client_timeouts):
    client_timeouts["cap"] = SHORT_TIMEOUT
    fake_at.script(["500", "timeout", "ok"])
    settings = settings_for(fake_at)
    for _ in range(2):
        assert not failing(AT, settings).permanent
    result = send(AT, settings, TO, BODY)
    assert [m["id"] for m in fake_at.accepted] == [result.provider_message_id]
    assert len(fake_at.requests) == 3


@pytest.mark.parametrize("code, outcome", [(403, RECIPIENT), (406, RECIPIENT), (404, RECIPIENT), (402, REFUSED),
                                           (405, REFUSED), (401, REFUSED), (407, TRANSIENT), (500, TRANSIENT)])
def test_at_recipient_status(fake_at, code, outcome):
    """The number itself (never retried anywhere), this account's refusal (another provider may send it),
    or a passing failure."""
    fake_at.reject(TO, code)
    error = failing(AT, settings_for(fake_at))
    assert error.outcome == outcome and str(code) in str(error)
    assert fake_at.accepted == []


@pytest.mark.parametrize("to", ["012345678", "855 12 345 678", "+855-12-345-678", "+85", ""])
def test_at_badly_formed_number_is_permanent_before_any_request(fake_at, to):
    error = failing(AT, settings_for(fake_at), to=to)
    assert error.permanent
    assert fake_at.requests == []


def test_at_wrong_credentials(fake_at):
    # Today this is transient (AfricasTalkingException); Twilio's wrong token is permanent: see the report.
    error = failing(AT, settings_for(fake_at, AT_API_KEY="wrong-key"))
    assert isinstance(error, SendError)
    assert fake_at.accepted == []
    assert len(fake_at.requests) == 1


def test_at_not_configured_is_permanent_and_sends_nothing(fake_at):
    error = failing(AT, settings_for(fake_at, AT_API_KEY=""))
    assert error.permanent
    assert fake_at.requests == []


def test_at_invalid_sender_id_sends_nothing(monkeypatch):
    # AT answers {"Message": "InvalidSenderId", "Recipients": []}; send() says "no recipient" (transient today).
    loopback_only(monkeypatch)
    with FakeAfricasTalking(sender_ids={"OTHER"}) as fake:
        error = failing(AT, settings_for(fake))
        assert isinstance(error, SendError)
        assert fake.accepted == []
