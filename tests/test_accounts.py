"""Accounts for the whole life of a staff member, in the console and in `python -m hotline users`
(docs/contract.md section 7): the same rules both ways, every change audited, sessions ended or
changed at once, the last line-staff admin kept."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.__main__ import main
from hotline.console.accounts import create_user
from hotline.models import AuditEntry, User
from tests.kit import NEW_PASSWORD, csrf, direct_report, post_form, sign_in

NGO, TRACING = "ngo-safe-migration", "migrant-tracing-service"


def users(*argv, capsys):
    """`python -m hotline users …`: (exit status, stdout lines, stderr)."""
    status = main(["users", *argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def signed_in(client) -> bool:
    return client.get("/console/").status_code == 200


def fresh_sign_in(app, username, password):
    """A new browser signing in with a password; the client."""
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    client.post("/console/login", data={"csrf_token": csrf(page), "username": username, "password": password})
    return client


def audit_of(services, username) -> list[tuple[str, str, dict]]:
    with services.Session() as db:
        return [(e.actor, e.action, e.details) for e in db.scalars(select(AuditEntry).where(
            AuditEntry.target == username, AuditEntry.action.startswith("user.")).order_by(AuditEntry.id))]


# ---- the command line ------------------------------------------------------------------------------
def test_users_add_prints_the_one_time_password_alone_on_the_last_line(app, services, capsys):
    status, lines, _ = users("add", "dara", "--role", "caseworker", "--agency", NGO, "--language", "km", capsys=capsys)
    assert status == 0 and len(lines) == 2 and " " not in lines[-1] and len(lines[-1]) >= 16
    assert fresh_sign_in(app, "dara", lines[-1]).get("/console/").location.endswith("/console/password")
    status, lines, _ = users("list", capsys=capsys)
    assert status == 0 and lines[0].split() == ["dara", "caseworker", NGO, "km", "active"]
    assert audit_of(services, "dara") == [("cli", "user.create", {"role": "caseworker", "agency": NGO})]


@pytest.mark.parametrize("argv,status,words", [
    (("add", "x1"), 2, "--role"),                                          # the contract writes --role as required
    (("add", "x1", "--role", "chief"), 2, "invalid choice"),
    (("add", "x1", "--role", "viewer", "--agency", "no-such-agency"), 1, "no agency"),
    (("add", "x1", "--role", "viewer", "--agency", "pv-angkrong-village"), 1, "no agency"),  # a leader
    (("disable", "nobody-here"), 1, "no user"),
    (("reset", "nobody-here"), 1, "no user"),
    (("set", "nobody-here", "--role", "viewer"), 1, "no user"),
    (("set", "x", "--agency", NGO, "--line-staff"), 2, "not allowed with"),
    (("frobnicate",), 2, "invalid choice"),
])
def test_users_commands_refuse_with_a_reason_and_a_status(app, services, capsys, argv, status, words):
    try:
        answered = main(["users", *argv])
    except SystemExit as stopped:                                        # argparse: a command line that means nothing
        answered = stopped.code
    assert answered == status
    assert words in capsys.readouterr().err


def test_disable_enable_reset_and_set_from_the_command_line(app, client, services, capsys):
    sign_in(client, services, "staff", "admin")                        # the line's admin, signed in elsewhere
    sign_in(app.test_client(), services, "cw", "caseworker", NGO)
    cw = fresh_sign_in(app, "cw", NEW_PASSWORD)
    assert signed_in(cw)

    assert users("disable", "cw", capsys=capsys)[0] == 0
    assert not signed_in(cw)                                             # every session ended at once
    assert not signed_in(fresh_sign_in(app, "cw", NEW_PASSWORD))
    assert users("enable", "cw", capsys=capsys)[0] == 0
    cw = fresh_sign_in(app, "cw", NEW_PASSWORD)                          # as it was, password unchanged
    assert signed_in(cw)

    status, lines, _ = users("reset", "cw", capsys=capsys)
    assert status == 0 and " " not in lines[-1]
    assert not signed_in(cw)                                             # a reset ends its sessions too
    assert not signed_in(fresh_sign_in(app, "cw", NEW_PASSWORD))
    again = fresh_sign_in(app, "cw", lines[-1])
    assert again.get("/console/").location.endswith("/console/password")  # a one-time password again
    with services.Session() as db:
        assert db.scalar(select(User.active).where(User.username == "cw")) is True  # reset leaves it enabled

    status, lines, _ = users("set", "cw", "--role", "viewer", "--line-staff", "--language", "km", capsys=capsys)
    assert status == 0 and lines == ["cw: role caseworker -> viewer", f"cw: agency {NGO} -> line staff",
                                     "cw: language en -> km"]
    assert users("set", "cw", "--language", "km", capsys=capsys)[1] == ["cw: nothing to change"]
    assert [a for _, a, _ in audit_of(services, "cw")] == ["user.create", "user.disable", "user.enable", "user.reset",
                                                          "user.update"]
    assert audit_of(services, "cw")[-1] == ("cli", "user.update", {"role": ["caseworker", "viewer"],
                                                                   "agency": [NGO, None], "language": ["en", "km"]})


def test_the_last_active_line_staff_admin_is_kept(app, services, capsys):
    create_user(services, "boss", "admin")
    create_user(services, "ngo-boss", "admin", NGO)                      # an agency's admin does not count
    for argv in (("disable", "boss"), ("set", "boss", "--role", "caseworker"), ("set", "boss", "--agency", NGO)):
        status, _, err = users(*argv, capsys=capsys)
        assert status == 1 and "last active line-staff admin" in err, argv
    create_user(services, "deputy", "admin")
    assert users("disable", "deputy", capsys=capsys)[0] == 0              # a disabled admin does not count either
    assert users("disable", "boss", capsys=capsys)[0] == 1
    assert users("enable", "deputy", capsys=capsys)[0] == 0
    assert users("set", "boss", "--role", "viewer", capsys=capsys)[0] == 0  # now there is another
    assert users("disable", "deputy", capsys=capsys)[0] == 1


# ---- the console ----------------------------------------------------------------------------------
def test_an_admin_manages_an_account_in_the_console_and_its_sessions_follow(app, client, services):
    number = direct_report(services, "recruiter")
    sign_in(client, services, "staff", "admin")
    cw = app.test_client()
    sign_in(cw, services, "cw", "caseworker", NGO)
    path = f"/console/reports/{number}"
    assert "Change status" in cw.get(path).get_data(as_text=True)

    page = "/console/users/cw"
    assert post_form(client, page, page, role="viewer", agency=NGO, language="km").status_code == 303
    shown = cw.get(path).get_data(as_text=True)                          # the next request reads the change
    assert '<html lang="km">' in shown and 'action="/console/reports/' not in shown.split("Timeline")[0].split("<main>")[1]
    assert post_form(cw, f"{path}/notes", path, note="still here?").status_code == 403

    assert post_form(client, page, page, role="caseworker", agency=TRACING, language="en").status_code == 303
    assert cw.get(path).status_code == 404                               # another agency: not its report any more

    assert post_form(client, f"{page}/disable", page).status_code == 303
    assert not signed_in(cw)
    assert "disabled" in client.get(page).get_data(as_text=True)
    assert post_form(client, f"{page}/enable", page).status_code == 303
    reset = post_form(client, f"{page}/reset", page)
    one_time = reset.get_data(as_text=True).split("<code>")[1].split("</code>")[0]
    assert fresh_sign_in(app, "cw", one_time).get("/console/").location.endswith("/console/password")
    assert [(actor, action) for actor, action, _ in audit_of(services, "cw")] == [
        ("system", "user.create"), ("user:staff", "user.update"), ("user:staff", "user.update"),
        ("user:staff", "user.disable"), ("user:staff", "user.enable"), ("user:staff", "user.reset")]


def test_the_console_keeps_the_last_line_staff_admin(client, services):
    sign_in(client, services, "staff", "admin")
    page = "/console/users/staff"
    for path, data in ((f"{page}/disable", {}), (page, {"role": "caseworker", "agency": "", "language": "en"}),
                       (page, {"role": "admin", "agency": NGO, "language": "en"})):
        post_form(client, path, page, **data)
        assert "last active line-staff admin" in client.get(page).get_data(as_text=True), path
    with services.Session() as db:
        staff = db.scalars(select(User).where(User.username == "staff")).one()
    assert (staff.active, staff.role, staff.agency_id) == (True, "admin", None)


def test_an_agency_admin_manages_its_own_agencys_accounts_only(app, client, services):
    create_user(services, "tracer", "caseworker", TRACING)
    create_user(services, "staff", "admin")
    create_user(services, "ngo-cw", "caseworker", NGO)
    sign_in(client, services, "ngo-admin", "admin", NGO)
    for other in ("tracer", "staff"):
        assert client.get(f"/console/users/{other}").status_code == 404
        for action in ("disable", "reset"):
            assert post_form(client, f"/console/users/{other}/{action}", "/console/users").status_code == 404
    page = "/console/users/ngo-cw"
    assert client.get(page).status_code == 200
    assert post_form(client, page, page, role="caseworker", agency=TRACING, language="en").status_code == 403
    assert post_form(client, page, page, role="caseworker", agency="", language="en").status_code == 403
    assert post_form(client, f"{page}/disable", page).status_code == 303
    with services.Session() as db:
        people = {u.username: (u.agency_id, u.active) for u in db.scalars(select(User))}
    assert people["ngo-cw"] == (NGO, False) and people["tracer"] == (TRACING, True) and people["staff"] == (None, True)
