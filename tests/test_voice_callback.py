"""Masked call-back: "Call" on a report rings the caseworker's own phone through the Calls API (the
official SDK against FakeTwilio), then bridges to the reporter with <Dial>, each seeing only the
line's number; only with consent and never after STOP; audited; the duration on the timeline."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline import channels
from hotline.models import AuditEntry, Call, Report, Reporter, ReportEvent
from hotline.voice import schema
from tests.kit import (
    BASE,
    TWILIO_TOKEN,
    direct_report,
    post_form,
    run_worker,
    sign_in,
    signed_post,
)

REPORTER = "+85512345222"
CASEWORKER_TYPED, CASEWORKER = "012 345 111", "+85512345111"


@pytest.fixture
def line(services, fake_twilio, monkeypatch):
    """The line's Twilio account is the fake (its auth token signs the webhooks too)."""
    fake_twilio.auth_token = TWILIO_TOKEN
    config = channels.get("twilio").read_config(fake_twilio.env(TWILIO_AUTH_TOKEN=TWILIO_TOKEN), False)
    monkeypatch.setitem(services.settings.providers, "twilio", config)
    return fake_twilio


@pytest.fixture
def caseworker(client, services):
    """A line-staff caseworker signed in, with a phone of their own for call-backs."""
    sign_in(client, services, "dara", role="caseworker")
    response = post_form(client, "/console/phone", "/console/phone", phone=CASEWORKER_TYPED)
    assert response.status_code == 303
    return "dara"


def platform(form: dict, call_sid: str, **fields) -> dict:
    """A request of a placed call as the platform makes it."""
    return {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": form["From"], "To": form["To"],
            "CallStatus": "in-progress", "Direction": "outbound-api", "ApiVersion": "2010-04-01", **fields}


def last_call(services) -> int:
    """The id of the call-back asked for last (ids are not reset between tests on PostgreSQL)."""
    with services.Session() as db:
        return db.scalar(select(Call.id).order_by(Call.id.desc()).limit(1))


def timeline(services, number: str) -> list[tuple[str, dict]]:
    with services.Session() as db:
        report = db.scalar(select(Report).where(Report.number == number))
        return [(e.kind, e.data) for e in db.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id))]


def test_the_phone_page_keeps_the_caseworkers_number_encrypted_and_shows_its_end(client, services, caseworker):
    from hotline.models import User

    page = client.get("/console/phone").get_data(as_text=True)
    assert "…111" in page and CASEWORKER not in page and "345 111" not in page
    with services.Session() as db:
        user = db.scalar(select(User).where(User.username == "dara"))
        assert CASEWORKER.encode() not in user.phone and services.vault.decrypt(user.phone) == CASEWORKER
        assert db.scalar(select(AuditEntry.action).where(AuditEntry.action == "user.phone")) == "user.phone"
    refused = post_form(client, "/console/phone", "/console/phone", phone="not a phone")
    assert refused.status_code == 200 and "That is not a phone number." in refused.get_data(as_text=True)
    removed = post_form(client, "/console/phone", "/console/phone", phone="")
    assert removed.status_code == 303 and "Your phone:</strong> none" in client.get("/console/phone").get_data(as_text=True)


def test_a_masked_call_back_from_button_to_bridge_to_timeline(client, services, line, caseworker):
    number = direct_report(services, sender=REPORTER, consent=True)
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "Call the reporter" in page and "Calling is off" not in page
    response = post_form(client, f"/console/reports/{number}/call", f"/console/reports/{number}")
    assert response.status_code == 303
    with services.Session() as db:
        assert db.scalar(select(Call.status)) == "requested"
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "report.call"))
        assert (entry.actor, entry.target) == ("user:dara", number)
    run_worker(services)
    assert len(line.calls) == 1
    placed, call = line.calls[0], last_call(services)
    assert (placed["To"], placed["From"]) == (CASEWORKER, line.from_number)      # the line's number, not the reporter's
    assert placed["Url"] == f"{BASE}/webhooks/twilio/voice/bridge?call={call}"
    assert placed["StatusCallback"] == f"{BASE}/webhooks/twilio/voice/status?call={call}"
    # The caseworker answers: the line bridges to the reporter, with its own number as caller id.
    answered = signed_post(client, placed["Url"], platform(placed, placed["sid"]))
    twiml = answered.get_data(as_text=True)
    assert answered.status_code == 200 and schema.problems(twiml) == []
    assert f'callerId="{line.from_number}"' in twiml and f"<Number>{REPORTER}</Number>" in twiml
    assert f"report {' '.join(number)}" in twiml and "Your number stays hidden" in twiml
    action = f"{BASE}/webhooks/twilio/voice/bridge?call={call}&amp;done=1"
    assert f'action="{action}"' in twiml and 'timeLimit="1800"' in twiml
    ended = signed_post(client, action.replace("&amp;", "&"),
                        platform(placed, placed["sid"], DialCallStatus="completed", DialCallDuration="75"))
    assert ended.status_code == 200 and "The call with the reporter has ended." in ended.get_data(as_text=True)
    assert schema.problems(ended.get_data(as_text=True)) == []
    assert ("call_ended", {"call": call, "outcome": "completed", "seconds": 75}) in timeline(services, number)
    status = signed_post(client, placed["StatusCallback"], platform(placed, placed["sid"], CallStatus="completed",
                                                                    CallDuration="80"))
    assert status.status_code == 200
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "call to the reporter ended" in page and "they spoke" in page and "1 min 15 s" in page
    assert REPORTER not in page and CASEWORKER not in page


@pytest.mark.parametrize("consent,stop,why", [
    (False, False, "the reporter did not agree to be contacted"),
    (True, True, "the reporter sent STOP"),
])
def test_no_call_without_consent_or_after_stop(client, services, line, caseworker, consent, stop, why):
    number = direct_report(services, sender=REPORTER, consent=consent)
    if stop:
        with services.Session.begin() as db:
            db.add(Reporter(hash=services.vault.lookup_hash(REPORTER), opted_out=True))
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert f"Calling is off: {why}" in page.replace("&#39;", "'")
    post_form(client, f"/console/reports/{number}/call", f"/console/reports/{number}")
    assert why in client.get(f"/console/reports/{number}").get_data(as_text=True).replace("&#39;", "'")
    run_worker(services)
    with services.Session() as db:
        assert db.scalars(select(Call)).all() == []
    assert line.calls == []


def test_stop_after_asking_stops_the_call_before_and_after_it_rings(client, services, line, caseworker):
    number = direct_report(services, sender=REPORTER, consent=True)
    post_form(client, f"/console/reports/{number}/call", f"/console/reports/{number}")
    with services.Session.begin() as db:              # STOP arrives before the worker places the call
        db.add(Reporter(hash=services.vault.lookup_hash(REPORTER), opted_out=True))
    run_worker(services)
    assert line.calls == []
    assert ("call_ended", {"call": last_call(services), "outcome": "refused"}) in timeline(services, number)
    with services.Session.begin() as db:
        db.get(Reporter, services.vault.lookup_hash(REPORTER)).opted_out = False
    post_form(client, f"/console/reports/{number}/call", f"/console/reports/{number}")
    run_worker(services)
    placed = line.calls[0]
    with services.Session.begin() as db:              # ... and STOP while the caseworker's phone rings
        db.get(Reporter, services.vault.lookup_hash(REPORTER)).opted_out = True
    answered = signed_post(client, placed["Url"], platform(placed, placed["sid"])).get_data(as_text=True)
    assert "<Dial" not in answered and REPORTER not in answered and "can no longer be called" in answered


def test_who_may_call_and_from_which_phone(client, services, line):
    number = direct_report(services, sender=REPORTER, consent=True)
    sign_in(client, services, "viewer1", role="viewer")
    assert "Call the reporter" not in client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert post_form(client, f"/console/reports/{number}/call", f"/console/reports/{number}").status_code == 403


def test_a_caseworker_without_a_phone_is_told_to_add_one(client, services, line):
    number = direct_report(services, sender=REPORTER, consent=True)
    sign_in(client, services, "nophone", role="caseworker")
    assert "you have no phone of your own" in client.get(f"/console/reports/{number}").get_data(as_text=True)


@pytest.mark.parametrize("leg,dial,outcome", [
    ("no-answer", None, "caseworker no-answer"),
    ("busy", None, "caseworker busy"),
    (None, "no-answer", "no-answer"),
])
def test_calls_that_reach_nobody_say_so_on_the_timeline(client, services, line, caseworker, leg, dial, outcome):
    number = direct_report(services, sender=REPORTER, consent=True)
    post_form(client, f"/console/reports/{number}/call", f"/console/reports/{number}")
    run_worker(services)
    placed = line.calls[0]
    if leg:
        signed_post(client, placed["StatusCallback"], platform(placed, placed["sid"], CallStatus=leg))
    else:
        signed_post(client, placed["Url"], platform(placed, placed["sid"]))
        said = signed_post(client, f"{BASE}/webhooks/twilio/voice/bridge?call={last_call(services)}&done=1",
                           platform(placed, placed["sid"], DialCallStatus=dial)).get_data(as_text=True)
        assert "The reporter did not answer." in said
    assert ("call_ended", {"call": last_call(services), "outcome": outcome}) in timeline(services, number)


def test_bridge_requests_that_are_not_the_call_placed(client, services, line, caseworker):
    number = direct_report(services, sender=REPORTER, consent=True)
    post_form(client, f"/console/reports/{number}/call", f"/console/reports/{number}")
    run_worker(services)
    placed, call = line.calls[0], last_call(services)
    for url, sid in ((placed["Url"], "CA-someone-else"), (f"{BASE}/webhooks/twilio/voice/bridge?call={call + 99}", placed["sid"]),
                     (f"{BASE}/webhooks/twilio/voice/bridge?call=x", placed["sid"])):
        said = signed_post(client, url, platform(placed, sid)).get_data(as_text=True)
        assert "<Dial" not in said and "not expected" in said
    unsigned = client.post(f"/webhooks/twilio/voice/bridge?call={call}", data=platform(placed, placed["sid"]))
    assert unsigned.status_code == 403
    bad = signed_post(client, f"{BASE}/webhooks/twilio/voice/bridge?call={call}&done=1",
                      platform(placed, placed["sid"], DialCallStatus="exploded"))
    assert bad.status_code == 400 and b"DialCallStatus" in bad.data


def test_the_platform_refusing_the_call_is_on_the_timeline(client, services, line, caseworker):
    number = direct_report(services, sender=REPORTER, consent=True)
    line.reject(CASEWORKER, 21211)
    post_form(client, f"/console/reports/{number}/call", f"/console/reports/{number}")
    run_worker(services)
    events = dict(timeline(services, number))
    assert events["call_ended"]["outcome"] == "failed"
