"""The console: sign-in, scoping on every route, roles, follow-up, the phone vault, the
audit chain, retention. No page holds a reporter's number except the logged reveal."""
from __future__ import annotations

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
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action.in_(("user.disable", "user.enable")))).all()
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
