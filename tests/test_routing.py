"""Routing as a pure function (tables), and end to end: a report's alert reaches the village
leader through a real rq worker, and the leader's OK acknowledges it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline import queues, routing
from hotline.directory import load_directory
from hotline.models import Alert, OutboundMessage, Report
from hotline.routing import RouteInput
from hotline.settings import ROOT
from tests.kit import TW_SMS, URGENT_STEPS, post, replace, run_worker, ussd


@pytest.fixture(scope="module")
def directory():
    return load_directory(ROOT / "config" / "directory.yaml")


def ids(contacts):
    return [c.id for c in contacts]


@pytest.mark.parametrize("type_,area,answers,first,levels,agencies", [
    # deepest level wins: the village leader first, then commune (two leaders), district, province
    ("recruiter", "14010101", {}, ["pv-angkrong-village"], 4, ["ngo-safe-migration"]),
    ("recruiter", "14010102", {}, ["pv-ruessei-kaek-village"], 4, ["ngo-safe-migration"]),
    # a village with no leader of its own falls to the commune, where both leaders are alerted
    ("recruiter", "14010104", {}, ["pv-boeng-preah-church", "pv-boeng-preah-commune"], 3, ["ngo-safe-migration"]),
    # type filters: the church leader takes no urgent reports; the duty unit takes only urgent
    ("urgent", "14010104", {}, ["pv-boeng-preah-commune"], 3, ["duty-police-unit"]),
    ("missing", "14010104", {}, ["pv-boeng-preah-church", "pv-boeng-preah-commune"], 3,
     ["migrant-tracing-service", "ngo-safe-migration"]),
    # known only to the province
    ("recruiter", "14", {}, ["pv-province-desk"], 1, ["ngo-safe-migration"]),
    # conflict of interest: a leader whose number is in the report, in any written form, is skipped
    ("recruiter", "14010101", {"recruiter_phone": "+85512000001"}, ["pv-boeng-preah-church", "pv-boeng-preah-commune"], 3, ["ngo-safe-migration"]),
    ("recruiter", "14010101", {"recruiter_details": "he called from 012 000 001 yesterday"}, ["pv-boeng-preah-church", "pv-boeng-preah-commune"], 3, ["ngo-safe-migration"]),
    ("recruiter", "14010101", {"details": ["his boss is +855 12 999 999"]}, ["pv-angkrong-village"], 4, []),
    # no known area: no leader; every agency for the type
    ("urgent", None, {}, [], 0, ["duty-police-unit"]),
    # an area nobody covers
    ("recruiter", "05", {}, [], 0, []),
])
def test_plan(directory, type_, area, answers, first, levels, agencies):
    plan = routing.plan(RouteInput(type_, area, answers), directory)
    assert ids(plan.first_leaders) == first
    assert len(plan.leader_levels) == levels
    assert ids(plan.agencies) == agencies


def test_report_to_alert_to_ok(client, services):
    # A worrying job offer in Angkrong village, by USSD, with consent to follow-up.
    for full in ("", "1", "1*14010101", "1*14010101*1", "1*14010101*1*1", "1*14010101*1*1*99",
                 "1*14010101*1*1*99*99", "1*14010101*1*1*99*99*99"):
        last = ussd(client, "ATUid_route", full)
    last = ussd(client, "ATUid_route", "1*14010101*1*1*99*99*99*1")
    assert last.startswith("END ")
    run_worker(services)
    with services.Session() as session:
        report = session.scalars(select(Report)).one()
        alerts = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "alert")).all()
        assert report.routing == "routed"
        assert sorted(m.contact_id for m in alerts) == ["ngo-safe-migration", "pv-angkrong-village"]
        assert all(m.status == "delivered" for m in alerts)
        leader_alert = next(m for m in alerts if m.contact_id == "pv-angkrong-village")
        assert report.number in leader_alert.body and "OK" in leader_alert.body
        assert "12345678" not in leader_alert.body
    # The agency's webhook was not tried: its secret is not set in this environment.
    with services.Session() as session:
        hook = session.scalars(select(Alert).where(Alert.means == "webhook")).one()
        assert hook.status == "failed" and "NGO_WEBHOOK_SECRET" in hook.error and hook.attempts == 1
        before = len(session.scalars(select(Alert)).all())
    # Running the job again sends nothing twice.
    from workers import jobs
    assert jobs.route_report(report.id) == "routed"
    with services.Session() as session:
        assert len(session.scalars(select(Alert)).all()) == before == 3
    # A stranger's OK changes nothing; the village leader's OK acknowledges.
    stranger = post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, MessageSid="SMok1", Body=f"OK {report.number}"), "valid")
    assert report.number not in stranger.get_data(as_text=True) or "OK" in stranger.get_data(as_text=True)
    leader = post(client, "twilio", "/webhooks/twilio/sms",
                  replace(TW_SMS, MessageSid="SMok2", From="+85512000001", Body=f"ok {report.number}"), "valid")
    assert leader.status_code == 200
    run_worker(services)
    with services.Session() as session:
        assert session.get(Report, report.id).status == "acknowledged"
        follow_up = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "follow_up")).one()
        assert services.vault.decrypt(follow_up.recipient) == "+85512345678"
    # Escalation after an OK is a no-op.
    assert jobs.escalate_report(report.id, 1) == "acknowledged"


def test_unacknowledged_report_climbs_a_level(client, services):
    from workers import jobs

    for full in ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
                 "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99", "1*14010101*99*99*99*99*99*2"):
        ussd(client, "ATUid_esc", full)
    run_worker(services)
    with services.Session() as session:
        report = session.scalars(select(Report)).one()
    assert jobs.escalate_report(report.id, 1) == "escalated"
    with services.Session() as session:
        to = sorted(m.contact_id for m in session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "alert")))
    assert to == ["ngo-safe-migration", "ngo-safe-migration", "pv-angkrong-village",
                  "pv-boeng-preah-church", "pv-boeng-preah-commune"]


def test_khmer_ok_from_an_alerted_leader(client, services):
    for full in ("", *URGENT_STEPS):
        ussd(client, "ATUid_km_ok", full)
    run_worker(services)
    with services.Session() as session:
        number = session.scalars(select(Report.number)).one()
    khmer_number = number.translate(str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩"))
    reply = post(client, "twilio", "/webhooks/twilio/sms",
                 replace(TW_SMS, MessageSid="SMkm", From="+85512000001", Body=f"យល់ព្រម {khmer_number}"), "valid")
    assert number in reply.get_data(as_text=True)
    with services.Session() as session:
        assert session.scalars(select(Report.status)).one() == "acknowledged"


def test_conflict_of_interest_end_to_end(client, services):
    # The recruiter's number, as the reporter typed it, is the village leader's own.
    steps = ["", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*012 000 001",
             "1*14010101*99*99*012 000 001*99", "1*14010101*99*99*012 000 001*99*99",
             "1*14010101*99*99*012 000 001*99*99*2"]
    for full in steps:
        last = ussd(client, "ATUid_coi", full)
    assert last.startswith("END ")
    run_worker(services)
    with services.Session() as session:
        to = {m.contact_id for m in session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "alert"))}
        routed = session.scalars(select(Report)).one().events
    assert "pv-angkrong-village" not in to
    assert {"pv-boeng-preah-commune", "pv-boeng-preah-church"} <= to
    assert [e.data["skipped_conflict"] for e in routed if e.kind == "routed"] == [1]


def test_escalation_is_scheduled_for_the_end_of_the_window(client, services):
    from rq.registry import ScheduledJobRegistry

    for full in ("", *URGENT_STEPS):
        ussd(client, "ATUid_window", full)
    run_worker(services)
    with services.Session() as session:
        report = session.scalars(select(Report)).one()
    registry = ScheduledJobRegistry(queue=queues.queue(queues.URGENT, services.redis))
    [job_id] = registry.get_job_ids()
    assert job_id == f"escalate-{report.id}-1"
    due = registry.get_scheduled_time(job_id)
    routed_at = report.routed_at if report.routed_at.tzinfo else report.routed_at.replace(tzinfo=due.tzinfo)
    assert abs((due - routed_at).total_seconds() - services.directory.escalation["urgent"]) < 5


def test_alerts_through_africastalking_with_its_sdk(client, services, monkeypatch):
    from hotline.settings import Settings
    from tests.fakes import FakeAfricasTalking, loopback_only

    loopback_only(monkeypatch)
    with FakeAfricasTalking() as fake:
        at = Settings.from_env(environ=fake.env())
        services.settings.sms_providers = at.sms_providers
        services.settings.providers = dict(services.settings.providers, africastalking=at.provider("africastalking"))
        for full in ("", *URGENT_STEPS):
            ussd(client, "ATUid_at", full)
        run_worker(services)
        assert sorted(m["to"] for m in fake.accepted) == ["+85512000001", "+85512888888"]
    with services.Session() as session:
        ids = {m.provider_message_id for m in session.scalars(select(OutboundMessage))}
    assert ids == {m["id"] for m in fake.accepted}
