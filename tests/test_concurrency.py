"""Jobs of one report running at once on different workers (the scale drill on PostgreSQL found a
report whose contacts were told twice: "new", then "located")."""
from __future__ import annotations

import threading
import time

from sqlalchemy import select

from hotline import reports
from hotline.engine import Draft
from hotline.models import OutboundMessage
from hotline.outbound import dispatch


def test_two_routing_jobs_of_one_report_at_once_tell_each_contact_once(services, monkeypatch):
    """A report stored at "3" and given its place at once: its first routing job and the one the
    place enqueued run together on two workers, both before either has committed."""
    with services.Session.begin() as session:
        report_id, _ = reports.create(session.connection(), services.vault,
                                      Draft("urgent", "14010101", {"area": "14010101"}, "en", None, "ussd"),
                                      "+85512340099", "africastalking")
    plan = dispatch._plan

    def slow_plan(s, report):
        time.sleep(0.6)  # the first job is still deciding when the second one reads the report
        return plan(s, report)

    monkeypatch.setattr(dispatch, "_plan", slow_plan)
    results: list[str] = []
    errors: list[BaseException] = []

    def job():
        try:
            results.append(dispatch.route_report(services, report_id))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=job), threading.Thread(target=job)]
    threads[0].start()
    time.sleep(0.2)
    threads[1].start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert results == ["routed", "routed"]
    with services.Session() as session:
        keys = sorted(session.scalars(select(OutboundMessage.key).where(OutboundMessage.purpose == "alert")))
    assert keys == [f"alert:{report_id}:duty-police-unit:new:0", f"alert:{report_id}:pv-angkrong-village:new:0"]


def test_routing_a_report_that_does_not_exist_says_so(services):
    assert dispatch.route_report(services, 987654) == "missing"
    assert dispatch.escalate_report(services, 987654, 1) == "missing"
