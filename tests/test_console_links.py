"""The console's linked reports: a report shows its linked reports (only those the user may see) and
pending suggestions, which a caseworker confirms or rejects (audited); two reports of one event are
merged (and unmerged) with both kept whole; the recruiters page lists numbers and names with counts,
places and a timeline; in English and Khmer, in the phone layout."""
from __future__ import annotations

import re

from sqlalchemy import select, update

from hotline.models import AuditEntry, Report, ReportEvent, ReportLink, User
from tests.kit import direct_report, post_form, run_worker, sign_in

NUMBER = "+85512777888"


def report(services, details, sender, type_="recruiter", area="14010101"):
    key = "recruiter_details" if type_ == "recruiter" else "details"
    value = details if type_ == "recruiter" else [details]
    return direct_report(services, type_, area=area, sender=sender, answers={key: value})


def linked_section(page: str) -> str:
    return page[page.index("Linked reports"):page.index("<h2>Alerts")]


def test_a_report_shows_only_the_links_the_user_may_see(client, services):
    a = report(services, "call 012 777 888", "+85517000001")
    b = report(services, "he gave ០១២ ៧៧៧ ៨៨៨", "+85517000002")
    urgent = report(services, "the man 012 777 888 locked her in", "+85517000003", type_="urgent")  # duty unit only
    run_worker(services)
    sign_in(client, services, "ngo-cw", "caseworker", agency="ngo-safe-migration")
    page = linked_section(client.get(f"/console/reports/{a}").get_data(as_text=True))
    assert b in page and "same phone number" in page and "confirmed" in page
    assert urgent not in page
    client.post("/console/logout", data={})
    staff = client.application.test_client()
    sign_in(staff, services, "staff", "admin")
    page = linked_section(staff.get(f"/console/reports/{a}").get_data(as_text=True))
    assert b in page and urgent in page  # line staff see every report


def test_a_caseworker_confirms_or_rejects_each_suggestion_audited(client, services):
    a = report(services, "Golden Star agency came with a white van", "+85517000011")
    b = report(services, "goldan star agency", "+85517000012")
    c = report(services, "Sun Rise manpower took my cousin", "+85517000013")
    d = report(services, "sunrise manpower", "+85517000014")
    run_worker(services)
    sign_in(client, services, "staff", "caseworker")
    page = client.get(f"/console/reports/{a}").get_data(as_text=True)
    assert "suggested" in linked_section(page) and "Same recruiter" in page
    with services.Session() as db:
        first = db.scalars(select(ReportLink.id).join(Report, Report.id == ReportLink.report_id)
                           .where(Report.number == a)).first()
        other = db.scalars(select(ReportLink.id).join(Report, Report.id == ReportLink.report_id)
                           .where(Report.number == c)).first()
    response = post_form(client, f"/console/reports/{a}/links/{first}/confirm", f"/console/reports/{a}")
    assert response.status_code == 303
    response = post_form(client, f"/console/reports/{c}/links/{other}/reject", f"/console/reports/{c}")
    assert response.status_code == 303
    with services.Session() as db:
        assert db.get(ReportLink, first).state == "confirmed" and db.get(ReportLink, first).decided_by == "user:staff"
        assert db.get(ReportLink, other).state == "rejected"
        audits = db.execute(select(AuditEntry.action, AuditEntry.target, AuditEntry.details)
                            .where(AuditEntry.action.like("report.link_%")).order_by(AuditEntry.id)).all()
    assert [(x.action, x.target, x.details["other"]) for x in audits] == [
        ("report.link_confirm", a, b), ("report.link_reject", c, d)]
    assert d not in linked_section(client.get(f"/console/reports/{c}").get_data(as_text=True))  # rejected: gone
    # Decided once: a second decision is refused, and a viewer may decide nothing.
    again = post_form(client, f"/console/reports/{a}/links/{first}/reject", f"/console/reports/{a}", )
    assert again.status_code == 303
    with services.Session() as db:
        assert db.get(ReportLink, first).state == "confirmed"


def test_another_agency_cannot_decide_on_a_report_it_does_not_have(client, services):
    a = report(services, "Golden Star agency", "+85517000021")
    report(services, "goldan star agency", "+85517000022")
    run_worker(services)
    with services.Session() as db:
        link_id = db.scalar(select(ReportLink.id))
    sign_in(client, services, "tracer", "caseworker", agency="migrant-tracing-service")
    assert client.get(f"/console/reports/{a}").status_code == 404
    page = client.get("/console/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(f"/console/reports/{a}/links/{link_id}/confirm", data={"csrf_token": token})
    assert response.status_code == 404
    with services.Session() as db:
        assert db.get(ReportLink, link_id).state == "suggested"


def test_merging_duplicates_keeps_both_reports_and_can_be_undone(client, services):
    a = report(services, "call 012 777 888 about factory work", "+85517000031")
    b = report(services, "factory work, 012 777 888", "+85517000032")
    run_worker(services)
    sign_in(client, services, "staff", "caseworker")
    response = post_form(client, f"/console/reports/{b}/merge", f"/console/reports/{b}", other=a)
    assert response.status_code == 303
    with services.Session() as db:
        ra, rb = (db.scalar(select(Report).where(Report.number == n)) for n in (a, b))
        assert rb.duplicate_of == ra.id and ra.duplicate_of is None
        assert rb.answers["recruiter_details"] == "factory work, 012 777 888"  # nothing of either is lost
        kinds = db.execute(select(ReportEvent.report_id, ReportEvent.kind, ReportEvent.data)
                           .where(ReportEvent.kind == "merged")).all()
        assert {(k.report_id, tuple(k.data.items())) for k in kinds} == {(rb.id, (("into", a),)),
                                                                          (ra.id, (("from", b),))}
        assert db.scalar(select(AuditEntry.target).where(AuditEntry.action == "report.merge")) == b
    page = client.get(f"/console/reports/{b}").get_data(as_text=True)
    assert "Same event as report" in page and a in page and "same event" in linked_section(page)
    response = post_form(client, f"/console/reports/{b}/unmerge", f"/console/reports/{b}")
    assert response.status_code == 303
    with services.Session() as db:
        assert db.scalar(select(Report.duplicate_of).where(Report.number == b)) is None
        assert db.scalar(select(AuditEntry.target).where(AuditEntry.action == "report.unmerge")) == b
    bad = post_form(client, f"/console/reports/{b}/merge", f"/console/reports/{b}", other="1234567")
    assert bad.status_code == 303
    assert "There is no report 1234567" in client.get(f"/console/reports/{b}").get_data(as_text=True)


def test_recruiters_page_counts_places_and_timeline(client, services):
    numbers = [report(services, f"call {form}", f"+8551700004{i}", area=area)
               for i, (form, area) in enumerate((("012 777 888", "14010101"), ("+855 12 777 888", "14010102"),
                                                 ("0855 12 777 888", "01020101")))]
    report(services, "Golden Star agency", "+85517000049")
    run_worker(services)
    sign_in(client, services, "ngo-cw", "viewer", agency="ngo-safe-migration")
    page = client.get("/console/recruiters").get_data(as_text=True)
    assert NUMBER in page and "golden star" not in page  # named by one report only: not listed by default
    row = page[page.index(NUMBER):page.index("</tr>", page.index(NUMBER))]
    assert ">3</td>" in row and "Angkrong" in row and "Ou Thum" in row
    assert 'class="list stack recruiters"' in page  # read as cards on a phone (360 px)
    assert "golden star" in client.get("/console/recruiters?min=1").get_data(as_text=True)
    link = re.search(r'href="(/console/recruiters/\d+)"', page).group(1)
    detail = client.get(link).get_data(as_text=True)
    assert [detail.index(n) for n in numbers] == sorted(detail.index(n) for n in numbers)  # oldest first
    assert client.get("/console/recruiters?min=0").status_code == 400
    assert client.get("/console/recruiters?kind=car").status_code == 400
    other = client.application.test_client()
    sign_in(other, services, "tracer", "viewer", agency="migrant-tracing-service")
    assert NUMBER not in other.get("/console/recruiters?min=1").get_data(as_text=True)
    assert other.get(link).status_code == 404  # none of its reports names it


def test_recruiters_page_in_khmer(client, services):
    report(services, "call 012 777 888", "+85517000051")
    report(services, "call 012 777 888", "+85517000052")
    run_worker(services)
    sign_in(client, services, "sokha", "admin")
    with services.Session.begin() as db:
        db.execute(update(User).where(User.username == "sokha").values(language="km"))
    page = client.get("/console/recruiters").get_data(as_text=True)
    assert "<h1>មេខ្យល់" in page and "លេខទូរស័ព្ទដូចគ្នា" in page and NUMBER in page
