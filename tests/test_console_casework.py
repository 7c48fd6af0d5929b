"""The console as a caseworker uses it: local times with the zone named, words instead of codes,
casework views with their counts, tags, prepared replies, the read audit, and a CSV that opens right
in a spreadsheet."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from hotline import casework
from hotline.models import AuditEntry, OutboundMessage, Report, User, utcnow
from tests.kit import NGO, direct_report, post_form, run_worker, sign_in

NGO_ID, TRACING_ID = "ngo-safe-migration", "migrant-tracing-service"
UTC = timezone.utc


def at(services, number, moment):
    """Move a report's creation to `moment` (UTC)."""
    with services.Session.begin() as db:
        db.execute(update(Report).where(Report.number == number).values(created_at=moment))


def main_text(html: str) -> str:
    """The page's <main>, tags stripped."""
    return re.sub(r"<[^>]+>", " ", html.split("<main>")[1].split("</main>")[0])


def user_language(services, username, language):
    with services.Session.begin() as db:
        db.execute(update(User).where(User.username == username).values(language=language))


# ---- 1. local time -------------------------------------------------------------------------------------
def test_times_are_shown_in_the_lines_zone_with_the_zone_named(client, services):
    number = direct_report(services, "recruiter")
    at(services, number, datetime(2026, 11, 29, 22, 6, 19, tzinfo=UTC))
    sign_in(client, services, "staff", "admin")
    listing = client.get("/console/").get_data(as_text=True)
    assert "2026-11-30 05:06 +07" in listing and "2026-11-29 22:06" not in listing
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "2026-11-30 05:06 +07" in page
    times = re.findall(r"<time>([^<]+)</time>", page)
    assert times and all(t.endswith(" +07") for t in times)
    audit = client.get("/console/audit").get_data(as_text=True)
    assert all(t.endswith(" +07") for t in re.findall(r'data-label="When">([^<]+)<', audit))
    with services.Session() as db:                                       # stored times stay UTC
        stored = db.scalar(select(Report.created_at).where(Report.number == number))
    assert stored.replace(tzinfo=None) == datetime(2026, 11, 29, 22, 6, 19)


def test_date_filters_and_weekly_counts_use_local_days(client, services):
    late = direct_report(services, "recruiter")                        # Sunday 20:00 UTC: Monday 03:00 in Phnom Penh
    at(services, late, datetime(2026, 11, 29, 20, 0, tzinfo=UTC))
    sign_in(client, services, "staff", "admin")
    assert late in client.get("/console/?since=2026-11-30&until=2026-11-30").get_data(as_text=True)
    assert late not in client.get("/console/?until=2026-11-29").get_data(as_text=True)
    export = client.get("/console/export.csv?since=2026-11-30&until=2026-11-30").get_data(as_text=True)
    assert late in export


def test_another_zone_is_named_too(app, client, services, settings):
    from dataclasses import replace

    from hotline import create_app

    number = direct_report(services, "recruiter")
    at(services, number, datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    london = create_app({"settings": replace(settings, timezone="Europe/London"), "TESTING": True})
    try:
        other = london.test_client()
        sign_in(other, london.extensions["hotline"], "staff", "admin")
        assert "2026-07-01 13:00 BST" in other.get("/console/").get_data(as_text=True)
    finally:
        london.extensions["hotline"].close()


# ---- 2. words, not codes ---------------------------------------------------------------------------
def test_types_statuses_answers_places_and_events_are_words(client, services):
    number = direct_report(services, "recruiter", answers={"job": "job_fishing", "destination": "dest_th",
                                                           "when": "when_week"}, consent=True)
    sign_in(client, services, "staff", "admin")
    path = f"/console/reports/{number}"
    post_form(client, f"{path}/status", path, status="in_progress", note="called")
    english = main_text(client.get(path).get_data(as_text=True))
    for words in ("worrying job offer", "Fishing boat", "Thailand", "This week", "What work was offered?",
                  "Angkrong › Boeng Preah › Ba Phnum › Prey Veng", "in progress", "status changed", "first alert"):
        assert words in english, words
    for code in ("job_fishing", "dest_th", "when_week", "in_progress", "status_changed", "recruiter "):
        assert code not in english, code
    user_language(services, "staff", "km")
    khmer = main_text(client.get(path).get_data(as_text=True))
    for words in ("ទូកនេសាទ", "ការងារគួរឲ្យបារម្ភ", "អង្ក្រង › បឹងព្រះ › បាភ្នំ › ព្រៃវែង", "កំពុងដោះស្រាយ"):
        assert words in khmer, words
    listing = main_text(client.get("/console/").get_data(as_text=True))
    assert "ការងារគួរឲ្យបារម្ភ" in listing and "ព្រៃវែង" in listing


def test_the_level_column_shows_a_level_never_an_event_id(client, services, monkeypatch):
    monkeypatch.setenv("NGO_WEBHOOK_SECRET", "a-test-secret")
    monkeypatch.setattr("hotline.outbound.means.webhook.requests.post", lambda *a, **k: type("R", (), {"status_code": 200})())
    number = direct_report(services, "recruiter")
    sign_in(client, services, "staff", "admin")
    path = f"/console/reports/{number}"
    for _ in range(3):                                                   # event ids grow past any level
        post_form(client, f"{path}/notes", path, note="padding the timeline")
    post_form(client, f"{path}/status", path, status="in_progress")
    run_worker(services)
    with services.Session() as db:
        from hotline.models import Alert

        updated = db.scalars(select(Alert).where(Alert.kind == "updated")).one()
    assert updated.level > 3                                             # the row keeps the event's id there
    rows = re.findall(r'<tr class="delivery[^"]*">(.*?)</tr>', client.get(path).get_data(as_text=True), re.S)
    levels = {re.sub(r"<[^>]+>", "", re.search(r'data-label="Kind">(.*?)</td>', r, re.S).group(1)).strip():
              re.search(r'data-label="Level">(.*?)</td>', r, re.S).group(1) for r in rows}
    assert levels["status update"] == "—" and str(updated.level) not in levels.values()
    assert levels["first alert"] in ("1", "1 (village)")


@pytest.mark.parametrize("status,offered", [
    ("new", ["acknowledged", "in_progress", "referred", "closed"]),
    ("acknowledged", ["in_progress", "referred", "closed"]),
    ("in_progress", ["referred", "closed"]),
    ("referred", ["closed", "in_progress"]),
    ("closed", ["in_progress"]),
])
def test_the_status_form_offers_allowed_moves_the_natural_next_first(client, services, status, offered):
    assert casework.moves(status) == offered
    number = direct_report(services, "recruiter")
    with services.Session.begin() as db:
        db.execute(update(Report).where(Report.number == number).values(status=status))
    sign_in(client, services, "staff", "admin")
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    select_html = page.split('name="status"')[1].split("</select>")[0]
    assert re.findall(r'<option[^>]*value="([^"]+)"', select_html) == offered


# ---- 5. casework views, tags, prepared replies ---------------------------------------------------------
def counts(html: str) -> dict[str, int]:
    return {view: int(n) for view, n in re.findall(r'class="view (\w+)[^"]*"[^>]*>[^<]*<span class="count">(\d+)', html)}


def listed(html: str) -> set[str]:
    return set(re.findall(r'href="/console/reports/(\d+)"', html))


def test_casework_views_with_their_counts(client, services):
    user_id = sign_in(client, services, "staff", "admin")
    mine = direct_report(services, "recruiter")
    late = direct_report(services, "recruiter")
    nobody = direct_report(services, "recruiter", area="02010101")     # Battambang: nobody takes recruiter there
    closed = direct_report(services, "missing")
    with services.Session.begin() as db:
        db.execute(update(Report).where(Report.number == mine).values(assigned_to=user_id))
        db.execute(update(Report).where(Report.number == late).values(created_at=utcnow() - timedelta(hours=3)))
        db.execute(update(Report).where(Report.number == closed).values(status="closed"))
    page = client.get("/console/").get_data(as_text=True)
    assert counts(page) == {"all": 4, "mine": 1, "unassigned": 2, "overdue": 1, "nobody": 1}
    assert listed(client.get("/console/?view=mine").get_data(as_text=True)) == {mine}
    assert listed(client.get("/console/?view=unassigned").get_data(as_text=True)) == {late, nobody}
    assert listed(client.get("/console/?view=overdue").get_data(as_text=True)) == {late}  # recruiter: 2 h window
    flagged = client.get("/console/?view=nobody").get_data(as_text=True)
    assert listed(flagged) == {nobody} and "reached nobody" in flagged
    report = main_text(client.get(f"/console/reports/{nobody}").get_data(as_text=True))
    assert "This report reached nobody" in report and "No contact in the directory covers" in report
    assert "Thmei › Kantueu Muoy" in report and "worrying job offer" in report
    assert "reached nobody" not in main_text(client.get(f"/console/reports/{mine}").get_data(as_text=True))
    assert client.get("/console/?view=everything").status_code == 400


def test_an_agencys_views_count_its_own_reports(client, services):
    direct_report(services, "recruiter")                               # routed to the NGO
    direct_report(services, "urgent")                                  # the duty unit's only
    sign_in(client, services, "ngo-cw", "caseworker", NGO_ID)
    assert counts(client.get("/console/").get_data(as_text=True)) == {"all": 1, "mine": 0, "unassigned": 1,
                                                                      "overdue": 0, "nobody": 0}


def test_tags_are_read_by_the_writers_agency_and_line_staff(app, services):
    number = direct_report(services, "missing")                        # routed to both agencies
    path = f"/console/reports/{number}"
    clients = {}
    for team, (name, role, agency) in {"ngo": ("ngo-cw", "caseworker", NGO_ID),
                                       "tracing": ("tracer", "caseworker", TRACING_ID),
                                       "line": ("staff", "admin", None)}.items():
        clients[team] = app.test_client()
        sign_in(clients[team], services, name, role, agency)
        assert post_form(clients[team], f"{path}/tags", path, tag=f"{team} Broker X").status_code == 303
    post_form(clients["ngo"], f"{path}/tags", path, tag="ថ្ងៃសុក្រ")      # Khmer words make a tag too
    post_form(clients["ngo"], f"{path}/tags", path, tag="<script>")       # nothing but words
    shown = {team: main_text(c.get(path).get_data(as_text=True)) for team, c in clients.items()}
    assert "ngo-broker-x" in shown["ngo"] and "ថ្ងៃសុក្រ" in shown["ngo"] and "tracing-broker-x" not in shown["ngo"]
    assert "tracing-broker-x" in shown["tracing"] and "ngo-broker-x" not in shown["tracing"]
    assert all(f"{team}-broker-x" in shown["line"] for team in ("ngo", "tracing", "line"))
    assert "line-broker-x" not in shown["ngo"] + shown["tracing"]
    assert "script" not in shown["ngo"]
    for team, c in clients.items():                                      # the list filters by one's own tags
        assert listed(c.get("/console/?tag=ngo-broker-x").get_data(as_text=True)) == (set() if team == "tracing"
                                                                                      else {number})
    post_form(clients["ngo"], f"{path}/tags/remove", path, tag="ngo-broker-x")
    post_form(clients["tracing"], f"{path}/tags/remove", path, tag="line-broker-x")  # not its team's: stays
    line = main_text(clients["line"].get(path).get_data(as_text=True))
    assert "ngo-broker-x" not in line and "line-broker-x" in line
    with services.Session() as db:
        actions = [e.action for e in db.scalars(select(AuditEntry).where(AuditEntry.action.in_(("report.tag", "report.untag"))))]
    assert actions.count("report.tag") == 4 and actions.count("report.untag") == 1


def test_a_prepared_reply_goes_out_in_the_reporters_language(client, services):
    number = direct_report(services, "recruiter", sender="+85512345678", consent=True)
    with services.Session.begin() as db:
        db.execute(update(Report).where(Report.number == number).values(language="km"))
    sign_in(client, services, "ngo-cw", "caseworker", NGO_ID)
    path = f"/console/reports/{number}"
    page = client.get(path).get_data(as_text=True)
    offered = re.findall(r'<option[^>]*value="(\w+)"', page.split('name="reply"')[1].split("</select>")[0])
    assert offered == ["thanks", "more_details", "closed", "danger"]
    assert f"We have your message, number {number}" in page            # offered in the reader's words
    assert post_form(client, f"{path}/reply/prepared", path, reply="thanks").status_code == 303
    assert post_form(client, f"{path}/reply/prepared", path, reply="no-such-reply").status_code == 303
    assert "There is no such prepared reply" in client.get(path).get_data(as_text=True)
    run_worker(services)
    with services.Session() as db:
        relay = db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "relay")).one()
    assert relay.body == f"សូមអរគុណ។ យើងបានទទួលសាររបស់អ្នក លេខ {number}។ មានអ្នកកំពុងតាមដាន។"
    assert relay.status == "delivered"


def test_no_prepared_reply_to_a_reporter_who_did_not_agree(client, services):
    number = direct_report(services, "recruiter", sender="+85512345678", consent=False)
    sign_in(client, services, "staff", "admin")
    path = f"/console/reports/{number}"
    post_form(client, f"{path}/reply/prepared", path, reply="thanks")
    assert "did not agree" in client.get(path).get_data(as_text=True)
    with services.Session() as db:
        assert db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "relay")).all() == []


# ---- 6. read audit --------------------------------------------------------------------------------------
def test_opening_a_report_is_recorded_and_shown_on_it(client, services, monkeypatch):
    monkeypatch.setenv("NGO_API_TOKEN", NGO)
    number = direct_report(services, "recruiter")
    sign_in(client, services, "ngo-cw", "caseworker", NGO_ID)
    client.get(f"/console/reports/{number}")
    assert client.get(f"/api/v1/reports/{number}", headers={"Authorization": f"Bearer {NGO}"}).status_code == 200
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    opened = page.split("Opened by")[1]
    assert "user:ngo-cw" in opened and "(2 times)" in opened and "agency:ngo-safe-migration" in opened
    assert re.search(r"user:ngo-cw · \d{4}-\d\d-\d\d \d\d:\d\d \+07", opened)
    with services.Session() as db:
        views = [(e.actor, e.target) for e in db.scalars(select(AuditEntry).where(AuditEntry.action == "report.view").order_by(AuditEntry.id))]
    assert views == [("user:ngo-cw", number), ("agency:ngo-safe-migration", number), ("user:ngo-cw", number)]


def test_the_audit_page_filters_by_user_report_and_action(app, client, services):
    one, two = direct_report(services, "recruiter"), direct_report(services, "recruiter")
    cw = app.test_client()
    sign_in(cw, services, "ngo-cw", "caseworker", NGO_ID)
    for number in (one, two):
        cw.get(f"/console/reports/{number}")
        post_form(cw, f"/console/reports/{number}/notes", f"/console/reports/{number}", note="seen")
    sign_in(client, services, "staff", "admin")

    def rows(query):
        html = client.get("/console/audit?" + query).get_data(as_text=True)
        return [tuple(re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))[2:5]
                for row in re.findall(r"<tr><td data-label=\"#\">.*?</tr>", html, re.S)]

    assert set(rows(f"report={one}")) == {("user:ngo-cw", "report.view", one), ("user:ngo-cw", "report.note", one)}
    assert {r[1] for r in rows("user=ngo-cw")} == {"auth.login", "auth.password", "report.view", "report.note"}
    assert rows(f"user=ngo-cw&action=report.note&report={two}") == [("user:ngo-cw", "report.note", two)]
    assert rows("user=agency:no-such") == []
    assert client.get("/console/audit?action=report.frobnicate").status_code == 400
    assert client.get("/console/audit?report=12").status_code == 400


# ---- 7. a CSV that opens right in a spreadsheet ------------------------------------------------------------
def test_csv_has_a_bom_words_in_the_readers_language_codes_beside_them_and_local_times(client, services):
    number = direct_report(services, "recruiter", answers={"job": "job_fishing"})
    at(services, number, datetime(2026, 11, 29, 22, 6, 19, tzinfo=UTC))
    sign_in(client, services, "staff", "admin")
    user_language(services, "staff", "km")
    response = client.get("/console/export.csv")
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()) and response.mimetype == "text/csv"
    assert "charset=utf-8" in response.headers["Content-Type"]
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    row = dict(zip(table[0], table[1]))
    assert row["ប្រភេទ"] == "ការងារគួរឲ្យបារម្ភ" and row["ប្រភេទ (កូដ)"] == "recruiter"
    assert row["ពេលទទួល"] == "2026-11-30T05:06:19+07:00"
    assert row["ភូមិ"] == "អង្ក្រង" and row["ភូមិ (កូដ)"] == "14010101"
    assert "ទូកនេសាទ" in table[1] and "job_fishing" in table[1]
    user_language(services, "staff", "en")
    english = list(csv.reader(io.StringIO(client.get("/console/export.csv").get_data().decode("utf-8-sig"))))
    row = dict(zip(english[0], english[1]))
    assert (row["Type"], row["Type (code)"], row["Status"], row["Status (code)"]) == ("worrying job offer", "recruiter",
                                                                                       "new", "new")
    assert (row["What work was offered?"], row["What work was offered? (code)"]) == ("Fishing boat", "job_fishing")
