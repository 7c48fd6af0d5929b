"""The line reached through the real engine: a simulated phone's SMS goes over SMPP to Debian's
Kannel (bearerbox + smsbox), Kannel calls the line's webhook, the line answers through Kannel's
sendsms from a worker, and the answer reaches the phone over SMPP, with its delivery report back to
the line; in English and in Khmer, a whole report from the first word to its number, and the duty
unit's alert through the same route."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hotline import channels
from hotline.gateway.smsc import join_parts
from hotline.models import OutboundMessage, Report
from tests.kit import run_worker, wait_for

DUTY_UNIT = "+85512888888"


@pytest.fixture
def line(services, live_server, kannel_stack):
    """The running line sending through a local Kannel (its only provider); that Kannel's stack."""
    stack = kannel_stack(live_server, short_code="1700")
    settings = services.settings
    settings.providers = dict(settings.providers,
                              kannel=channels.get("kannel").read_config(stack.line_env, production=False))
    settings.sms_providers = ("kannel",)
    settings.public_base_url = live_server  # where Kannel's delivery reports come back
    return stack


def _stored(services, purpose: str) -> int:
    with services.Session() as db:
        return db.scalar(select(func.count()).select_from(OutboundMessage).where(OutboundMessage.purpose == purpose))


def _to(stack, phone: str, since: int = 0) -> list[str]:
    """The whole texts that reached `phone` over SMPP (long ones joined), after the first `since` parts."""
    return join_parts([m for m in stack.smsc.submitted()[since:] if m.destination.lstrip("+") == phone.lstrip("+")])


def exchange(services, stack, phone: str, text: str) -> str:
    """One SMS from the phone over SMPP, and the line's answer as it reached the phone over SMPP."""
    since, replies = len(stack.smsc.submitted()), _stored(services, "reply")
    stack.send_mo(phone, text)
    wait_for(lambda: _stored(services, "reply") > replies, 10, "Kannel to call the line")
    run_worker(services)                         # the answer leaves through sendsms, from a worker
    wait_for(lambda: _to(stack, phone, since), 10, "the answer at the SMSC")
    return _to(stack, phone, since)[-1]


def test_a_whole_report_in_english_over_smpp_and_kannel(services, line):
    phone, t = "+85512340001", lambda key, **kw: services.engine.config.text("en", key, **kw)
    exchange(services, line, phone, "hello")                          # the menu, in the line's first language
    exchange(services, line, phone, "6")
    menu = exchange(services, line, phone, "2")                       # English
    assert t("menu_urgent") in menu and line.smsc.submitted()[-1].data_coding == 0
    danger = exchange(services, line, phone, "3")
    assert "117" in danger and "1288" in danger
    exchange(services, line, phone, "14010101")
    end = exchange(services, line, phone, "2")
    with services.Session() as db:
        report = db.scalars(select(Report)).one()
    assert report.number in end and t("sms_delete_hint") in end
    assert (report.provider, report.channel, report.line_number, report.area_code) == ("kannel", "sms", "1700",
                                                                                        "14010101")
    replies = [m for m in line.smsc.submitted() if m.destination.lstrip("+") == phone[1:]]
    assert {m.source for m in replies} == {"1700"}                    # replies leave from the number written to
    run_worker(services)                                              # the alerts, through the same route
    wait_for(lambda: len(_to(line, DUTY_UNIT)) == 2, 10, "the duty unit's alerts at the SMSC")
    first, located = _to(line, DUTY_UNIT)                             # at once at 3, then where it is
    assert report.number in first and report.number in located and "Angkrong" in located or "អង្ក្រង" in located
    with services.Session() as db:
        carried = set(db.scalars(select(OutboundMessage.provider)))
    assert carried == {"kannel"}
    # The SMSC reports delivery; Kannel calls the dlr-url the line wrote; the line records it.
    mt = next(m for m in line.smsc.submitted() if m.destination.lstrip("+") == DUTY_UNIT[1:])
    line.smsc.send_receipt(mt.message_id, "DELIVRD")

    def delivered() -> bool:  # one of the duty unit's two alerts: the one the receipt is for
        with services.Session() as db:
            return list(db.scalars(select(OutboundMessage.status).where(
                OutboundMessage.purpose == "alert", OutboundMessage.contact_id == "duty-police-unit"))).count("delivered") == 1

    wait_for(delivered, 10, "the delivery report at the line")


def test_khmer_goes_both_ways_as_ucs2(services, line):
    phone = "+85512340002"
    menu = exchange(services, line, phone, "សួស្ដី")                    # a Khmer word: the Khmer menu
    assert services.engine.config.text("km", "menu_urgent") in menu
    assert {m.data_coding for m in line.smsc.submitted()} == {8}      # UCS-2 on the SMPP side, both ways
    exchange(services, line, phone, "ខ្ញុំ\u200bឃើញ\u200bមេខ្យល់\u200bនៅ\u200bផ្សារ")  # words with zero-width spaces
    with services.Session() as db:
        report = db.scalars(select(Report)).one()
    assert report.type == "unsorted" and report.answers["text"] == "ខ្ញុំ\u200bឃើញ\u200bមេខ្យល់\u200bនៅ\u200bផ្សារ"


def test_kannel_first_twilio_second_alerts_move_when_kannel_goes_away(services, line, fake_twilio):
    """SMS_PROVIDERS=kannel,twilio with the real Kannel: a report goes in and out through Kannel; then
    Kannel stops: the next report's alerts go through Twilio at once, each once, while a message to the
    reporter who wrote through Kannel waits for Kannel and leaves through it when it is back."""
    import time

    from hotline import casework
    from hotline.outbound import circuit
    from tests.kit import TWILIO_TOKEN, direct_report
    from workers import jobs

    settings = services.settings
    fake_twilio.auth_token = TWILIO_TOKEN
    settings.providers = dict(settings.providers, twilio=channels.get("twilio").read_config(fake_twilio.env(),
                                                                                          production=False))
    settings.sms_providers = ("kannel", "twilio")
    phone = "+85512340003"
    for text in ("hello", "6", "2", "3", "14010101"):
        exchange(services, line, phone, text)
    end = exchange(services, line, phone, "1")                           # yes, someone may call back
    with services.Session() as db:
        first = db.scalars(select(Report)).one()
    assert first.number in end and first.consent is True
    run_worker(services)
    wait_for(lambda: len(_to(line, DUTY_UNIT)) == 2, 10, "the first report's alerts at the SMSC")
    assert fake_twilio.requests == []

    line.kannel.stop()                                                   # Kannel goes away
    stopped = time.monotonic()
    with services.Session.begin() as db:
        report = db.scalars(select(Report).where(Report.number == first.number)).one()
        relay = casework.message_reporter(db, services, report, "We will call you at 5 pm.", "staff")
    second = direct_report(services, "urgent")                          # routed: its alerts are stored
    run_worker(services)
    assert time.monotonic() - stopped < 30
    assert sorted(m["to"] for m in fake_twilio.accepted) == ["+85512000001", DUTY_UNIT]  # the leader, the duty unit
    assert all(second in m["body"] for m in fake_twilio.accepted)
    with services.Session() as db:
        waiting = db.get(OutboundMessage, relay.id)
    assert (waiting.status, waiting.provider) == ("pending", "kannel")  # the reporter's message waits

    line.kannel.start()                                                  # Kannel is back
    line.smsc.wait_bound()
    services.redis.delete(circuit.KEY.format("kannel"))
    since = len(line.smsc.submitted())
    assert jobs.send_sms(relay.id) == "queued"
    wait_for(lambda: _to(line, phone, since), 10, "the caseworker's message at the SMSC")
    assert _to(line, phone, since) == ["We will call you at 5 pm."]
    assert all(m["to"] != phone for m in fake_twilio.accepted)

