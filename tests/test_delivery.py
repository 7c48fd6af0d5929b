"""Delivery you can trust: signed agency webhooks with retries, email, claims, dead letters,
and moving on when a leader cannot be reached. Real Redis, real rq workers, local servers only."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from hotline import channels, queues
from hotline.channels.base import SendError
from hotline.directory import Directory, Webhook
from hotline.models import Alert, OutboundMessage, Report
from hotline.outbound import claims, deadletters, dispatch
from tests.kit import REPORTER, TW_SMS, Inbox, free_port, post, replace, ussd
from tests.kit import run_worker as work
from workers import jobs

SECRET = "agency-shared-secret"


@pytest.fixture
def wired(services, receiver, monkeypatch):
    """The sample directory, with the partner NGO's webhook on loopback and its secret set; fast retries."""
    monkeypatch.setenv("NGO_WEBHOOK_SECRET", SECRET)
    d = services.directory
    contacts = tuple(dataclasses.replace(c, webhook=Webhook(receiver.url, "NGO_WEBHOOK_SECRET"))
                     if c.id == "ngo-safe-migration" else c for c in d.contacts)
    services.directory = Directory(d.path, d.line, d.gazetteer, d.escalation, contacts)
    services.settings.retry_intervals = (0, 0, 0)
    return services


def unsorted_report(client, text="a broker took my cousin's passport, call me on 012 345 678"):
    response = post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body=text), "valid")
    assert response.status_code == 200


def test_webhook_is_signed_and_never_carries_the_reporters_number(client, wired, receiver):
    unsorted_report(client)
    work(wired)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    body, headers = request["body"], request["headers"]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hotline-Signature"], expected)
    assert headers["X-Hotline-Event"] == "report.created" and headers["X-Hotline-Delivery"]
    doc = json.loads(body)
    assert doc["event"] == "report.created" and doc["report"]["type"] == "unsorted"
    assert "012 345 678" not in body.decode() and "12345678" not in body.decode()
    assert "[reporter's number]" in doc["report"]["answers"]["text"]


def test_webhook_failures_are_retried_with_the_same_delivery_id(client, wired, receiver):
    receiver.script = [500, 503]
    unsorted_report(client)
    work(wired)
    assert len(receiver.requests) == 3
    assert len({r["headers"]["X-Hotline-Delivery"] for r in receiver.requests}) == 1
    with wired.Session() as session:
        hook = session.scalars(select(Alert).where(Alert.means == "webhook")).one()
    assert hook.status == "delivered" and hook.attempts == 3


def test_exhausted_webhook_is_a_dead_letter_until_requeued(client, wired, receiver):
    receiver.script = [500] * 4
    unsorted_report(client)
    work(wired)
    with wired.Session() as session:
        assert session.scalars(select(Alert).where(Alert.means == "webhook")).one().status == "failed"
    dead = deadletters.list_dead(wired)
    assert [d["func"] for d in dead] == ["workers.jobs.deliver_alert"] and "500" in dead[0]["error"]
    assert deadletters.requeue(wired) == 1
    work(wired)
    with wired.Session() as session:
        assert session.scalars(select(Alert).where(Alert.means == "webhook")).one().status == "delivered"
    assert deadletters.list_dead(wired) == []
    assert len(receiver.requests) == 5


def test_status_change_is_pushed_as_report_updated(client, wired, receiver):
    for full in ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
                 "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99", "1*14010101*99*99*99*99*99*2"):
        ussd(client, "ATUid_up", full)
    work(wired)
    with wired.Session() as session:
        number = session.scalars(select(Report.number)).one()
    post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, MessageSid="SMack", From="+85512000001", Body=f"OK {number}"), "valid")
    work(wired)
    events = [json.loads(r["body"])["event"] for r in receiver.requests]
    assert events == ["report.created", "report.updated"]
    assert json.loads(receiver.requests[1]["body"])["report"]["status"] == "acknowledged"


def test_email_alert_through_smtp(client, wired):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        wired.settings.smtp_host, wired.settings.smtp_port = "127.0.0.1", port
        wired.settings.smtp_starttls = False
        unsorted_report(client, "a van came for workers today")
        work(wired)
    finally:
        controller.stop()
    assert [m.rcpt_tos for m in inbox.messages] == [["cases@ngo.example"]]
    content = inbox.messages[0].content.decode()
    assert "OK " in content and REPORTER not in content


def test_a_claimed_message_is_not_sent_twice(client, services, monkeypatch):
    sent = []
    console = channels.get("console")
    monkeypatch.setattr(console, "send", lambda *a, **k: sent.append(a) or type(console).send(console, *a, **k))
    post(client, "africastalking", "/webhooks/africastalking/sms", "text=hi&to=1&id=x1&from=%2B85512345678", "valid")
    with services.Session() as session:
        message_id = session.scalars(select(OutboundMessage.id)).one()
    assert claims.claim(services, OutboundMessage, message_id)  # another worker is sending it right now
    assert jobs.send_sms(message_id) == "pending"
    assert sent == []


def test_a_leader_who_cannot_be_reached_moves_the_alert_up_at_once(client, services, monkeypatch):
    console = channels.get("console")
    real_send = type(console).send

    def send(self_, config, message, settings):
        if message.to == "+85512000001":                      # the village leader's number is dead
            raise SendError("console: number does not exist", permanent=True)
        return real_send(console, config, message, settings)

    monkeypatch.setattr(type(console), "send", send)
    for full in ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
                 "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99", "1*14010101*99*99*99*99*99*2"):
        ussd(client, "ATUid_dead", full)
    work(services)
    with services.Session() as session:
        alerted = {(m.contact_id, m.status) for m in session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "alert"))}
    assert ("pv-angkrong-village", "failed") in alerted
    assert ("pv-boeng-preah-commune", "delivered") in alerted and ("pv-boeng-preah-church", "delivered") in alerted


def test_escalations_lost_with_redis_are_scheduled_again(client, services):
    from rq.registry import ScheduledJobRegistry

    for full in ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
                 "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99", "1*14010101*99*99*99*99*99*2"):
        ussd(client, "ATUid_lost", full)
    work(services)
    with services.Session() as session:
        expected = [f"escalate-{session.scalars(select(Report.id)).one()}-1"]
    q = queues.queue(queues.DEFAULT, services.redis)
    assert ScheduledJobRegistry(queue=q).get_job_ids() == expected
    services.redis.flushall()                                      # Redis restarted without its data
    assert jobs.recover_escalations(services) == 1
    assert ScheduledJobRegistry(queue=q).get_job_ids() == expected
    assert jobs.recover_escalations(services) == 0                 # not twice
    # A window that has already passed escalates at once.
    services.redis.flushall()
    d = services.directory
    services.directory = Directory(d.path, d.line, d.gazetteer, dict(d.escalation, recruiter=1), d.contacts)
    import time
    time.sleep(1.2)
    assert jobs.recover_escalations(services) == 1
    work(services)
    with services.Session() as session:
        leaders = {m.contact_id for m in session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "alert"))}
    assert {"pv-boeng-preah-commune", "pv-boeng-preah-church"} <= leaders


def test_escalation_recovery_goes_in_batches_and_misses_none(client, services, monkeypatch):
    """The sweep reads open reports RECOVERY_BATCH at a time: every batch's lost escalations are
    scheduled again, once, and reports acknowledged or not yet routed are left alone."""
    from rq.registry import ScheduledJobRegistry

    monkeypatch.setattr(dispatch, "RECOVERY_BATCH", 2)
    for k in range(5):
        for full in ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
                     "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99", "1*14010101*99*99*99*99*99*2"):
            ussd(client, f"ATUid_batch{k}", full, phone=f"+8551234567{k}")
    work(services)
    with services.Session.begin() as session:
        ids = sorted(session.scalars(select(Report.id)))
        assert len(ids) == 5
        session.get(Report, ids[1]).status = "acknowledged"   # a leader answered OK: no escalation
        session.get(Report, ids[3]).routing = "pending"       # not routed yet: routing comes first
    q = queues.queue(queues.DEFAULT, services.redis)
    services.redis.flushall()                                   # Redis restarted without its data
    assert jobs.recover_escalations(services) == 3
    expected = sorted(f"escalate-{i}-1" for i in (ids[0], ids[2], ids[4]))
    assert sorted(ScheduledJobRegistry(queue=q).get_job_ids()) == expected
    assert jobs.recover_escalations(services) == 0              # held in Redis now: not twice
    services.redis.delete(f"rq:job:escalate-{ids[4]}-1")        # one job lost alone, in the last batch
    assert jobs.recover_escalations(services) == 1
