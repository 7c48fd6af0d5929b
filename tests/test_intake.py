"""Intake end to end through the real webhooks, a real database and a real Redis."""
from __future__ import annotations

import logging

from redis import Redis
from sqlalchemy import func, select

from hotline import reportnumber
from hotline.models import Base, InboundMessage, OutboundMessage, Report, Reporter
from tests.kit import AT_SMS, REPORTER, TW_SMS, post, replace, ussd
from workers import jobs

PHONE = REPORTER


def count(services, model) -> int:
    with services.Session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_ussd_report_is_stored_before_the_number_is_shown(client, services):
    steps = ["", "3", "3*99", "3*99*2"]
    answers = [ussd(client, "ATUid_a", t) for t in steps]
    assert answers[0].startswith("CON ") and answers[-1].startswith("END ")
    with services.Session() as session:
        report = session.scalars(select(Report)).one()
    assert report.number in answers[-1] and reportnumber.is_valid(report.number)
    assert report.type == "urgent" and report.status == "new" and report.routing == "pending"
    assert report.channel == "ussd" and report.provider == "africastalking"


def test_resent_ussd_step_gets_the_same_answer_and_creates_nothing(client, services):
    ussd(client, "ATUid_b", "")
    ussd(client, "ATUid_b", "3")
    first = ussd(client, "ATUid_b", "3*99*2")
    again = ussd(client, "ATUid_b", "3*99*2")
    assert first == again
    assert count(services, Report) == 1


def test_resent_twilio_sms_is_handled_once(client, services):
    body = replace(TW_SMS, Body="a broker in a white car offers jobs")
    first = post(client, "twilio", "/webhooks/twilio/sms", body, "valid").get_data(as_text=True)
    second = post(client, "twilio", "/webhooks/twilio/sms", body, "valid").get_data(as_text=True)
    assert first == second and "<Message>" in first
    assert count(services, Report) == 1


def test_africastalking_sms_reply_goes_out_through_a_worker_job(client, services):
    response = post(client, "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, text="hello"), "valid")
    assert response.status_code == 200 and response.get_data(as_text=True) == ""
    with services.Session() as session:
        message = session.scalars(select(OutboundMessage)).one()
    assert message.purpose == "reply" and message.status == "pending" and message.provider == "console"
    assert services.vault.decrypt(message.recipient) == PHONE
    assert jobs.send_sms(message.id) == "delivered"
    assert jobs.send_sms(message.id) == "delivered"        # a retried job sends nothing twice
    with services.Session() as session:
        assert session.get(OutboundMessage, message.id).attempts == 1


def test_reporter_number_is_never_stored_or_logged_in_the_clear(client, services, caplog):
    caplog.set_level(logging.DEBUG)
    post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body="the recruiter said no papers needed"), "valid")
    post(client, "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, text="STOP"), "valid")
    ussd(client, "ATUid_c", "")
    for full in ("3", "3*14010101"):                      # a report routed, alerted and sent by a worker
        ussd(client, "ATUid_c", full)
    from rq import SimpleWorker

    from hotline import queues
    SimpleWorker([queues.queue(n, services.redis) for n in queues.ALL], connection=services.redis).work(burst=True)
    forms = [PHONE, PHONE[1:], "012345678", "12345678"]
    with services.db.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                dump = " ".join(str(v) for v in row)
                assert not any(f in dump for f in forms), f"{table.name} holds the number"
    assert not any(f in caplog.text for f in forms)
    assert "no papers" not in caplog.text


def test_stop_is_remembered_by_hash(client, services):
    post(client, "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, text="STOP"), "valid")
    with services.Session() as session:
        row = session.get(Reporter, services.vault.lookup_hash(PHONE))
    assert row is not None and row.opted_out


def test_a_number_sending_too_fast_is_slowed_politely(client, services):
    services.settings.rate_limit_per_minute = 5
    try:
        for i in range(5):
            post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, MessageSid=f"SMr{i}", Body="hi"), "valid")
        reply = post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, MessageSid="SMr9", Body="hi"), "valid")
    finally:
        services.settings.rate_limit_per_minute = 20
    assert "Too many messages" in reply.get_data(as_text=True) or "ច្រើន" in reply.get_data(as_text=True)


def test_reports_are_kept_when_redis_is_down(client, services):
    services.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    reply = post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body="men recruiting girls for karaoke"), "valid")
    assert reply.status_code == 200
    assert ussd(client, "ATUid_d", "3*99*2").startswith("END ")  # state lost: the session's inputs are replayed
    with services.Session() as session:
        rows = session.scalars(select(Report)).all()
    assert sorted(r.type for r in rows) == ["unsorted", "urgent"]
    assert all(r.routing == "pending" and r.routing_enqueued_at is None for r in rows)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["redis"]["ok"] is False


def test_status_callbacks_never_go_backwards(client, services):
    post(client, "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, text="hello"), "valid")
    with services.Session.begin() as session:
        message = session.scalars(select(OutboundMessage)).one()
        message.provider, message.provider_message_id, message.status = "africastalking", "ATXid_1", "sent"
    for status in ("Success", "Success", "Sent", "Buffered"):
        assert post(client, "africastalking", "/webhooks/africastalking/delivery", f"id=ATXid_1&status={status}", "valid").status_code == 200
    with services.Session() as session:
        assert session.scalars(select(OutboundMessage)).one().status == "delivered"


def test_twilio_unsubscribed_error_opts_the_reporter_out(client, services):
    post(client, "africastalking", "/webhooks/africastalking/sms", replace(AT_SMS, text="hello"), "valid")
    with services.Session.begin() as session:
        message = session.scalars(select(OutboundMessage)).one()
        message.provider, message.provider_message_id, message.status = "twilio", "SMx", "sent"
    post(client, "twilio", "/webhooks/twilio/status", "MessageSid=SMx&MessageStatus=failed&ErrorCode=21610", "valid")
    with services.Session() as session:
        assert session.scalars(select(OutboundMessage)).one().status == "failed"
        assert session.get(Reporter, services.vault.lookup_hash(PHONE)).opted_out


def test_health_names_each_dependency(client, live_worker):
    doc = client.get("/healthz").get_json()
    assert doc["ok"] and doc["database"]["ok"] and doc["redis"]["ok"] and doc["workers"]["ok"]
    assert set(doc["queues"]) == {"urgent", "default"}
    assert doc["database"]["unrouted_reports"] == 0


def test_sweep_enqueues_reports_whose_job_was_lost(client, services):
    from hotline import queues
    from hotline.outbound import outbox

    ussd(client, "ATUid_e", "3*99*2")
    services.redis.flushdb()                                 # Redis restarted without its data
    assert outbox.sweep(services, grace_seconds=0)["reports"] == 1
    assert queues.queue(queues.URGENT, services.redis).count == 1


def test_report_numbers_are_unique_under_many_reports(client, services):
    for i in range(40):
        post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, MessageSid=f"SMu{i}", From=f"+8551200{i:04d}",
                                                                Body="many words in this message"), "valid")
    with services.Session() as session:
        numbers = session.scalars(select(Report.number)).all()
    assert len(numbers) == 40 == len(set(numbers))


# ---- the webhook's round trips: Redis before and after, the database only when needed -----------
def _queued(services, queue: str) -> list[str]:
    from rq import Queue
    return Queue(queue, connection=services.redis).get_job_ids()


def test_a_stored_report_is_enqueued_by_the_webhook_itself(client, services):
    answer = ussd(client, "ATUid_q1", "3*14010101*2")
    with services.Session() as session:
        report = session.scalars(select(Report)).one()
    assert report.number in answer
    assert _queued(services, "urgent") == [f"route-{report.id}"]  # not left for the sweep
    assert jobs.route_report(report.id) == "routed"


def test_menu_steps_store_nothing_and_a_resend_gets_the_same_screen(client, services):
    first = ussd(client, "ATUid_m1", "")
    menu = ussd(client, "ATUid_m1", "1")
    assert ussd(client, "ATUid_m1", "1") == menu and ussd(client, "ATUid_m1", "") == first
    assert count(services, InboundMessage) == 0 and count(services, Report) == 0


def test_a_resent_report_step_is_answered_from_the_database_when_redis_forgot(client, services):
    first = ussd(client, "ATUid_f1", "3*14010101*2")
    services.redis.flushall()  # Redis restarted with its data lost, then the provider resends the step
    assert ussd(client, "ATUid_f1", "3*14010101*2") == first
    assert count(services, Report) == 1 and count(services, InboundMessage) == 1


def test_steps_survive_redis_forgetting_its_scripts(client, services):
    ussd(client, "ATUid_s0", "")
    services.redis.script_flush()
    ussd(client, "ATUid_s0", "1")  # a step without jobs: the script is loaded again
    services.redis.script_flush()
    answer = ussd(client, "ATUid_s1", "3*14010101*2")  # a step with jobs, in one MULTI with the script
    assert answer.startswith("END ")
    with services.Session() as session:
        report = session.scalars(select(Report)).one()
    assert _queued(services, "urgent") == [f"route-{report.id}"]
    assert ussd(client, "ATUid_s1", "3*14010101*2") == answer  # its answer was kept for resends


def test_a_chosen_language_is_remembered_with_or_without_redis(client, services):
    english = "Worrying job offer"
    assert english not in ussd(client, "ATUid_l1", "")  # Khmer is the line's first language
    assert english in ussd(client, "ATUid_l1b", "6*2")  # 6 language, 2 English
    assert english in ussd(client, "ATUid_l2", "")  # a new session: English, from the cache
    services.redis.flushall()
    assert english in ussd(client, "ATUid_l3", "")  # English again, from the database
    assert english in ussd(client, "ATUid_l4", "")  # and from the cache it filled
    assert english not in ussd(client, "ATUid_l5", "", phone="+85512345679")  # another phone: Khmer


def _statements(services):
    """A list that fills with every SQL statement the app's engine runs from now on."""
    from sqlalchemy import event

    seen: list[str] = []

    def before(conn, cursor, statement, *args):  # noqa: ANN001
        seen.append(statement)

    event.listen(services.db, "before_cursor_execute", before)
    return seen


def test_with_the_language_mirror_a_menu_step_never_asks_the_database(client, services):
    from hotline.inbound import conversations

    english, other = "Worrying job offer", "+85512345679"
    ussd(client, "ATUid_n1", "6*2")  # PHONE chooses English
    services.redis.flushall()  # Redis loses everything, the mirror's mark too
    statements = _statements(services)
    assert english in ussd(client, "ATUid_n2", "")  # from the database
    assert any("reporters" in s for s in statements)
    services.redis.flushall()
    assert conversations.mirror_languages(services.redis, services.Session) == 1
    assert conversations.mirror_languages(services.redis, services.Session) is None  # marked complete
    statements.clear()
    assert english in ussd(client, "ATUid_n3", "")  # from the mirror
    assert english not in ussd(client, "ATUid_n4", "", phone=other)  # no key, mirror complete: none chosen
    assert statements == []


def test_the_mirror_fills_gaps_but_never_overwrites_a_newer_choice(client, services):
    from hotline.inbound import conversations

    ussd(client, "ATUid_g1", "6*2")  # PHONE: English, in the database and in Redis
    ussd(client, "ATUid_g2", "6*1", phone="+85512345679")  # another phone: Khmer
    key = conversations.language_key(services.vault.lookup_hash("+85512345679"))
    services.redis.set(key, conversations.NO_LANGUAGE)  # as if its step's last round trip had failed
    services.redis.set(conversations.language_key(services.vault.lookup_hash(PHONE)), "km")  # a newer choice
    assert conversations.mirror_languages(services.redis, services.Session) == 2
    assert services.redis.get(key) == b"km"
    assert services.redis.get(conversations.language_key(services.vault.lookup_hash(PHONE))) == b"km"


def test_a_workers_maintenance_round_mirrors_the_languages(client, services):
    from hotline import queues
    from hotline.inbound import conversations
    from workers.worker import HotlineWorker

    ussd(client, "ATUid_w1", "6*2")
    services.redis.flushall()
    worker = HotlineWorker([queues.queue(q, services.redis) for q in queues.ALL], connection=services.redis)
    worker.run_maintenance_tasks()
    assert services.redis.exists(conversations.MIRROR_KEY)
    assert services.redis.get(conversations.language_key(services.vault.lookup_hash(PHONE))) == b"en"


def test_a_routed_reports_alerts_go_ahead_of_the_routing_waiting_in_the_queue(client, services):
    ussd(client, "ATUid_b1", "3*14010101*2")
    ussd(client, "ATUid_b2", "3*14010101*2", phone="+85512345679")
    with services.Session() as session:
        first, second = session.scalars(select(Report.id).order_by(Report.id)).all()
    assert _queued(services, "urgent") == [f"route-{first}", f"route-{second}"]
    services.redis.lpop("rq:queue:urgent")  # the worker takes the first report's routing job
    assert jobs.route_report(first) == "routed"
    waiting = _queued(services, "urgent")
    assert waiting[-1] == f"route-{second}" and len(waiting) == 3  # two alert SMS, ahead of it
    assert all(job.startswith("sms-") for job in waiting[:2])


def test_a_step_whose_report_number_was_taken_meanwhile_runs_again_with_another(client, services, monkeypatch):
    from hotline import reportnumber as numbers

    first = ussd(client, "ATUid_t1", "3*14010101*2")
    with services.Session() as session:
        taken = session.scalars(select(Report.number)).one()
    fresh = numbers.generate()
    while fresh == taken:
        fresh = numbers.generate()
    drawn = iter([taken, fresh])  # the first draw collides with the stored report
    monkeypatch.setattr(numbers, "generate", lambda: next(drawn))
    second = ussd(client, "ATUid_t2", "3*14010101*2", phone="+85512345679")
    assert taken in first and fresh in second and taken not in second
    with services.Session() as session:
        assert sorted(session.scalars(select(Report.number))) == sorted([taken, fresh])
        assert count(services, InboundMessage) == 2


def test_a_step_tries_as_many_numbers_as_reports_create_would(client, services, monkeypatch):
    """Numbers fill up over the years: a USSD report is never refused because a few draws in a
    row were taken (USSD is not resent, so a refused report would be lost)."""
    from hotline import reportnumber as numbers
    from hotline import reports

    ussd(client, "ATUid_n1", "3*14010101*2")
    with services.Session() as session:
        taken = session.scalars(select(Report.number)).one()
    fresh = numbers.generate()
    while fresh == taken:
        fresh = numbers.generate()
    drawn = iter([taken] * (reports.NUMBER_TRIES - 1) + [fresh])
    monkeypatch.setattr(numbers, "generate", lambda: next(drawn))
    second = ussd(client, "ATUid_n2", "3*14010101*2", phone="+85512345679")
    assert fresh in second
    assert count(services, Report) == 2


def test_a_step_reads_its_state_after_redis_dropped_its_connection(services):
    from hotline.inbound import conversations

    r = services.redis
    conversations.finish_step(r, "t", "m1", "ussd", "h1", {"step": "x"}, ("CON a", False), None)
    assert r.client_kill_filter(_type="normal", skipme=True) >= 1  # the step's own connection among them
    opening = conversations.open_step(r, "t", "m2", "ussd", "h1", 100)
    assert opening.state == {"step": "x"}  # read on a new connection, not taken for 'Redis down'
    assert conversations.finish_step(r, "t", "m2", "ussd", "h1", {"step": "y"}, ("CON b", False), None)
    assert conversations.open_step(r, "t", "m3", "ussd", "h1", 100).state == {"step": "y"}


def test_each_process_and_thread_has_its_own_step_connection(services):
    import threading

    from hotline.inbound import conversations

    first = conversations._lane(services.redis)
    assert conversations._lane(services.redis) is first
    other = []
    thread = threading.Thread(target=lambda: other.append(conversations._lane(services.redis)))
    thread.start()
    thread.join()
    assert other[0] is not first
    conversations._LANES.pid = -1  # what a worker forked from this process sees
    assert conversations._lane(services.redis) is not first
    conversations.close_lane(services.redis)
