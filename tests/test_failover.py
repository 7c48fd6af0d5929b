"""Several SMS providers at once (SMS_PROVIDERS=kannel,twilio), against local fakes of Kannel's
sendsms and Twilio's Messages API driven by the official SDK:

- a leader's alert moves to the next provider at once when Kannel refuses it, answers 5xx or cannot
  be reached, and is carried by one provider only (recorded on the message);
- an answer that never came may mean Kannel took it: that message is only ever tried there again;
- consecutive failures open Kannel's circuit: the next alerts go straight to Twilio, and /healthz says so;
- a message to a reporter leaves only through the provider and number the reporter wrote to, and
  waits for it;
- `<PROVIDER>_TPS` holds across workers sending at once, with a share kept for urgent messages.
"""
from __future__ import annotations

import threading
import urllib.parse
from dataclasses import replace

import pytest
from sqlalchemy import select

from hotline import channels
from hotline.models import Alert, OutboundMessage, Report
from hotline.outbound import circuit, outbox, sending, throttle
from tests.fakes import most_in_any_window
from tests.kit import TWILIO_TOKEN, direct_report, free_port, run_worker
from workers import jobs

KANNEL_TOKEN = "test-kannel-token"
REPORTER = "+85512340077"
SHORT_CODE = "1700"


@pytest.fixture
def two_routes(services, fake_kannel, fake_twilio):
    """The line with Kannel first and Twilio second, each pointed at its fake; both fakes."""
    settings = services.settings
    fake_twilio.auth_token = TWILIO_TOKEN                # the token the line's webhooks are signed with
    kannel = channels.get("kannel").read_config(fake_kannel.env(KANNEL_WEBHOOK_TOKEN=KANNEL_TOKEN), production=False)
    twilio = channels.get("twilio").read_config(fake_twilio.env(), production=False)
    settings.providers = dict(settings.providers, kannel=kannel, twilio=twilio)
    settings.sms_providers = ("kannel", "twilio")
    settings.provider_timeout = 0.5  # the fakes' "timeout" sits out 1 s
    return fake_kannel, fake_twilio


def alert_messages(services) -> list[OutboundMessage]:
    with services.Session() as db:
        return list(db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "alert")
                               .order_by(OutboundMessage.id)))


def kannel_sms(client, text: str, message_id: str, sender: str = REPORTER, to: str = SHORT_CODE):
    """One SMS as Kannel's sms-service passes it to the line (get-url)."""
    query = urllib.parse.urlencode({"token": KANNEL_TOKEN, "id": message_id, "sender": sender, "to": to,
                                    "coding": "0", "charset": "UTF-8", "message": text})
    response = client.get(f"/webhooks/kannel/sms?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("failure", ["500", "503", "garbled", "refused connection"])
def test_a_leaders_alert_moves_to_twilio_when_kannel_fails(services, two_routes, failure):
    fake_kannel, fake_twilio = two_routes
    if failure == "refused connection":
        dead = f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms"
        services.settings.providers["kannel"] = replace(services.settings.provider("kannel"), send_url=dead)
    else:
        fake_kannel.script([failure] * 10)
    number = direct_report(services, "recruiter")      # the village leader's and the NGO's alerts
    run_worker(services)
    messages = alert_messages(services)
    assert len(messages) == 2
    assert {(m.status, m.provider, m.pinned) for m in messages} == {("queued", "twilio", False)}
    assert fake_kannel.accepted == []
    assert sorted(m["id"] for m in fake_twilio.accepted) == sorted(m.provider_message_id for m in messages)
    assert all(number in m["body"] for m in fake_twilio.accepted)
    with services.Session() as db:
        alerts = db.scalars(select(Alert).where(Alert.means == "sms")).all()
    assert len(alerts) == 2 and "failed" not in {a.status for a in alerts}


def test_an_alert_goes_through_kannel_while_it_works(services, two_routes):
    fake_kannel, fake_twilio = two_routes
    direct_report(services, "recruiter")
    run_worker(services)
    assert {(m.provider, m.status) for m in alert_messages(services)} == {("kannel", "queued")}
    assert len(fake_kannel.accepted) == 2 and fake_twilio.accepted == []


def test_no_answer_from_kannel_keeps_the_message_there_and_it_never_arrives_twice(services, two_routes):
    fake_kannel, fake_twilio = two_routes
    fake_kannel.script(["timeout", "timeout"])            # Kannel may have queued them before it went quiet
    direct_report(services, "recruiter")
    run_worker(services)                                  # the first try: no answer, retried later
    messages = alert_messages(services)
    assert {(m.status, m.provider, m.pinned) for m in messages} == {("pending", "kannel", True)}
    assert fake_twilio.requests == []
    assert circuit.health(services.redis, "kannel").state == "down"   # two silences: taken to be down
    services.redis.hset(circuit.KEY.format("kannel"), "open_until", 0)  # a minute later: tried again
    for message in messages:
        assert jobs.send_sms(message.id) == "queued"      # the retry: Kannel again, never Twilio
    assert len(fake_kannel.accepted) == 2 and fake_twilio.requests == []
    assert jobs.send_sms(messages[0].id) == "queued"      # a job that runs twice sends nothing twice
    assert len(fake_kannel.accepted) == 2


def test_consecutive_failures_take_kannel_down_and_alerts_go_straight_to_twilio(services, two_routes, client,
                                                                                  live_worker):
    fake_kannel, fake_twilio = two_routes
    fake_kannel.script(["503"] * circuit.FAILURES_TO_OPEN)
    for _ in range(2):                                    # four alerts: three fail at Kannel, the fourth skips it
        direct_report(services, "recruiter")
    run_worker(services)
    assert len(fake_kannel.requests) == circuit.FAILURES_TO_OPEN and len(fake_twilio.accepted) == 4
    health = client.get("/healthz").get_json()
    assert health["providers"]["kannel"]["state"] == "down" and health["providers"]["twilio"]["state"] == "up"
    assert "503" in health["providers"]["kannel"]["last_error"]
    assert "providers" not in health.get("failing", {})   # one route is still up
    direct_report(services, "recruiter")
    run_worker(services)
    assert len(fake_kannel.requests) == circuit.FAILURES_TO_OPEN   # skipped while its circuit is open
    assert len(fake_twilio.accepted) == 6
    assert {m.provider for m in alert_messages(services)} == {"twilio"}


def test_kannel_is_tried_again_after_its_circuit_has_been_open_a_while(services, two_routes):
    fake_kannel, fake_twilio = two_routes
    for _ in range(circuit.FAILURES_TO_OPEN):
        circuit.failed(services.redis, "kannel", "HTTP 503")
    assert circuit.health(services.redis, "kannel").state == "down"
    key = circuit.KEY.format("kannel")
    services.redis.hset(key, "open_until", 0)           # its while is over: half-open
    assert circuit.health(services.redis, "kannel").state == "retrying"
    direct_report(services, "recruiter")
    run_worker(services)
    assert {m.provider for m in alert_messages(services)} == {"kannel"} and fake_twilio.requests == []
    assert circuit.health(services.redis, "kannel").state == "up"


def test_every_provider_down_is_unhealthy_and_the_alert_waits(services, two_routes, client, live_worker):
    fake_kannel, fake_twilio = two_routes
    fake_kannel.script(["500"] * 10)
    fake_twilio.script(["500"] * 10)
    for _ in range(2):
        direct_report(services, "recruiter")
    run_worker(services)
    messages = alert_messages(services)
    assert {m.status for m in messages} == {"pending"} and not any(m.pinned for m in messages)
    assert fake_kannel.accepted == [] and fake_twilio.accepted == []
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "every SMS provider" in response.get_json()["failing"]["providers"]
    fake_kannel.clear()                                   # back: the retries go out, once each
    fake_twilio.clear()
    for message in messages:
        services.redis.delete(circuit.KEY.format("kannel"))
        assert jobs.send_sms(message.id) in ("sent", "queued")
    assert len(fake_kannel.accepted) + len(fake_twilio.accepted) == len(messages)


def test_a_reporters_reply_leaves_only_through_the_route_they_used_and_waits_for_it(services, two_routes, client):
    fake_kannel, fake_twilio = two_routes
    fake_kannel.script(["503"] * 10)
    kannel_sms(client, "hello", "k-1")
    with services.Session() as db:
        reply = db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "reply")).one()
    assert (reply.provider, reply.pinned, reply.sender) == ("kannel", True, SHORT_CODE)
    run_worker(services)
    for _ in range(3):
        with pytest.raises(jobs.DeliveryFailed):
            jobs.send_sms(reply.id)
    assert circuit.health(services.redis, "kannel").state == "down"
    tried = len(fake_kannel.requests)
    with pytest.raises(jobs.DeliveryFailed, match="taken to be down"):
        jobs.send_sms(reply.id)                           # Kannel is down: the reply waits for it, untried
    assert fake_twilio.requests == [] and len(fake_kannel.requests) == tried
    with services.Session() as db:
        assert db.get(OutboundMessage, reply.id).provider == "kannel"
    fake_kannel.clear()
    services.redis.delete(circuit.KEY.format("kannel"))
    assert jobs.send_sms(reply.id) == "queued"
    [sent] = fake_kannel.accepted
    assert (sent["to"], sent["from"]) == (REPORTER, SHORT_CODE)
    assert fake_twilio.requests == []


def test_a_caseworkers_message_to_a_twilio_reporter_goes_through_twilio_with_kannel_first(services, two_routes):
    from hotline import casework

    fake_kannel, fake_twilio = two_routes
    number = direct_report(services, "recruiter", sender=REPORTER, consent=True)   # written through Twilio
    with services.Session.begin() as db:
        report = db.scalars(select(Report).where(Report.number == number)).one()
        work = casework.message_reporter(db, services, report, "Can we call you tomorrow?", "staff")
    assert jobs.send_sms(work.id) == "queued"
    assert fake_kannel.requests == [] and [m["to"] for m in fake_twilio.accepted] == [REPORTER]
    with services.Session() as db:
        assert (db.get(OutboundMessage, work.id).provider, db.get(OutboundMessage, work.id).pinned) == ("twilio", True)


def test_an_urgent_report_through_kannel_alerts_through_twilio_and_answers_through_kannel(services, two_routes,
                                                                                           client):
    """The whole danger path with Kannel refusing alerts only: the duty unit hears through Twilio; the
    reporter's screens still come through Kannel (first refused, then sent once Kannel takes it)."""
    fake_kannel, fake_twilio = two_routes
    for step, text in enumerate(["hello", "3", "14010101", "2"]):
        kannel_sms(client, text, f"k-{step}")
    with services.Session() as db:
        report = db.scalars(select(Report)).one()
        alerts = db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "alert")).all()
    assert report.provider == "kannel" and report.line_number == SHORT_CODE
    fake_kannel.script(["500"] * 3)
    run_worker(services)
    alerts = alert_messages(services)
    assert alerts and all(m.provider == "twilio" and m.status == "queued" for m in alerts)
    assert all(report.number in m["body"] for m in fake_twilio.accepted)
    assert all(m["to"] != REPORTER for m in fake_twilio.accepted)
    with services.Session() as db:
        replies = db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "reply")).all()
    assert {m.provider for m in replies} == {"kannel"}


# ---- send rates -------------------------------------------------------------------------------
def test_the_send_rate_holds_across_workers_sending_at_once(services, two_routes):
    """KANNEL_TPS=5 and four workers sending 24 alerts at once: never more than 5 in a second at Kannel
    (give or take one for the time a request takes on the way), each sent once, none refused."""
    fake_kannel, _ = two_routes
    services.settings.providers["kannel"] = replace(services.settings.provider("kannel"), tps=5)
    with services.Session.begin() as db:
        ids = [outbox.new_sms(db, services, f"burst-{i}", f"+8551234{i:04d}", f"alert {i}", "alert", urgent=True,
                              contact_id="pv-angkrong-village").id for i in range(24)]
    done: list[str] = []

    def worker(mine: list[int]) -> None:
        for message_id in mine:
            done.append(jobs.send_sms(message_id))

    threads = [threading.Thread(target=worker, args=(ids[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(done) == ["queued"] * 24
    assert sorted(m["body"] for m in fake_kannel.accepted) == sorted(f"alert {i}" for i in range(24))
    assert most_in_any_window(fake_kannel.accepted_at) <= 5 + 1
    assert max(fake_kannel.accepted_at) - min(fake_kannel.accepted_at) >= 24 / 5 - 1 - 0.5


def test_a_share_of_each_second_is_kept_for_urgent_messages(services):
    redis, slug = services.redis, "ratetest"
    sends, _ = throttle.window(10)
    routine = throttle.limit_for(sends, urgent=False)
    assert routine == 8 and throttle.limit_for(sends, urgent=True) == 10
    no_wait = []
    assert all(throttle.take(redis, slug, 10, False, 0) for _ in range(routine))
    assert not throttle.take(redis, slug, 10, False, 0, sleep=no_wait.append)   # routine: full for now
    assert throttle.take(redis, slug, 10, True, 0) and throttle.take(redis, slug, 10, True, 0)  # urgent still goes
    assert not throttle.take(redis, slug, 10, True, 0)                           # and then the second is full
    waits: list[float] = []
    assert throttle.take(redis, slug, 10, False, 5, sleep=lambda s: (waits.append(s), __import__("time").sleep(s)))
    assert waits and 0 < waits[0] <= 1.1                  # a spike waits for its turn, not refused


def test_a_rate_below_one_a_second_is_a_longer_window():
    margin = throttle.MARGIN_MICROS
    assert throttle.window(0.5) == (1, 2_000_000 + margin) and throttle.window(2.5) == (2, 800_000 + margin)


def test_every_provider_rate_is_read_from_its_own_setting(services):
    from hotline.settings import Settings
    from tests.kit import TEST_ENV

    settings = Settings.from_env(environ=dict(TEST_ENV, KANNEL_TPS="12", TWILIO_TPS="0.5"))
    assert settings.provider("kannel").tps == 12 and settings.provider("twilio").tps == 0.5
    from hotline.settings import SettingsError

    for bad in ("0", "-1", "fast", "nan"):
        with pytest.raises(SettingsError, match="KANNEL_TPS"):
            Settings.from_env(environ=dict(TEST_ENV, KANNEL_TPS=bad))


def test_candidates_put_providers_that_are_up_first(services, two_routes):
    message = OutboundMessage(provider="kannel", pinned=False)
    assert sending.candidates(services, message) == ["kannel", "twilio"]
    for _ in range(circuit.FAILURES_TO_OPEN):
        circuit.failed(services.redis, "kannel", "HTTP 500")
    assert sending.candidates(services, message) == ["twilio", "kannel"]
    assert sending.candidates(services, OutboundMessage(provider="kannel", pinned=True)) == ["kannel"]


def test_the_dashboard_shows_each_routes_state(services, two_routes, client):
    import re

    from tests.kit import sign_in

    fake_kannel, _ = two_routes
    fake_kannel.script(["503"] * circuit.FAILURES_TO_OPEN)
    for _ in range(2):
        direct_report(services, "recruiter")
    run_worker(services)
    sign_in(client, services, "staff", "admin")
    page = client.get("/console/dashboard").get_data(as_text=True)
    kannel = re.search(r'<tr class="problem" data-provider="kannel">.*?</tr>', page, re.S).group(0)
    assert "1. Kannel (SMPP)" in kannel and "down: skipped for now" in kannel and "503" in kannel
    twilio = re.search(r'<tr class="" data-provider="twilio">.*?</tr>', page, re.S).group(0)
    assert "2. " in twilio and ">up<" in twilio and "s ago" in twilio


def test_a_message_every_provider_refuses_for_good_fails_at_once(services, two_routes):
    """Kannel answers 4xx (its user or password is wrong) and Twilio 401: the alert fails for good
    at once (contract: a 4xx is a permanent failure), so its report climbs a level instead of waiting."""
    fake_kannel, fake_twilio = two_routes
    fake_kannel.password = "changed"
    fake_twilio.script(["401"] * 50)
    direct_report(services, "recruiter")
    run_worker(services)
    messages = alert_messages(services)
    first = messages[:2]                                  # the village leader's and the NGO's
    assert {m.contact_id for m in first} == {"pv-angkrong-village", "ngo-safe-migration"}
    assert {m.status for m in first} == {"failed"}
    assert all("kannel refused it: 403" in m.error and m.attempts == 1 for m in first)
    assert len({m.contact_id for m in messages}) > 2     # the leader's level climbed at once
    assert {m.status for m in messages} == {"failed"}
    assert fake_kannel.accepted == [] and fake_twilio.accepted == []


def test_a_refusal_by_one_provider_moves_the_alert_on(services, two_routes):
    fake_kannel, fake_twilio = two_routes
    fake_kannel.password = "changed"
    direct_report(services, "recruiter")
    run_worker(services)
    assert {(m.status, m.provider) for m in alert_messages(services)} == {("queued", "twilio")}


def test_a_provider_gone_silent_is_taken_down_after_two_unanswered_sends(services, two_routes):
    """Each unanswered send holds a worker for the whole provider timeout: two in a row take Kannel
    down, so even one worker moves alerts on within two timeouts (20 s by default, under 30)."""
    fake_kannel, fake_twilio = two_routes
    fake_kannel.script(["timeout", "timeout"])
    direct_report(services, "recruiter")
    run_worker(services)
    assert circuit.health(services.redis, "kannel").state == "down"
    assert {(m.provider, m.pinned) for m in alert_messages(services)} == {("kannel", True)}   # they wait there
    direct_report(services, "recruiter")
    run_worker(services)
    assert len(fake_kannel.requests) == 2 and len(fake_twilio.accepted) == 2
