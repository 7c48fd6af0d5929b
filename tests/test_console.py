"""The console: sign-in, scoping on every route, roles, follow-up, the phone vault, the
audit chain, retention. No page holds a reporter's number except the logged reveal."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from hotline import audit
from hotline.console.auth import create_user
from hotline.models import AuditEntry, OutboundMessage, Report, User, utcnow
from tests.kit import REPORTER, csrf, post_form, run_worker, sign_in

NUMBER_FORMS = ("12345678", "012 345 678", "+855 12 345 678")


def test_sign_in_is_required(client):
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.location


def test_wrong_password_and_throttling(client, services):
    create_user(services, "cw", "caseworker", "ngo-safe-migration")
    page = client.get("/console/login").get_data(as_text=True)
    for _ in range(5):
        assert client.post("/console/login", data={"csrf_token": csrf(page), "username": "cw", "password": "nope"}).status_code == 401
    assert client.post("/console/login", data={"csrf_token": csrf(page), "username": "cw", "password": "nope"}).status_code == 429


def test_forms_need_their_csrf_token(client, services, reports):
    sign_in(client, services, "staff", "admin")
    assert client.post(f"/console/reports/{reports['recruiter']}/notes", data={"note": "x"}).status_code == 400
    # The answer names what is wrong, not a bare "Bad Request".
    refused = client.post(f"/console/reports/{reports['recruiter']}/notes", data={"note": "x"})
    assert "CSRF token is missing" in refused.get_data(as_text=True)
    page = client.get(f"/console/reports/{reports['recruiter']}").get_data(as_text=True)
    empty = client.post(f"/console/reports/{reports['recruiter']}/notes", data={"csrf_token": csrf(page), "note": ""})
    assert empty.status_code == 400 and "note: " in empty.get_data(as_text=True)
    bad = client.post(f"/console/reports/{reports['recruiter']}/deliveries/resend",
                      data={"csrf_token": csrf(page), "means": "pigeon", "row_id": "1"})
    assert bad.status_code == 400 and "means must be one of" in bad.get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/console/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
    assert "HttpOnly" in client.get("/console/login").headers.get("Set-Cookie", "HttpOnly")


def test_every_answer_carries_the_security_headers_once(client):
    from tests.kit import post

    step = "phoneNumber=%2B85512345678&serviceCode=%2A384%2A123%23&sessionId=ATUid_h&networkCode=99999&text="
    answers = {"webhook step": post(client, "africastalking", "/webhooks/africastalking/ussd", step, "valid"),
               "console": client.get("/console/login"), "health": client.get("/healthz"),
               "api": client.get("/api/v1/reports"), "not found": client.get("/console/no-such-page"),
               "webhook": client.post("/webhooks/africastalking/ussd", data={})}
    assert answers["webhook step"].get_data(as_text=True).startswith("CON ")
    for where, response in answers.items():
        for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
            assert len(response.headers.getlist(name)) == 1, (where, name)
    assert answers["console"].headers["Cache-Control"] == "no-store"
    assert "no-store" not in answers["webhook"].headers.get("Cache-Control", "")
    assert "Set-Cookie" not in answers["webhook"].headers and "Set-Cookie" not in answers["api"].headers


def test_agency_sees_only_its_reports(client, services, reports):
    sign_in(client, services, "ngo-cw", "caseworker", "ngo-safe-migration")
    listing = client.get("/console/").get_data(as_text=True)
    assert reports["recruiter"] in listing and reports["urgent"] not in listing
    assert client.get(f"/console/reports/{reports['recruiter']}").status_code == 200
    other = reports["urgent"]
    assert client.get(f"/console/reports/{other}").status_code == 404
    page_path = f"/console/reports/{reports['recruiter']}"
    for action, data in (("status", {"status": "in_progress"}), ("notes", {"note": "x"}), ("assign", {"user": ""}),
                         ("reply", {"text": "hello"}), ("reveal", {"reason": "a good enough reason"})):
        assert post_form(client, f"/console/reports/{other}/{action}", page_path, **data).status_code == 404, action


def test_line_staff_see_everything(client, services, reports):
    sign_in(client, services, "staff", "admin")
    listing = client.get("/console/").get_data(as_text=True)
    assert reports["recruiter"] in listing and reports["urgent"] in listing
    assert client.get("/console/?type=urgent").get_data(as_text=True).count("/console/reports/") == 1


def test_viewer_cannot_write(client, services, reports):
    sign_in(client, services, "viewer", "viewer", "ngo-safe-migration")
    path = f"/console/reports/{reports['recruiter']}"
    page = client.get(path).get_data(as_text=True)
    assert "Change status" not in page
    assert post_form(client, f"{path}/status", path, status="in_progress").status_code == 403
    assert client.get("/console/audit").status_code == 403 and client.get("/console/users").status_code == 403


def test_follow_up_assign_status_note_reply(client, services, reports):
    user_id = sign_in(client, services, "ngo-cw", "caseworker", "ngo-safe-migration")
    number = reports["recruiter"]
    path = f"/console/reports/{number}"
    assert post_form(client, f"{path}/assign", path, user=str(user_id)).status_code == 303
    assert post_form(client, f"{path}/status", path, status="in_progress", note="called the commune chief").status_code == 303
    assert post_form(client, f"{path}/notes", path, note="met the family").status_code == 303
    assert post_form(client, f"{path}/reply", path, text="Thank you, we are following this up.").status_code == 303
    run_worker(services)
    page = client.get(path).get_data(as_text=True)
    for words in ("in_progress", "called the commune chief", "met the family", "ngo-cw", "message sent"):
        assert words in page
    with services.Session() as db:
        relay = db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "relay")).one()
        assert relay.status == "delivered" and services.vault.decrypt(relay.recipient) == REPORTER
        assert db.scalars(select(Report.status).where(Report.number == number)).one() == "in_progress"
        actions = [e.action for e in db.scalars(select(AuditEntry))]
    assert {"report.assign", "report.status", "report.note", "report.message"} <= set(actions)
    # A status the report cannot move to is refused and said so.
    response = post_form(client, f"{path}/status", path, status="new")
    assert response.status_code == 303
    assert "cannot become" in client.get(path).get_data(as_text=True)


def test_reply_is_off_without_consent(client, services, reports):
    sign_in(client, services, "staff", "admin")
    path = f"/console/reports/{reports['urgent']}"
    page = client.get(path).get_data(as_text=True)
    assert "Messaging is off" in page and "did not agree" in page
    post_form(client, f"{path}/reply", path, text="hello")
    with services.Session() as db:
        assert db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "relay")).all() == []


def test_reveal_is_break_glass_and_audited(client, services, reports):
    user_id = sign_in(client, services, "ngo-cw", "caseworker", "ngo-safe-migration")
    number = reports["recruiter"]
    path = f"/console/reports/{number}"
    assert "Reveal number" not in client.get(path).get_data(as_text=True)        # not assigned yet
    assert post_form(client, f"{path}/reveal", path, reason="need to call back about the broker").status_code == 403
    post_form(client, f"{path}/assign", path, user=str(user_id))
    assert post_form(client, f"{path}/reveal", path, reason="short").status_code == 303   # a reason is required
    revealed = post_form(client, f"{path}/reveal", path, reason="need to call back about the broker")
    assert revealed.status_code == 200 and REPORTER in revealed.get_data(as_text=True)
    with services.Session() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "report.reveal")).one()
    assert entry.reason == "need to call back about the broker" and entry.actor == "user:ngo-cw"
    for page in (client.get("/console/").get_data(as_text=True), client.get(path).get_data(as_text=True)):
        assert not any(form in page for form in NUMBER_FORMS)


def test_audit_chain_verifies_and_detects_tampering(client, services, reports):
    sign_in(client, services, "staff", "admin")
    path = f"/console/reports/{reports['recruiter']}"
    post_form(client, f"{path}/notes", path, note="first")
    post_form(client, f"{path}/notes", path, note="second")
    with services.Session() as db:
        assert audit.verify(db).ok
    assert "The chain holds" in client.get("/console/audit").get_data(as_text=True)
    with services.db.begin() as conn:                                          # someone edits the log
        conn.execute(text("UPDATE audit_log SET reason = 'nothing happened' WHERE action = 'report.note'"))
    with services.Session() as db:
        result = audit.verify(db)
    assert not result.ok and "changed" in result.problem
    assert "The chain is broken" in client.get("/console/audit").get_data(as_text=True)
    with services.db.begin() as conn:                                          # or deletes an entry
        conn.execute(text("DELETE FROM audit_log WHERE id = (SELECT MIN(id) FROM audit_log WHERE action = 'report.note')"))
    with services.Session() as db:
        assert not audit.verify(db).ok


def test_admin_creates_users_with_one_time_passwords(client, services):
    sign_in(client, services, "staff", "admin")
    response = post_form(client, "/console/users", "/console/users", username="newcw", role="caseworker",
                         agency="ngo-safe-migration", language="km")
    assert "One-time password" in response.get_data(as_text=True)
    with services.Session() as db:
        user = db.scalar(select(User).where(User.username == "newcw"))
    assert user.must_change_password and user.agency_id == "ngo-safe-migration" and user.language == "km"


# ---- sessions -----------------------------------------------------------------------------------
def copy_of(app, client):
    """Another browser holding a copy of this client's session cookie (as a thief would)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def signed_in(client) -> bool:
    """The console's reports page opens (not a redirect to the sign-in page)."""
    return client.get("/console/").status_code == 200


def _age_sessions(services, **ago):
    """Move the user's server-held sessions back in time (started_at / seen_at by so many minutes)."""
    from hotline.models import ConsoleSession

    with services.Session.begin() as db:
        db.execute(update(ConsoleSession).values(**{k: utcnow() - timedelta(minutes=m) for k, m in ago.items()}))


def test_session_cookie_is_httponly_samesite_and_lasts_8_hours(client, services, settings):
    from dataclasses import replace
    from email.utils import parsedate_to_datetime

    from hotline.console import cookie_config

    sign_in(client, services, "staff", "admin")
    cookie = client.get("/console/").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # development: plain http
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert timedelta(hours=7, minutes=59) < expires - utcnow() <= timedelta(hours=8)
    assert cookie_config(replace(settings, env="production"))["SESSION_COOKIE_SECURE"] is True


def test_idle_session_is_signed_out_by_the_server(app, client, services):
    sign_in(client, services, "staff", "admin")
    _age_sessions(services, seen_at=31)   # the cookie itself is fresh: only the server knows
    assert "/console/login" in client.get("/console/").location
    assert not signed_in(client)


def test_session_ends_8_hours_after_sign_in_however_busy(app, client, services):
    sign_in(client, services, "staff", "admin")
    _age_sessions(services, started_at=7 * 60 + 58, seen_at=1)
    assert signed_in(client)
    _age_sessions(services, started_at=8 * 60 + 1, seen_at=1)
    assert not signed_in(client)


def test_a_copied_cookie_dies_when_its_session_signs_out(app, client, services):
    sign_in(client, services, "cw", "caseworker", "ngo-safe-migration")
    thief = copy_of(app, client)
    elsewhere = app.test_client()                     # the same user signed in on another computer
    from tests.kit import NEW_PASSWORD

    page = elsewhere.get("/console/login").get_data(as_text=True)
    elsewhere.post("/console/login", data={"csrf_token": csrf(page), "username": "cw", "password": NEW_PASSWORD})
    assert signed_in(thief) and signed_in(elsewhere)
    assert post_form(client, "/console/logout", "/console/").status_code == 302
    assert not signed_in(client) and not signed_in(thief)
    assert signed_in(elsewhere)                       # signing out ends that session only
    again = copy_of(app, elsewhere)                   # signing in anew over a session replaces it
    page = elsewhere.get("/console/login").get_data(as_text=True)
    elsewhere.post("/console/login", data={"csrf_token": csrf(page), "username": "cw", "password": NEW_PASSWORD})
    assert signed_in(elsewhere) and not signed_in(again)


def _sign_out_everywhere(app, client, services):
    assert post_form(client, "/console/logout/everywhere", "/console/").status_code == 302


def _change_password(app, client, services):
    page = client.get("/console/password").get_data(as_text=True)
    response = client.post("/console/password", data={"csrf_token": csrf(page), "current": "a long new password",
                                                      "new": "another long password", "repeat": "another long password"})
    assert response.status_code == 302


def _disable(app, client, services):
    from hotline.console.auth import set_active

    set_active(services, "cw", False, actor="user:staff")


@pytest.mark.parametrize("event,current_survives", [(_sign_out_everywhere, False), (_change_password, True),
                                                     (_disable, False)], ids=["everywhere", "password", "disabled"])
def test_a_copied_cookie_dies_when_the_user_ends_their_sessions(app, client, services, event, current_survives):
    sign_in(client, services, "cw", "caseworker", "ngo-safe-migration")
    thief = copy_of(app, client)
    assert signed_in(thief)
    event(app, client, services)
    assert not signed_in(thief)
    assert signed_in(client) is current_survives
    with services.Session() as db:
        actions = set(db.scalars(select(AuditEntry.action)))
    assert {_sign_out_everywhere: "auth.logout_everywhere", _change_password: "auth.password",
            _disable: "user.disable"}[event] in actions


def test_sign_out_everywhere_is_offered_to_every_user(client, services):
    sign_in(client, services, "viewer", "viewer", "ngo-safe-migration")
    assert 'action="/console/logout/everywhere"' in client.get("/console/").get_data(as_text=True)


def test_a_disabled_account_can_be_enabled_again_as_it_was(app, client, services):
    from hotline.console.auth import set_active
    from tests.kit import NEW_PASSWORD

    sign_in(client, services, "cw", "caseworker", "ngo-safe-migration")
    set_active(services, "cw", False, actor="cli")
    fresh = app.test_client()
    page = fresh.get("/console/login").get_data(as_text=True)
    login = {"csrf_token": csrf(page), "username": "cw", "password": NEW_PASSWORD}
    assert fresh.post("/console/login", data=login).status_code == 401
    set_active(services, "cw", True, actor="cli")
    assert fresh.post("/console/login", data=login).status_code == 302 and signed_in(fresh)
    with services.Session() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action.in_(("user.disable", "user.enable"))).order_by(AuditEntry.id)).all()
    assert [(e.action, e.target, e.actor) for e in entries] == [("user.disable", "cw", "cli"), ("user.enable", "cw", "cli")]


def test_retention_erases_numbers_of_long_closed_reports(client, services, reports):
    from workers import jobs

    with services.Session.begin() as db:
        db.execute(update(Report).where(Report.number == reports["recruiter"])
                   .values(status="closed", closed_at=utcnow() - timedelta(days=181)))
        db.execute(update(Report).where(Report.number == reports["urgent"])
                   .values(status="closed", closed_at=utcnow() - timedelta(days=10)))
    assert jobs.erase_expired_numbers() == 1
    with services.Session() as db:
        old, recent = (db.scalars(select(Report).where(Report.number == reports[t])).one() for t in ("recruiter", "urgent"))
        assert old.reporter_phone is None and old.reporter_hash is None and old.phone_erased_at is not None
        assert old.answers and old.type == "recruiter"                          # the report itself stays
        assert recent.reporter_phone is not None
        replies = db.scalars(select(OutboundMessage).where(OutboundMessage.report_id == old.id,
                                                           OutboundMessage.contact_id.is_(None))).all()
        assert all(m.recipient == b"" for m in replies)
    assert jobs.erase_expired_numbers() == 0


def test_dashboard_and_export(client, services, reports):
    sign_in(client, services, "ngo-cw", "caseworker", "ngo-safe-migration")
    page = client.get("/console/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "Prey Veng" in html and "Alert delivery" in html
    export = client.get("/console/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    body = export.get_data(as_text=True)
    assert reports["recruiter"] in body and reports["urgent"] not in body            # scoped
    assert not any(form in body for form in NUMBER_FORMS)
    assert client.get("/console/export.csv?since=yesterday").status_code == 400
    with services.Session() as db:
        assert db.scalars(select(AuditEntry.action).where(AuditEntry.action == "report.export")).all()


# ---- who manages whom, and who reads which audit entries --------------------------------------------
NGO_ID, TRACING_ID = "ngo-safe-migration", "migrant-tracing-service"


def test_agency_admin_creates_accounts_of_its_own_agency_only(app, client, services):
    create_user(services, "staff", "admin")                             # line staff
    create_user(services, "tracer", "caseworker", TRACING_ID)          # another agency
    sign_in(client, services, "ngo-admin", "admin", NGO_ID)
    page = client.get("/console/users").get_data(as_text=True)
    offered = re.findall(r'<option[^>]*value="([^"]*)"', page.split('name="agency"')[1].split("</select>")[0])
    assert offered == [NGO_ID]                                          # neither line staff nor another agency
    listed = re.findall(r'<a href="/console/users/([^"]+)">', page)
    assert listed == ["ngo-admin"]                                      # only its agency's people
    for agency in ("", TRACING_ID, "duty-police-unit", "no-such-agency"):
        refused = post_form(client, "/console/users", "/console/users", username=f"sneaky{agency[:3]}", role="admin",
                            agency=agency, language="en")
        assert refused.status_code == 403, agency
        assert "your own agency only" in refused.get_data(as_text=True)
    made = post_form(client, "/console/users", "/console/users", username="ngo-cw2", role="caseworker", agency=NGO_ID,
                     language="km")
    assert made.status_code == 200 and "One-time password" in made.get_data(as_text=True)
    with services.Session() as db:
        people = {u.username: u.agency_id for u in db.scalars(select(User))}
    assert people == {"staff": None, "tracer": TRACING_ID, "ngo-admin": NGO_ID, "ngo-cw2": NGO_ID}


def test_line_staff_admin_offers_every_agency_and_line_staff(client, services):
    sign_in(client, services, "staff", "admin")
    page = client.get("/console/users").get_data(as_text=True)
    offered = re.findall(r'<option[^>]*value="([^"]*)"', page.split('name="agency"')[1].split("</select>")[0])
    assert offered[0] == "" and {NGO_ID, TRACING_ID, "duty-police-unit"} <= set(offered)
    assert post_form(client, "/console/users", "/console/users", username="staff2", role="admin", agency="",
                     language="en").status_code == 200


def test_agency_admin_reads_only_its_agencys_audit_entries(app, client, services, reports, monkeypatch):
    from hotline import casework
    from hotline.console.auth import create_user as make

    monkeypatch.setenv("NGO_API_TOKEN", "ngo-token-0123456789abcdef")
    ngo_report, other_report = reports["recruiter"], reports["urgent"]
    staff = app.test_client()
    sign_in(staff, services, "staff", "admin")
    for number, words in ((ngo_report, "line note on the NGO's report"), (other_report, "line note elsewhere")):
        post_form(staff, f"/console/reports/{number}/notes", f"/console/reports/{number}", note=words)
    make(services, "tracer", "caseworker", TRACING_ID, actor="user:staff")
    tracer = app.test_client()
    sign_in(tracer, services, "tracer2", "caseworker", TRACING_ID)
    ngo_cw = app.test_client()
    sign_in(ngo_cw, services, "ngo-cw", "caseworker", NGO_ID)
    post_form(ngo_cw, f"/console/reports/{ngo_report}/notes", f"/console/reports/{ngo_report}", note="ngo note")
    response = client.post(f"/api/v1/reports/{ngo_report}/events", json={"note": "by the API"},
                           headers={"Authorization": "Bearer ngo-token-0123456789abcdef"})
    assert response.status_code == 201
    with services.Session.begin() as db:                                # a report the NGO never had, by the NGO's token
        report = db.scalars(select(Report).where(Report.number == other_report)).one()
        casework.add_note(db, report, "written by a token elsewhere", "agency:duty-police-unit")

    sign_in(client, services, "ngo-admin", "admin", NGO_ID)
    rows = re.findall(r'<tr><td data-label="#">\d+</td><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>'
                      r'<td[^>]*>([^<]*)</td>', client.get("/console/audit").get_data(as_text=True))
    assert rows and all(other_report not in target and "tracer" not in actor + target for actor, _, target in rows)
    seen = {(actor, action, target) for actor, action, target in rows}
    assert ("user:staff", "report.note", ngo_report) in seen            # about one of its reports
    assert ("user:ngo-cw", "report.note", ngo_report) in seen and ("user:ngo-cw", "auth.login", "") in seen
    assert ("agency:ngo-safe-migration", "report.note", ngo_report) in seen
    assert ("system", "user.create", "ngo-cw") in seen                  # about one of its people
    assert not any(actor == "user:staff" and target != ngo_report for actor, _, target in rows)
    # Line staff's admins read everything.
    everything = staff.get("/console/audit").get_data(as_text=True)
    assert other_report in everything and "tracer" in everything
    with services.Session() as db:
        assert audit.verify(db).ok


def test_audit_entries_record_the_actors_agency_under_the_hash(app, client, services, reports):
    import hashlib
    import json

    sign_in(client, services, "ngo-cw", "caseworker", NGO_ID)
    path = f"/console/reports/{reports['recruiter']}"
    post_form(client, f"{path}/notes", path, note="a note")
    with services.Session() as db:
        entries = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert audit.verify(db).ok
    by_agency = {e.action: e.agency_id for e in entries}
    assert by_agency["report.note"] == NGO_ID and by_agency["user.create"] is None  # "system" made the account
    line = next(e for e in entries if e.agency_id is None)              # hashed exactly as before 0005
    legacy = json.dumps([line.prev_hash, audit._stamp(line.at), line.actor, line.action, line.target, line.reason,
                         line.details], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert line.hash == hashlib.sha256(legacy.encode()).hexdigest()
    for change in (f"'{TRACING_ID}'", "NULL"):                          # moving an entry to another agency shows
        with services.db.begin() as conn:
            conn.execute(text(f"UPDATE audit_log SET agency_id = {change} WHERE action = 'report.note'"))
        with services.Session() as db:
            result = audit.verify(db)
        assert not result.ok and "changed" in result.problem


def test_agency_admin_sees_and_reveals_only_its_agencys_reports(client, services, reports):
    sign_in(client, services, "ngo-admin", "admin", NGO_ID)
    mine, other = f"/console/reports/{reports['recruiter']}", f"/console/reports/{reports['urgent']}"
    assert client.get(other).status_code == 404
    assert post_form(client, f"{other}/reveal", mine, reason="an emergency in the village",
                     emergency="y").status_code == 404
    revealed = post_form(client, f"{mine}/reveal", mine, reason="call back about the broker")
    assert revealed.status_code == 200 and REPORTER in revealed.get_data(as_text=True)


# ---- sign-in throttling --------------------------------------------------------------------------
def attempt(client, username, password, address="127.0.0.1", headers=None):
    """One sign-in from an address (with the sign-in form's own CSRF token); the status."""
    page = client.get("/console/login", environ_base={"REMOTE_ADDR": address}, headers=headers).get_data(as_text=True)
    return client.post("/console/login", data={"csrf_token": csrf(page), "username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers).status_code


def test_failures_from_one_address_never_lock_out_another_account(app, client, services):
    from tests.kit import NEW_PASSWORD

    sign_in(app.test_client(), services, "boss", "admin")
    for name in ("ana", "bo", "chan", "dara", "eng"):
        create_user(services, name, "caseworker", NGO_ID)
    guesser = app.test_client()                                         # behind the proxy: the same address as all
    statuses = [attempt(guesser, name, "guess", "10.0.0.1") for name in ("ana", "bo", "chan", "dara", "eng", "x") * 5]
    assert statuses.count(401) >= 25
    assert attempt(app.test_client(), "boss", NEW_PASSWORD, "10.0.0.1") == 302


def test_known_device_signs_in_while_others_guess_its_account(app, services):
    from hotline.console import throttle
    from tests.kit import NEW_PASSWORD

    device = app.test_client()
    sign_in(device, services, "boss", "admin")
    cookie = device.get_cookie(throttle.DEVICE_COOKIE, path="/console")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert post_form(device, "/console/logout", "/console/").status_code == 302
    guesser = app.test_client()
    for i in range(25):                                                 # from many addresses
        attempt(guesser, "boss", f"guess {i}", f"10.9.{i}.1")
    assert attempt(app.test_client(), "boss", NEW_PASSWORD, "10.8.0.1") == 429  # an unknown browser waits
    assert attempt(device, "boss", NEW_PASSWORD) == 302                 # the admin's own browser does not
    assert attempt(app.test_client(), "boss", NEW_PASSWORD, "10.8.0.1") == 429
    forged = app.test_client()
    forged.set_cookie(throttle.DEVICE_COOKIE, cookie.value + "x", path="/console")
    assert attempt(forged, "boss", NEW_PASSWORD) == 429


def test_the_pair_limit_stops_guessing_from_one_address(app, services):
    from tests.kit import NEW_PASSWORD

    device = app.test_client()
    sign_in(device, services, "cw", "caseworker", NGO_ID)
    for i in range(5):
        assert attempt(device, "cw", f"guess {i}", "10.1.1.1") == 401
    assert attempt(device, "cw", NEW_PASSWORD, "10.1.1.1") == 429      # even the right password, even known
    assert attempt(app.test_client(), "cw", NEW_PASSWORD, "10.1.1.2") == 302


def test_a_forwarded_address_counts_only_behind_configured_proxies(app, services, settings):
    from dataclasses import replace

    from hotline import create_app
    from tests.kit import NEW_PASSWORD

    sign_in(app.test_client(), services, "cw", "caseworker", NGO_ID)
    spoofer = app.test_client()                                         # HOTLINE_PROXY_HOPS=0: the header is ignored
    for i in range(5):
        attempt(spoofer, "cw", "guess", headers={"X-Forwarded-For": f"203.0.113.{i}"})
    assert attempt(spoofer, "cw", NEW_PASSWORD, headers={"X-Forwarded-For": "203.0.113.99"}) == 429
    services.redis.flushdb()
    proxied = create_app({"settings": replace(settings, proxy_hops=1), "TESTING": True})
    try:
        behind = proxied.test_client()                                  # every request comes from the proxy's address
        for i in range(5):
            attempt(behind, "cw", "guess", "10.0.0.2", headers={"X-Forwarded-For": "203.0.113.7"})
        assert attempt(behind, "cw", NEW_PASSWORD, "10.0.0.2", headers={"X-Forwarded-For": "203.0.113.7"}) == 429
        assert attempt(proxied.test_client(), "cw", NEW_PASSWORD, "10.0.0.2",
                       headers={"X-Forwarded-For": "198.51.100.8"}) == 302
    finally:
        proxied.extensions["hotline"].close()


def test_the_line_hashes_passwords_with_scrypt():
    """The suite hashes with a cheap method (conftest.py); the line itself ships scrypt."""
    import importlib

    from hotline.console import passwords

    cheap = passwords.METHOD
    importlib.reload(passwords)  # the module as the line runs it
    try:
        stored = passwords.make("correct horse battery staple")
        assert passwords.METHOD == "scrypt" and stored.startswith("scrypt:32768:8:1$")
        assert passwords.check(stored, "correct horse battery staple") and not passwords.check(stored, "wrong")
    finally:
        passwords.METHOD = cheap


def test_unknown_and_disabled_users_cost_a_password_check(client, services, monkeypatch):
    from hotline.console import auth, passwords

    create_user(services, "gone", "caseworker", NGO_ID)
    auth.set_active(services, "gone", False)
    checked = []
    real = passwords.check
    monkeypatch.setattr(passwords, "check", lambda hashed, password: checked.append(password) or
                        real(hashed, password))
    assert attempt(client, "nobody-by-this-name", "first guess") == 401
    assert attempt(client, "gone", "second guess") == 401
    assert checked == ["first guess", "second guess"]


# ---- query values ------------------------------------------------------------------------------
BAD_QUERIES = [
    # (path and query, the parameter the answer must name)
    ("/console/?page=%C2%B2", "page"),                  # a superscript two: isdigit() but no int()
    ("/console/?page=%E1%9F%A2", "page"),               # a Khmer digit
    ("/console/?page=0", "page"),
    ("/console/?page=-1", "page"),
    ("/console/?page=1.5", "page"),
    ("/console/?page=99999999999999999999999", "page"),  # past what the database takes as an offset
    ("/console/?page=" + "9" * 5000, "page"),           # past what int() reads
    ("/console/?since=9999-12-31", "since"),
    ("/console/?until=9999-12-31", "until"),            # no day after it
    ("/console/?since=0001-01-01", "since"),
    ("/console/?until=2026-02-30", "until"),
    ("/console/?since=yesterday", "since"),
    ("/console/?since=%C2%B2026-01-01", "since"),
    ("/console/audit?page=%C2%B2", "page"),
    ("/console/audit?page=100000000000000000000", "page"),
    ("/console/export.csv?until=9999-12-31", "until"),
    ("/console/export.csv?since=9999-12-31", "since"),
    ("/console/export.csv?type=%00", "type"),           # PostgreSQL refuses a NUL in a query
    ("/console/export.csv?status=NEW", "status"),
]


@pytest.mark.parametrize("path,name", BAD_QUERIES, ids=[row[0][:60] for row in BAD_QUERIES])
def test_bad_query_values_are_a_400_naming_the_parameter(client, services, path, name):
    sign_in(client, services, "staff", "admin")
    response = client.get(path)
    assert response.status_code == 400, response.status_code
    assert name in response.get_data(as_text=True)


def test_good_query_values_still_filter(client, services, reports):
    sign_in(client, services, "staff", "admin")
    for path in ("/console/?page=1&since=2000-01-01&until=2999-12-31", "/console/?page=2", "/console/audit?page=3",
                 "/console/export.csv?since=2000-01-01&until=2999-12-31", "/console/?since=&until=&page="):
        assert client.get(path).status_code == 200, path
    assert reports["urgent"] in client.get("/console/?since=2000-01-01&until=2999-12-31").get_data(as_text=True)
    assert reports["urgent"] not in client.get("/console/?until=2001-01-01").get_data(as_text=True)


# ---- notes and the phone vault -----------------------------------------------------------------------
def test_notes_are_read_by_the_writers_agency_and_line_staff(app, services):
    from tests.kit import direct_report

    number = direct_report(services, "missing")                        # routed to both agencies
    path = f"/console/reports/{number}"
    people = {"ngo": ("ngo-cw", "caseworker", NGO_ID), "tracing": ("tracer", "caseworker", TRACING_ID),
              "line": ("staff", "admin", None)}
    clients = {}
    for team, (name, role, agency) in people.items():
        clients[team] = app.test_client()
        sign_in(clients[team], services, name, role, agency)
        assert post_form(clients[team], f"{path}/notes", path, note=f"{team} private note").status_code == 303
    post_form(clients["tracing"], f"{path}/status", path, status="in_progress", note="tracing status note")
    pages = {team: c.get(path).get_data(as_text=True) for team, c in clients.items()}
    assert "ngo private note" in pages["ngo"] and "tracing" not in pages["ngo"] and "line private" not in pages["ngo"]
    assert "→ in progress" in pages["ngo"]                              # the status change itself is the report's
    assert "tracing private note" in pages["tracing"] and "tracing status note" in pages["tracing"]
    assert "ngo private" not in pages["tracing"] and "line private" not in pages["tracing"]
    assert all(f"{team} private note" in pages["line"] for team in people) and "tracing status note" in pages["line"]


@pytest.mark.parametrize("consent", [False, None], ids=["said-no", "not-asked"])
def test_reveal_without_consent_is_an_emergency_override(client, services, consent):
    from tests.kit import direct_report

    number = direct_report(services, "recruiter", sender=REPORTER, consent=consent)
    sign_in(client, services, "staff", "admin")
    path = f"/console/reports/{number}"
    page = client.get(path).get_data(as_text=True)
    assert "life or safety is at risk" in page and 'name="emergency"' in page
    refused = post_form(client, f"{path}/reveal", path, reason="the family fears for her now")
    assert refused.status_code == 303 and REPORTER not in refused.get_data(as_text=True)
    flashed = client.get(path).get_data(as_text=True)
    assert "did not agree to be contacted" in flashed and "only in an emergency" in flashed
    with services.Session() as db:
        assert db.scalars(select(AuditEntry).where(AuditEntry.action == "report.reveal")).all() == []
    revealed = post_form(client, f"{path}/reveal", path, reason="the family fears for her now", emergency="y")
    assert revealed.status_code == 200 and REPORTER in revealed.get_data(as_text=True)
    assert "Emergency override" in revealed.get_data(as_text=True)
    with services.Session() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "report.reveal")).one()
    assert entry.details == {"emergency": True, "consent": consent} and entry.reason == "the family fears for her now"
    timeline = client.get(path).get_data(as_text=True).split("Timeline")[1]
    assert "number revealed" in timeline and "emergency override" in timeline
