"""Linked reports, end to end: reports naming one recruiter's number in any written form are linked by
a worker, make a cluster that the agency that has them is told of once per size (webhook, signed;
email; SMS where it has only a phone), and never through the reporter's own number. Real Redis, real
rq workers, the real database, an agency's webhook and mail server on loopback."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from hotline import __main__ as cli
from hotline.directory import ClusterRule, Webhook
from hotline.linking import work as linking
from hotline.models import (
    Alert,
    Identifier,
    OutboundMessage,
    Report,
    ReportIdentifier,
    ReportLink,
    utcnow,
)
from tests.kit import (
    NGO,
    TRACING,
    Inbox,
    direct_report,
    free_port,
    run_worker,
    ussd,
)

SECRET = "agency-shared-secret"
NUMBER = "+85512777888"
"""The recruiter's number, as every test here names it in some written form."""

FORMS = ("012 777 888", "+855 12 777 888", "០១២ ៧៧៧ ៨៨៨", "85512777888", "012.777.888", "012-777-888",
         "0855 12 777 888", "(012) 777-888")
"""Written forms of NUMBER (the contract's and more): each must name it."""


@pytest.fixture
def inbox(services):
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    services.settings.smtp_host, services.settings.smtp_port = "127.0.0.1", port
    services.settings.smtp_starttls = False
    yield box
    controller.stop()


@pytest.fixture
def wired(services, receiver, monkeypatch):
    """The sample directory with the partner NGO's webhook on loopback (its secret set); tokens set."""
    monkeypatch.setenv("NGO_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("NGO_API_TOKEN", NGO)
    monkeypatch.setenv("TRACING_API_TOKEN", TRACING)
    d = services.directory
    contacts = tuple(dataclasses.replace(c, webhook=Webhook(receiver.url, "NGO_WEBHOOK_SECRET"))
                     if c.id == "ngo-safe-migration" else c for c in d.contacts)
    services.directory = dataclasses.replace(d, contacts=contacts)
    services.settings.retry_intervals = (0, 0, 0)
    return services


def recruiter(services, details: str | None = None, phone: str | None = None, sender: str = "+85516000001",
              area: str = "14010101") -> str:
    """A recruiter report stored and routed as intake and routing do (its link job then waits in Redis)."""
    answers = {k: v for k, v in (("recruiter_phone", phone), ("recruiter_details", details)) if v is not None}
    return direct_report(services, "recruiter", area=area, sender=sender, answers=answers)


def api(client, path: str, token: str = NGO):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def links(client, number: str, token: str = NGO) -> dict[str, dict]:
    response = api(client, f"/api/v1/reports/{number}", token)
    assert response.status_code == 200, response.get_json()
    return {link["number"]: link for link in response.get_json()["links"]}


def clusters_pushed(receiver) -> list[dict]:
    return [json.loads(r["body"]) for r in receiver.requests if r["headers"]["X-Hotline-Event"] == "cluster.detected"]


# ---- the "done when" -----------------------------------------------------------------------
def test_three_forms_from_three_phones_are_linked_and_make_one_cluster_told_once(client, wired, receiver, inbox):
    # One through the real USSD webhook (the phone question), two by SMS words, from three phones.
    for full in ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*012 777 888",
                 "1*14010101*99*99*012 777 888*99", "1*14010101*99*99*012 777 888*99*99",
                 "1*14010101*99*99*012 777 888*99*99*1"):
        ussd(client, "ATUid_link1", full, phone="+85516000001")
    second = recruiter(wired, "he gave +855 12 777 888, white van", sender="+85516000002")
    third = recruiter(wired, "លេខ ០១២ ៧៧៧ ៨៨៨ ក្រុមហ៊ុនផ្កាយមាស", sender="+85516000003")
    run_worker(wired)
    with wired.Session() as session:
        numbers = list(session.scalars(select(Report.number).order_by(Report.id)))

    assert numbers[1:] == [second, third]

    for number in numbers:
        found = links(client, number)
        assert set(found) == set(numbers) - {number}
        assert all(link["by"] == ["phone"] and link["confirmed"] is True for link in found.values())

    pushed = clusters_pushed(receiver)
    assert len(pushed) == 1  # told once, at size 3
    cluster = pushed[0]["cluster"]
    assert cluster["kind"] == "phone" and cluster["value"] == NUMBER and cluster["reports"] == numbers
    request = next(r for r in receiver.requests if r["headers"]["X-Hotline-Event"] == "cluster.detected")
    expected = "sha256=" + hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["X-Hotline-Signature"], expected)
    for reporter in ("+85516000001", "+85516000002", "+85516000003", "16000001", "016 000"):
        assert reporter not in request["body"].decode()
    mails = [m.content.decode() for m in inbox.messages if b"name one recruiter" in m.content]
    assert len(mails) == 1 and NUMBER in mails[0] and all(n in mails[0] for n in numbers)
    assert "+8551600000" not in mails[0]
    with wired.Session() as session:  # leaders are never told of clusters
        told = session.execute(select(Alert.contact_id, Alert.means).where(Alert.kind == "cluster")).all()
    assert sorted(told) == [("ngo-safe-migration", "email"), ("ngo-safe-migration", "webhook")]

    # Linking again (the sweep, a second job) tells nobody twice; a fourth report grows the cluster.
    for number in numbers:
        with wired.Session() as session:
            report_id = session.scalar(select(Report.id).where(Report.number == number))
        assert linking.link_report(wired, report_id) == "linked"
    run_worker(wired)
    assert len(clusters_pushed(receiver)) == 1
    fourth = recruiter(wired, "012-777-888", sender="+85516000004")
    run_worker(wired)
    pushed = clusters_pushed(receiver)
    assert [len(p["cluster"]["reports"]) for p in pushed] == [3, 4] and pushed[1]["cluster"]["reports"][-1] == fourth
    assert pushed[0]["cluster"]["id"] == pushed[1]["cluster"]["id"]

    body = api(client, "/api/v1/clusters").get_json()
    assert [(c["kind"], c["value"], c["reports"]) for c in body["clusters"]] == [("phone", NUMBER, numbers + [fourth])]
    assert body["clusters"][0]["first"] and body["clusters"][0]["last"]


def test_the_suspects_own_phone_links_nothing_by_its_number(client, wired, receiver):
    named = [recruiter(wired, f"call {form}", sender=f"+8551600001{i}") for i, form in enumerate(FORMS[:2])]
    own = recruiter(wired, "I am the one, my number 012 777 888, ask for jobs", phone=NUMBER, sender=NUMBER)
    run_worker(wired)
    assert own not in links(client, named[0])
    assert links(client, own) == {}
    with wired.Session() as session:
        report_id = session.scalar(select(Report.id).where(Report.number == own))
        kinds = session.scalars(select(Identifier.kind).join(ReportIdentifier)
                                .where(ReportIdentifier.report_id == report_id)).all()
    assert "phone" not in kinds
    assert clusters_pushed(receiver) == []  # two reports, and the suspect's own: no cluster of three


def test_another_agency_sees_nothing_of_reports_not_routed_to_it(client, wired, receiver):
    numbers = [recruiter(wired, f"call {form}", sender=f"+8551600002{i}") for i, form in enumerate(FORMS[:3])]
    missing = direct_report(wired, "missing", sender="+85516000030", answers={"details": ["the broker 012 777 888"]})
    run_worker(wired)
    # The tracing service has only missing reports: the three recruiter reports do not exist for it.
    assert links(client, missing, TRACING) == {}
    assert api(client, "/api/v1/clusters", TRACING).get_json() == {"clusters": []}
    for number in numbers:
        assert api(client, f"/api/v1/reports/{number}", TRACING).status_code == 404
    # The NGO has all four: the missing report is linked to the three by the number.
    assert set(links(client, missing)) == set(numbers)
    with wired.Session() as session:
        told = set(session.scalars(select(Alert.contact_id).where(Alert.kind == "cluster")))
    assert told == {"ngo-safe-migration"}


def test_every_written_form_names_the_number(wired):
    numbers = [recruiter(wired, f"recruiter said {form} ok", sender=f"+8551600004{i}") for i, form in enumerate(FORMS)]
    run_worker(wired)
    with wired.Session() as session:
        ids = session.scalars(select(Identifier.id).where(Identifier.kind == "phone")).all()
        named = session.scalar(select(func.count(func.distinct(ReportIdentifier.report_id))))
        stored = session.scalar(select(Identifier.value))
    assert len(ids) == 1 and named == len(numbers)
    assert NUMBER.encode() not in bytes(stored) and wired.vault.decrypt(stored) == NUMBER  # encrypted at rest


def test_backfill_links_the_reports_stored_before_linking(client, wired, receiver):
    numbers = [recruiter(wired, f"number {form}", sender=f"+8551600005{i}") for i, form in enumerate(FORMS[:3])]
    with wired.db.begin() as conn:  # as an upgraded database holds them: nothing linked, no jobs
        conn.execute(ReportIdentifier.__table__.delete())
        conn.execute(update(Report).values(link_wanted_at=utcnow() - timedelta(days=1)))
    wired.redis.flushdb()
    assert links(client, numbers[0]) == {}
    assert cli.main(["link"]) == 0
    assert set(links(client, numbers[0])) == set(numbers[1:])
    run_worker(wired)
    assert [p["cluster"]["reports"] for p in clusters_pushed(receiver)] == [numbers]  # at its full size, once
    with wired.Session() as session:
        assert session.scalar(select(func.count()).where(Report.link_wanted_at.is_not(None))) == 0


def test_the_sweep_links_a_report_whose_job_was_lost(client, wired):
    numbers = [recruiter(wired, f"number {form}", sender=f"+8551600006{i}") for i, form in enumerate(FORMS[:2])]
    wired.redis.flushdb()  # the link jobs are lost
    with wired.db.begin() as conn:
        conn.execute(update(Report).values(link_wanted_at=utcnow() - timedelta(minutes=5)))
    from workers.jobs import sweep_outbox

    assert sweep_outbox()["linking"] == 2
    run_worker(wired)
    assert set(links(client, numbers[0])) == {numbers[1]}


def test_words_added_later_are_linked(client, wired):
    from tests.kit import sms

    first = recruiter(wired, "number 012 777 888", sender="+85516000070")
    sms(client, "a man offered factory work in Thailand", "SMlink1", sender="+85516000071")
    run_worker(wired)
    with wired.Session() as session:
        later = session.scalar(select(Report.number).where(Report.type == "unsorted"))
    assert links(client, first) == {}
    sms(client, "his phone is 012 777 888", "SMlink2", sender="+85516000071")  # added to the unsorted report
    run_worker(wired)
    assert set(links(client, first)) == {later}


def test_a_merged_duplicate_counts_once(client, wired, receiver):
    from hotline.linking import decisions

    a, b = (recruiter(wired, f"call {form}", sender=f"+8551600008{i}") for i, form in enumerate(FORMS[:2]))
    run_worker(wired)
    with wired.Session.begin() as session:
        ra, rb = (session.scalar(select(Report).where(Report.number == n)) for n in (a, b))
        decisions.merge(session, rb, ra, "user:staff")
    run_worker(wired)
    c = recruiter(wired, f"call {FORMS[2]}", sender="+85516000089")
    run_worker(wired)
    assert clusters_pushed(receiver) == []  # a, its duplicate b, and c: two events
    assert links(client, b)[a]["by"] == ["phone", "duplicate"]
    d = recruiter(wired, f"call {FORMS[3]}", sender="+85516000090")
    run_worker(wired)
    assert [p["cluster"]["reports"] for p in clusters_pushed(receiver)] == [[a, c, d]]


def test_an_agency_with_only_a_phone_is_told_by_sms_and_leaders_never(wired):
    d = wired.directory
    contacts = tuple(dataclasses.replace(c, reports=c.reports | {"recruiter"}) if c.id == "duty-police-unit" else c
                     for c in d.contacts)
    wired.directory = dataclasses.replace(d, contacts=contacts, clusters=ClusterRule(reports=2, days=30))
    numbers = [recruiter(wired, f"call {form}", sender=f"+8551600010{i}") for i, form in enumerate(FORMS[:2])]
    run_worker(wired)
    with wired.Session() as session:
        rows = session.execute(select(Alert.contact_id, Alert.means, OutboundMessage.body)
                               .outerjoin(OutboundMessage, OutboundMessage.id == Alert.outbound_id)
                               .where(Alert.kind == "cluster")).all()
    by_contact = {(c, m): body for c, m, body in rows}
    assert set(by_contact) == {("duty-police-unit", "sms"), ("ngo-safe-migration", "webhook")}
    words = by_contact[("duty-police-unit", "sms")]
    assert "+85512777888" in words and numbers[1] in words and "+8551600010" not in words


def test_clusters_count_only_the_window(client, wired, receiver):
    wired.directory = dataclasses.replace(wired.directory, clusters=ClusterRule(reports=3, days=7))
    numbers = [recruiter(wired, f"call {form}", sender=f"+8551600011{i}") for i, form in enumerate(FORMS[:3])]
    with wired.db.begin() as conn:
        conn.execute(update(Report).where(Report.number == numbers[0]).values(created_at=utcnow() - timedelta(days=8)))
    run_worker(wired)
    assert clusters_pushed(receiver) == [] and api(client, "/api/v1/clusters").get_json() == {"clusters": []}
    bad = api(client, "/api/v1/clusters?days=60")
    assert bad.status_code == 400 and bad.get_json() == {"error": "this path takes no query parameters", "field": "days"}
    assert client.get("/api/v1/clusters").status_code == 401


def test_suggestions_wait_for_a_caseworker(client, wired):
    a = recruiter(wired, "Golden Star agency, a white van", sender="+85516000120")
    b = recruiter(wired, "goldan star agency", sender="+85516000121")
    c = recruiter(wired, "someone from the market", sender="+85516000122")
    run_worker(wired)
    found = links(client, a)
    assert set(found) == {b} and found[b] == {"number": b, "by": ["name"], "confirmed": False}
    with wired.Session() as session:
        rows = session.execute(select(ReportLink.by, ReportLink.state)).all()
    assert rows == [("name", "suggested")]  # nothing confirmed by itself (the descriptions score 75.9: too far)
    assert c not in found


def test_a_cluster_push_that_fails_is_retried_with_the_same_delivery(wired, receiver):
    class FailClustersTwice:
        """The agency's endpoint answers 500, then 503, to the first two cluster pushes; 200 to the rest."""

        failures = [500, 503]

        def __bool__(self):
            return True

        def pop(self, _):
            last = receiver.requests[-1]["headers"]["X-Hotline-Event"]
            return self.failures.pop(0) if last == "cluster.detected" and self.failures else 200

    receiver.script = FailClustersTwice()
    for i, form in enumerate(FORMS[:3]):
        recruiter(wired, f"call {form}", sender=f"+8551600013{i}")
    run_worker(wired)
    pushes = [r for r in receiver.requests if r["headers"]["X-Hotline-Event"] == "cluster.detected"]
    assert len(pushes) == 3 and len({p["headers"]["X-Hotline-Delivery"] for p in pushes}) == 1
    assert len({p["body"] for p in pushes}) == 1  # the very same body each time
    with wired.Session() as session:
        assert session.scalar(select(Alert.status).where(Alert.kind == "cluster", Alert.means == "webhook")) == "delivered"
