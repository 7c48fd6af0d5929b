"""Delivery you can trust, and the directory's health: why each alert failed in words and when it is
tried again (rq's own registries), no false "delivered" on the dashboard, dead letters sent again from
the console, and the same facts as `python -m hotline check` on a read-only page."""
from __future__ import annotations

import re

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select, update

from hotline import check, directory, localtime, queues
from hotline.outbound import outbox
from hotline.console.delivery import error_words
from hotline.models import Alert, AuditEntry, OutboundMessage
from tests.kit import direct_report, post_form, run_worker, sign_in

NGO_ID = "ngo-safe-migration"


class Answer:
    """What a partner's webhook answers (requests.post, replaced)."""

    def __init__(self, status_code):
        self.status_code = status_code


@pytest.fixture
def webhook(monkeypatch):
    """The NGO's webhook with its secret set, answering as `webhook.status` says (500 to start)."""
    monkeypatch.setenv("NGO_WEBHOOK_SECRET", "a-test-secret")
    state = type("Webhook", (), {"status": 500, "calls": 0})()

    def post(*args, **kwargs):
        state.calls += 1
        return Answer(state.status)

    monkeypatch.setattr("hotline.outbound.means.webhook.requests.post", post)
    return state


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def webhook_alert(services) -> Alert:
    with services.Session() as db:
        return db.scalars(select(Alert).where(Alert.means == "webhook")).one()


def make_dead(services, alert_id: int) -> None:
    """Run the webhook's job once more as its last try (as if every retry had come and failed)."""
    queue = queues.queue(queues.DEFAULT, services.redis)
    job = Job.fetch(queues.DELIVER.work(alert_id).job_id, connection=services.redis)
    ScheduledJobRegistry(queue=queue).remove(job)
    job.retries_left = 0
    job.save()
    with services.Session.begin() as db:
        db.execute(update(Alert).where(Alert.id == alert_id).values(attempts=outbox.max_attempts(services) - 1))
    queue.enqueue_job(job)
    run_worker(services)


@pytest.mark.parametrize("raw,words", [
    ("NGO_WEBHOOK_SECRET is not set: nothing was sent", "webhook secret NGO_WEBHOOK_SECRET is not set"),
    ("webhook answered 503", "the webhook answered HTTP 503"),
    ("webhook unreachable: ConnectTimeout", "webhook timeout"),
    ("webhook unreachable: ConnectionError", "webhook unreachable"),
    ("twilio 400 21211", "invalid number"),
    ("twilio 21610", "the recipient sent STOP"),
    ("twilio 30003", "the phone is off or out of reach"),
    ("twilio unreachable or unreadable: ReadTimeout", "provider timeout"),
    ("twilio unreachable or unreadable: ConnectionError", "provider unreachable"),
    ("africastalking: invalid phone number", "invalid number"),
    ("africastalking status 403 InvalidPhoneNumber", "invalid number"),
    ("africastalking UserInBlackList", "the recipient sent STOP"),
    ("africastalking unreachable or refused: ReadTimeout", "provider timeout"),
    ("SMTP: SMTPServerDisconnected", "email server unreachable or refused"),
    ("no email address or no SMTP_HOST", "no email address, or SMTP_HOST is not set"),
    ("recipient said STOP", "the recipient sent STOP"),
    ("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM are needed", "Twilio credentials are not set"),
    ("something nobody foresaw", "something nobody foresaw"),
])
def test_stored_errors_in_words(app, raw, words):
    with app.test_request_context():
        assert words in error_words(raw)
    assert error_words(None) is None


def test_a_webhook_without_its_secret_says_why_and_is_sent_again_once_it_is_set(client, services, monkeypatch):
    number = direct_report(services, "recruiter")
    run_worker(services)
    sign_in(client, services, "staff", "admin")
    path = f"/console/reports/{number}"
    page = text(client.get(path).get_data(as_text=True))
    assert "webhook secret NGO_WEBHOOK_SECRET is not set" in page and "not tried again" in page
    monkeypatch.setenv("NGO_WEBHOOK_SECRET", "set at last")
    monkeypatch.setattr("hotline.outbound.means.webhook.requests.post", lambda *a, **k: Answer(200))
    alert = webhook_alert(services)
    assert post_form(client, f"{path}/deliveries/resend", path, means="webhook", row_id=str(alert.id)).status_code == 303
    run_worker(services)
    assert webhook_alert(services).status == "delivered"
    assert post_form(client, f"{path}/deliveries/resend", path, means="webhook", row_id=str(alert.id)).status_code == 303
    assert "has not failed" in client.get(path).get_data(as_text=True)   # delivered: nothing to send again
    with services.Session() as db:
        assert db.scalars(select(AuditEntry.action).where(AuditEntry.action == "deliveries.resend")).all() == \
            ["deliveries.resend"]


def test_a_retrying_webhook_says_why_and_when_it_is_tried_next(client, services, webhook):
    number = direct_report(services, "recruiter")
    run_worker(services)
    alert = webhook_alert(services)
    assert (alert.status, alert.attempts, webhook.calls) == ("pending", 1, 1)
    queue = queues.queue(queues.DEFAULT, services.redis)
    due = ScheduledJobRegistry(queue=queue).get_scheduled_time(queues.DELIVER.work(alert.id).job_id)  # rq's own word
    sign_in(client, services, "ngo-cw", "caseworker", NGO_ID)
    page = text(client.get(f"/console/reports/{number}").get_data(as_text=True))
    shown = localtime.shown(due, localtime.zone("Asia/Phnom_Penh"))
    assert "retrying" in page and "the webhook answered HTTP 500" in page
    assert f"next try: {shown}" in page and "about" not in page.split("next try")[1][:12]
    dashboard = text(client.get("/console/dashboard").get_data(as_text=True))
    assert "failing: 1" in dashboard and "100 % of the alerts" not in dashboard


def test_a_dead_letter_is_counted_listed_and_sent_again_from_the_console(app, client, services, webhook):
    number = direct_report(services, "recruiter")
    run_worker(services)
    alert_id = webhook_alert(services).id
    make_dead(services, alert_id)
    assert webhook_alert(services).status == "failed"
    assert queues.DELIVER.work(alert_id).job_id in FailedJobRegistry(queue=queues.queue(queues.DEFAULT, services.redis))
    sign_in(client, services, "staff", "admin")
    report = text(client.get(f"/console/reports/{number}").get_data(as_text=True))
    assert "dead letter" in report and "every try failed" in report and "the webhook answered HTTP 500" in report
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    webhook_row = re.search(r'<tr class="problem">.*?</tr>', dashboard, re.S).group(0)
    assert "webhook" in webhook_row and 'data-label="Dead letters">1<' in webhook_row
    assert "100 % of the alerts" not in text(dashboard)
    listing = text(client.get("/console/dead-letters").get_data(as_text=True))
    assert "Dead letters (1)" in listing and number in listing and "the webhook answered HTTP 500" in listing
    webhook.status = 200
    assert post_form(client, "/console/dead-letters/requeue", "/console/dead-letters",
                     job_id=queues.DELIVER.work(alert_id).job_id).status_code == 303
    run_worker(services)
    assert webhook_alert(services).status == "delivered"
    assert "No dead letters." in client.get("/console/dead-letters").get_data(as_text=True)
    with services.Session() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "deliveries.requeue")).one()
    assert entry.actor == "user:staff" and entry.details == {"requeued": 1}


def test_sms_failures_are_said_in_words_with_their_next_try(client, services):
    number = direct_report(services, "recruiter")
    run_worker(services)
    with services.Session.begin() as db:
        leader, agency = db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "alert")
                                    .order_by(OutboundMessage.id)).all()
        leader.status, leader.error, leader.attempts = "failed", "twilio 400 21211", 1
        agency.status, agency.error, agency.attempts = "pending", "twilio unreachable or unreadable: ReadTimeout", 2
    sign_in(client, services, "staff", "admin")
    page = text(client.get(f"/console/reports/{number}").get_data(as_text=True))
    assert "Why: invalid number" in page and "not tried again" in page
    assert "Why: provider timeout" in page and "next try: about 20" in page  # no job in Redis: from the intervals


def test_dead_letters_are_line_staff_admins_only(app, services):
    for name, role, agency in (("ngo-admin", "admin", NGO_ID), ("cw", "caseworker", None)):
        client = app.test_client()
        sign_in(client, services, name, role, agency)
        assert client.get("/console/dead-letters").status_code == 403
        assert post_form(client, "/console/dead-letters/requeue", "/console/").status_code == 403


# ---- the directory's health --------------------------------------------------------------------------
def test_the_directory_page_shows_what_the_check_finds(client, services, monkeypatch):
    for name in ("NGO_WEBHOOK_SECRET", "NGO_API_TOKEN", "TRACING_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    sign_in(client, services, "staff", "viewer")
    page = client.get("/console/directory").get_data(as_text=True)
    shown = text(page)
    assert "Sok Dara (fictional)" in shown and "Angkrong › Boeng Preah › Ba Phnum › Prey Veng" in shown
    assert "Example Safe Migration NGO (fictional): webhook secret NGO_WEBHOOK_SECRET is not set" in shown
    assert "API token TRACING_API_TOKEN is not set" in shown
    warnings = check.delivery_warnings(services.directory, services.settings)
    assert len(re.findall(r'<li class="flag">', page)) == len(warnings) == 5
    gaps = directory.gaps(services.directory)
    listed = re.findall(r"<summary>([^<]+): (\d+) places</summary>", page)
    assert sum(int(n) for _, n in listed) == len(gaps) == len(services.directory.warnings)
    assert ("worrying job offer", "23") in listed and "Battambang and everything in it" in shown
    monkeypatch.setenv("NGO_WEBHOOK_SECRET", "set")
    assert "NGO_WEBHOOK_SECRET" not in client.get("/console/directory").get_data(as_text=True)


def test_the_directory_page_is_line_staffs(client, services):
    sign_in(client, services, "ngo-admin", "admin", NGO_ID)
    assert client.get("/console/directory").status_code == 403
    assert 'href="/console/directory"' not in client.get("/console/").get_data(as_text=True)
