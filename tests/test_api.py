"""The partner API (docs/contract.md section 5), end to end: reports made over the real USSD and
SMS webhooks, routed by a real rq worker, read and followed up with agency tokens.

Tables: who may see what (every route), filters and pages, status changes, notes, messages
to the reporter, and hostile requests that must be answered 4xx in JSON, never 500."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from hotline import api, queues, reportnumber
from hotline import reports as report_store
from hotline.directory import Contact
from hotline.models import AuditEntry, OutboundMessage, Report, ReportEvent
from tests.kit import NGO, REPORTER, TRACING, URGENT_STEPS, direct_report, sms, ussd
from tests.kit import run_worker as work

REPORTER_FORMS = ("12345678", "012 345 678", "012345678", "85512345678")
"""Every way the reporter's number could leak into a body."""

RECRUITER_STEPS = ("1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
                   "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99")
"""A recruiter report in Angkrong village (14010101), every optional question skipped; consent comes last."""
MISSING_STEPS = ("2", "2*14010101", "2*14010101*99", "2*14010101*99*99", "2*14010101*99*99*99")


@pytest.fixture
def tokens(monkeypatch):
    """The sample directory's two agencies with tokens; the duty police unit has none."""
    monkeypatch.setenv("NGO_API_TOKEN", NGO)
    monkeypatch.setenv("TRACING_API_TOKEN", TRACING)
    return {"ngo": NGO, "tracing": TRACING}


def call(client, method, path, token=NGO, body=None, raw=None, content_type="application/json", headers=None):
    """One API request; `body` is sent as JSON, `raw` as it is."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body) if body is not None else raw
    if data is not None and content_type is not None:
        all_headers["Content-Type"] = content_type
    return client.open(path, method=method, data=data, headers=all_headers)


def assert_error(response, status, field=None):
    """A JSON error document of exactly the contract's shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    doc = response.get_json()
    assert set(doc) == {"error", "field"} and isinstance(doc["error"], str) and doc["error"]
    if field is not None:
        assert doc["field"] == field, doc
    return doc


def ussd_report(client, services, steps, session_id, consent=None, phone=REPORTER) -> str:
    """A report made over the USSD webhook and routed by a worker; its number."""
    ussd(client, session_id, "", phone)
    last = ""
    for full in steps:
        last = ussd(client, session_id, full, phone)
    if consent is not None:
        last = ussd(client, session_id, f"{steps[-1]}*{1 if consent else 2}", phone)
    assert last.startswith("END "), last
    work(services)
    with services.Session() as session:
        report = session.scalars(select(Report).order_by(Report.id.desc())).first()
        assert report.routing == "routed" and report.number in last
        return report.number


# ---- the OpenAPI document ---------------------------------------------------------------------
def _resolve(doc, ref):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def test_openapi_document_lists_every_route(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = json.loads(response.get_data())
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] and doc["info"]["version"]
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule.replace("<number>", "{number}")
            served[path] = {m.lower() for m in rule.methods} - {"head", "options"}
    documented = {path: {m for m in item if m in ("get", "post", "put", "patch", "delete")}
                  for path, item in doc["paths"].items()}
    assert documented == served
    assert set(served) == {"/api/v1/openapi.json", "/api/v1/reports", "/api/v1/reports/{number}",
                           "/api/v1/reports/{number}/events", "/api/v1/reports/{number}/messages", "/api/v1/clusters"}
    # every reference resolves; every operation documents its errors with the Error schema
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        assert _resolve(doc, ref) is not None
    for path, item in doc["paths"].items():
        for method in documented[path]:
            op = item[method]
            assert op["operationId"] and {"200", "201", "202"} & set(op["responses"])
            if path != "/api/v1/openapi.json":
                assert op["security"] == [{"bearerAuth": []}]
                assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
                for code, resp in op["responses"].items():
                    if code.startswith(("4", "5")):
                        assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert set(doc["components"]["schemas"]["EventRequest"]["properties"]) == set(api.EVENT_FIELDS)
    assert set(doc["components"]["schemas"]["MessageRequest"]["properties"]) == set(api.MESSAGE_FIELDS)
    listed = {p["name"] for p in doc["paths"]["/api/v1/reports"]["get"]["parameters"]}
    assert listed == set(api.LIST_PARAMS)


# ---- tokens -----------------------------------------------------------------------------------
def _agency(id_, env, kind="agency"):
    return Contact(id=id_, name=id_, kind=kind, phone=None, language="en", areas=("14",),
                   reports=frozenset({"recruiter"}), api_token_env=env)


@pytest.mark.parametrize("environ,token,expected", [
    ({"A": "alpha", "B": "beta"}, "alpha", "a"),
    ({"A": "alpha", "B": "beta"}, "beta", "b"),
    ({"A": "alpha", "B": "beta"}, "gamma", None),
    ({"A": "alpha", "B": "beta"}, "alph", None),
    ({"A": "alpha", "B": "beta"}, "alphaa", None),
    ({"A": "", "B": "beta"}, "", None),                  # an empty variable never matches
    ({"A": "   ", "B": "beta"}, "   ", None),
    ({"B": "beta"}, "", None),                           # nor an unset one
    ({"A": "same", "B": "same"}, "same", None),          # one token for two agencies: whose is it? refused
    ({"A": "alpha\n", "B": "beta"}, "alpha", "a"),       # a trailing newline from a secrets file
    ({"A": "ålpha", "B": "beta"}, "ålpha", "a"),
    ({"A": "alpha", "B": "beta", "L": "leader-token"}, "leader-token", None),  # leaders get no API
    ({"A": "alpha", "B": "beta", "N": "none"}, "none", None),                    # no api_token_env
])
def test_agency_for_token(environ, token, expected):
    contacts = [_agency("a", "A"), _agency("b", "B"), _agency("leader", "L", kind="leader"), _agency("n", None)]
    found = api.agency_for_token(contacts, token, environ)
    assert (found.id if found else None) == expected


ROUTES = [("GET", "/api/v1/reports", None), ("GET", "/api/v1/reports/{n}", None),
          ("POST", "/api/v1/reports/{n}/events", {"note": "seen"}),
          ("POST", "/api/v1/reports/{n}/messages", {"text": "hello"})]


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Bearer    ", "bearer", "Basic bmdvOnNlY3JldA==", f"Token {NGO}",
    f"Bearer {NGO}x", f"Bearer {NGO[:-1]}", f"Bearer {NGO} extra", f"Bearer{NGO}", f"Bearer {NGO},",
    "Bearer duty-police-unit", "Bearer NGO_API_TOKEN", "Bearer null", "Bearer ' OR '1'='1",
    "Bearer \u00fc\u00f1\u00ee", "Bearer " + "A" * 10000,
])
@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_refuses_a_missing_or_wrong_token(client, services, tokens, authorization, method, path, body):
    number = direct_report(services)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = call(client, method, path.format(n=number), token=None, body=body, headers=headers)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with services.Session() as session:  # nothing was written
        assert session.scalars(select(ReportEvent.kind).where(ReportEvent.kind.in_(("note", "message_sent")))).all() == []


def test_a_token_whose_variable_is_unset_or_empty_opens_nothing(client, services, monkeypatch):
    monkeypatch.setenv("NGO_API_TOKEN", "")
    monkeypatch.delenv("TRACING_API_TOKEN", raising=False)
    for token in ("", " ", "x"):
        assert_error(call(client, "GET", "/api/v1/reports", token=token), 401)


def test_lower_case_scheme_is_accepted(client, tokens):
    response = client.get("/api/v1/reports", headers={"Authorization": f"bearer {NGO}"})
    assert response.status_code == 200


# ---- scoping ----------------------------------------------------------------------------------
def test_each_agency_sees_only_reports_routed_to_it(client, services, tokens):
    recruiter = ussd_report(client, services, RECRUITER_STEPS, "ATUid_api_r", consent=True)
    missing = ussd_report(client, services, MISSING_STEPS, "ATUid_api_m", consent=True, phone="+85512345601")
    urgent = ussd_report(client, services, URGENT_STEPS, "ATUid_api_u", phone="+85512345602")
    never = "1234567"
    never = never[:-1] + reportnumber.check_digit(never[:-1])  # well-formed, but no such report

    def listed(token):
        doc = call(client, "GET", "/api/v1/reports", token=token).get_json()
        return sorted(r["number"] for r in doc["reports"])

    assert listed(NGO) == sorted([recruiter, missing])   # the NGO: recruiter and missing in province 14
    assert listed(TRACING) == [missing]                  # tracing: missing only
    # every route: the other agency's report is 404, exactly like a report that does not exist
    for token, hidden, visible in ((TRACING, recruiter, missing), (NGO, urgent, recruiter), (TRACING, urgent, missing)):
        for method, path, body in ROUTES[1:]:
            seen = call(client, method, path.format(n=visible), token=token, body=body)
            assert seen.status_code in (200, 201, 202), seen.get_data(as_text=True)
            bodies = [assert_error(call(client, method, path.format(n=n), token=token, body=body), 404)
                      for n in (hidden, never, "0000000", "abc", "12345678901234567890")]
            assert all(b == bodies[0] for b in bodies)
    # the tracing service's writes never touched the recruiter report
    with services.Session() as session:
        actors = {e.actor for e in session.scalars(select(Report).where(Report.number == recruiter)).one().events}
    assert "agency:migrant-tracing-service" not in actors


def test_detail_has_area_answers_status_and_timeline(client, services, tokens):
    number = ussd_report(client, services, RECRUITER_STEPS, "ATUid_api_d", consent=True)
    doc = call(client, "GET", f"/api/v1/reports/{number}").get_json()
    assert doc["number"] == number and doc["type"] == "recruiter" and doc["status"] == "new"
    assert doc["area"]["code"] == "14010101" and [a["code"] for a in doc["area"]["path"]] == ["14", "1401", "140101", "14010101"]
    assert all(a["name_en"] and a["name_km"] for a in doc["area"]["path"])
    assert doc["contact_allowed"] is True and isinstance(doc["answers"], dict)
    assert [e["kind"] for e in doc["timeline"]] == ["created", "routed"]
    assert doc["timeline"][1]["data"]["agencies"] == ["ngo-safe-migration"]
    for entry in doc["timeline"]:
        assert set(entry) == {"kind", "at", "actor", "data"}
        assert datetime.fromisoformat(entry["at"]).tzinfo is not None
    # a number with spaces or dashes, as people write it, is the same report
    spaced = f"{number[:3]} {number[3:]}"
    assert call(client, "GET", f"/api/v1/reports/{spaced}").get_json()["number"] == number


def test_unknown_timeline_kinds_are_left_out_and_reporter_details_carry_no_text(client, services, tokens):
    number = direct_report(services, sender=REPORTER)
    with services.Session.begin() as session:
        report = session.scalars(select(Report).where(Report.number == number)).one()
        report_store.add_event(session, report, "number_revealed", actor="user:admin", data={"reason": "x"})
        report_store.add_event(session, report, "detail_added", actor="reporter", data={"text": "call 012345678"})
        report_store.add_event(session, report, "something_new", data={"phone": REPORTER})
    doc = call(client, "GET", f"/api/v1/reports/{number}").get_json()
    kinds = [e["kind"] for e in doc["timeline"]]
    assert "number_revealed" not in kinds and "something_new" not in kinds
    assert [e["data"] for e in doc["timeline"] if e["kind"] == "detail_added"] == [{}]


# ---- filters and pages ------------------------------------------------------------------------
@pytest.fixture
def many(services, tokens):
    """Reports for the NGO: 4 recruiter, 2 missing, 1 unsorted; one recruiter report is closed."""
    numbers = [direct_report(services, t) for t in ("recruiter", "missing", "recruiter", "unsorted", "recruiter",
                                                     "missing", "recruiter")]
    direct_report(services, "urgent")  # the NGO never sees urgent reports
    with services.Session.begin() as session:
        session.scalars(select(Report).where(Report.number == numbers[0])).one().status = "closed"
    return numbers


@pytest.mark.parametrize("query,expected", [
    ("", [0, 1, 2, 3, 4, 5, 6]),
    ("type=recruiter", [0, 2, 4, 6]),
    ("type=missing", [1, 5]),
    ("type=unsorted", [3]),
    ("type=urgent", []),
    ("status=closed", [0]),
    ("status=new", [1, 2, 3, 4, 5, 6]),
    ("status=new&type=recruiter", [2, 4, 6]),
    ("status=referred", []),
    ("since=2000-01-01", [0, 1, 2, 3, 4, 5, 6]),
    ("since=2000-01-01T00:00:00Z", [0, 1, 2, 3, 4, 5, 6]),
    ("since=2999-01-01", []),
    ("since=2999-01-01T00:00:00%2B07:00", []),
    ("since=2999-01-01T00:00:00+07:00", []),  # a `+` that arrived as a space
    ("type=missing&since=2000-01-01T00:00", [1, 5]),
    ("since=0001-01-01T00:00%2B07:00", [0, 1, 2, 3, 4, 5, 6]),  # before year 1 in UTC: everything
    ("since=9999-12-31T23:59:59.999999-23:59", []),             # after year 9999 in UTC: nothing
])
def test_filters(client, many, query, expected):
    doc = call(client, "GET", f"/api/v1/reports?{query}").get_json()
    assert [r["number"] for r in doc["reports"]] == [many[i] for i in reversed(expected)]  # newest first
    assert doc["total"] == len(expected) and doc["next"] is None


UTC = timezone.utc


@pytest.mark.parametrize("text,expected", [
    ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
    ("2024-02-29", datetime(2024, 2, 29, tzinfo=UTC)),
    ("2026-01-31T06:00", datetime(2026, 1, 31, 6, tzinfo=UTC)),
    ("2026-01-31 06:00:05", datetime(2026, 1, 31, 6, 0, 5, tzinfo=UTC)),
    ("2026-01-31T06:00:05.123456789Z", datetime(2026, 1, 31, 6, 0, 5, 123456, tzinfo=UTC)),
    ("2026-01-31T06:00:00+07:00", datetime(2026, 1, 30, 23, tzinfo=UTC)),
    ("2026-01-31T06:00:00 07:00", datetime(2026, 1, 30, 23, tzinfo=UTC)),   # `+` sent unencoded
    ("2026-01-31T06:00:00-0530", datetime(2026, 1, 31, 11, 30, tzinfo=UTC)),
    ("2026-01-31T06:00+07", datetime(2026, 1, 30, 23, tzinfo=UTC)),
    ("0001-01-01T00:00+07:00", datetime.min.replace(tzinfo=UTC)),
    ("9999-12-31T23:00-07:00", datetime.max.replace(tzinfo=UTC)),
    ("2025-02-29T06:00", datetime(2025, 3, 1, 6, tzinfo=UTC)),  # no such day: the day after 28 February
    ("2026-04-31", None), ("2026-13-01", None), ("0000-01-01", None),
    ("2026-01-31T24:00", None), ("2026-01-31T06:60", None), ("2026-01-31T06:00+24:00", None),
    ("2026-1-31", None), ("26-01-31", None), ("20260131", None), ("2026-W05-6", None), ("2026-031", None),
    ("2026-01-31\n", None), ("٢٠٢٦-01-31", None), ("", None), ("now", None),
])
def test_parse_since(text, expected):
    if expected is None:
        with pytest.raises(ValueError):
            api.parse_since(text)
    else:
        assert api.parse_since(text) == expected


def test_since_is_compared_in_utc(client, services, tokens):
    number = direct_report(services)
    with services.Session() as session:
        created = session.scalars(select(Report.created_at).where(Report.number == number)).one()
    created = created.replace(tzinfo=timezone.utc) if created.tzinfo is None else created
    before = (created - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=7)))
    after = (created + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5)))
    for moment, count in ((before, 1), (after, 0)):
        doc = call(client, "GET", "/api/v1/reports?since=" + moment.isoformat().replace("+", "%2B")).get_json()
        assert doc["total"] == count


def test_pages_follow_next_and_stay_stable_when_reports_arrive(client, services, many):
    first = call(client, "GET", "/api/v1/reports?per_page=3&type=recruiter").get_json()
    assert first["page"] == 1 and first["per_page"] == 3 and first["total"] == 4
    assert [r["number"] for r in first["reports"]] == [many[6], many[4], many[2]]
    assert first["next"].startswith("https://line.example.org/api/v1/reports?")
    assert "type=recruiter" in first["next"] and "page=2" in first["next"] and "per_page=3" in first["next"]
    # two new recruiter reports arrive before the next page is asked for
    newer = [direct_report(services), direct_report(services)]
    second = call(client, "GET", first["next"].removeprefix("https://line.example.org")).get_json()
    assert second["page"] == 2 and [r["number"] for r in second["reports"]] == [many[0]]
    assert second["next"] is None and second["total"] == 6
    # a fresh first page shows them
    fresh = call(client, "GET", "/api/v1/reports?per_page=2&type=recruiter").get_json()
    assert [r["number"] for r in fresh["reports"]] == newer[::-1]


def test_every_report_on_exactly_one_page(client, many):
    seen, url, pages = [], "/api/v1/reports?per_page=2", 0
    while url:
        doc = call(client, "GET", url).get_json()
        pages += 1
        assert doc["page"] == pages and len(doc["reports"]) <= 2
        seen += [r["number"] for r in doc["reports"]]
        url = doc["next"] and doc["next"].removeprefix("https://line.example.org")
    assert pages == 4 and seen == many[::-1]


@pytest.mark.parametrize("query,numbers,next_", [
    ("page=2&per_page=3", [3, 2, 1], True),
    ("page=3&per_page=3", [0], False),
    ("page=4&per_page=3", [], False),
    ("page=1000000000&per_page=100", [], False),
    ("per_page=100", [6, 5, 4, 3, 2, 1, 0], False),
    ("per_page=1", [6], True),
    ("page=001&per_page=7", [6, 5, 4, 3, 2, 1, 0], False),
])
def test_page_numbers(client, many, query, numbers, next_):
    doc = call(client, "GET", f"/api/v1/reports?{query}").get_json()
    assert [r["number"] for r in doc["reports"]] == [many[i] for i in numbers]
    assert (doc["next"] is not None) == next_ and doc["total"] == 7


def test_list_items_are_the_partner_payload(client, services, tokens):
    number = ussd_report(client, services, MISSING_STEPS, "ATUid_api_p", consent=False)
    doc = call(client, "GET", "/api/v1/reports").get_json()
    [item] = doc["reports"]
    assert item["number"] == number and item["type"] == "missing" and item["contact_allowed"] is False
    assert set(item) == {"number", "type", "status", "area", "answers", "language", "channel", "contact_allowed",
                         "created_at", "updated_at"}
    assert datetime.fromisoformat(item["created_at"]).utcoffset() == timedelta(0)


def test_reads_are_at_most_two_queries(client, services, many):
    """Besides, reading one report appends its `report.view` entry to the audit log (the last hash, then
    the entry in a savepoint): those statements are the read audit's, not the read's; and reads its links
    (one more query, whatever number of links)."""
    statements = []

    def read(statement: str) -> bool:
        return "audit_log" not in statement and "SAVEPOINT" not in statement

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(services.db, "before_cursor_execute", count)
    try:
        for path in ("/api/v1/reports", "/api/v1/reports?per_page=2&status=new&type=recruiter&since=2000-01-01",
                     f"/api/v1/reports/{many[0]}"):
            statements.clear()
            assert call(client, "GET", path).status_code == 200
            one = path.startswith("/api/v1/reports/")
            assert len([s for s in statements if read(s)]) <= (3 if one else 2), statements
            assert len(statements) <= (2 if path == "/api/v1/reports" or "?" in path else 7), statements
    finally:
        event.remove(services.db, "before_cursor_execute", count)


# ---- status and notes -------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [
    # (body, expected status, expected report status after, error field)
    [({"status": "in_progress"}, 201, "in_progress", None),
     ({"status": "acknowledged"}, 409, "in_progress", "status"),      # cannot go back
     ({"status": "in_progress"}, 409, "in_progress", "status"),       # already
     ({"status": "referred", "note": "to the provincial office"}, 201, "referred", None),
     ({"status": "closed"}, 201, "closed", None),
     ({"status": "referred"}, 409, "closed", "status"),
     ({"status": "in_progress", "note": "new lead"}, 201, "in_progress", None)],  # reopened
    [({"status": "bogus"}, 400, "new", "status"),
     ({"status": "NEW"}, 400, "new", "status"),
     ({"status": ""}, 400, "new", "status"),
     ({"status": "new"}, 409, "new", "status"),
     ({"status": "closed", "note": "duplicate of another report"}, 201, "closed", None)],
    [({"note": "called the commune office"}, 201, "new", None),
     ({"note": "   "}, 400, "new", "note"),
     ({"note": ""}, 400, "new", "note"),
     ({"note": "x" * 2001}, 400, "new", "note"),
     ({"note": "x" * 2000}, 201, "new", None),
     ({}, 400, "new", None)],
])
def test_status_changes_and_notes(client, services, tokens, steps):
    number = direct_report(services)
    for body, status, after, field in steps:
        response = call(client, "POST", f"/api/v1/reports/{number}/events", body=body)
        if status >= 400:
            assert_error(response, status, field)
        else:
            assert response.status_code == status, response.get_data(as_text=True)
            doc = response.get_json()
            assert doc["status"] == after and doc["timeline"][-1]["actor"] == "agency:ngo-safe-migration"
            last = doc["timeline"][-1]
            if "status" in body:
                assert last["kind"] == "status_changed" and last["data"]["to"] == body["status"]
                assert last["data"].get("note") == body.get("note")
            else:
                assert last["kind"] == "note" and last["data"]["note"] == body["note"].strip()
        assert call(client, "GET", f"/api/v1/reports/{number}").get_json()["status"] == after


def test_notes_are_read_only_by_the_writers_agency_and_line_staff(client, services, tokens):
    from hotline import casework

    number = direct_report(services, "missing")  # routed to the NGO and to the tracing service
    events = f"/api/v1/reports/{number}/events"
    assert call(client, "POST", events, token=NGO, body={"note": "ngo: met the family"}).status_code == 201
    assert call(client, "POST", events, token=TRACING, body={"status": "in_progress", "note": "tracing: opened a case"}
                ).status_code == 201
    assert call(client, "POST", events, token=TRACING, body={"note": "tracing: called the embassy"}).status_code == 201
    with services.Session.begin() as session:  # line staff's note, written in the console
        casework.add_note(session, session.scalars(select(Report).where(Report.number == number)).one(),
                          "line: duty officer told", "user:staff")

    def timeline(token):
        return call(client, "GET", f"/api/v1/reports/{number}", token=token).get_json()["timeline"]

    for token, own in ((NGO, ["ngo: met the family"]), (TRACING, ["tracing: opened a case", "tracing: called the embassy"])):
        entries = timeline(token)
        assert [e["data"]["note"] for e in entries if "note" in e["data"]] == own
        assert [e["data"]["to"] for e in entries if e["kind"] == "status_changed"] == ["in_progress"]
        assert all("agency" not in e["data"] for e in entries)
        text = json.dumps(entries)
        assert "line: duty officer" not in text


def test_status_change_is_audited_and_pushed(client, services, tokens):
    number = direct_report(services)
    assert call(client, "POST", f"/api/v1/reports/{number}/events", body={"status": "in_progress"}).status_code == 201
    with services.Session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.status")).one()
        assert entry.actor == "agency:ngo-safe-migration" and entry.target == number
    assert any(job_id.startswith("updated-") for job_id in queues.queue(queues.DEFAULT, services.redis).job_ids)
    work(services)  # the report_updated job runs cleanly


# ---- messages to the reporter -----------------------------------------------------------------
def test_message_to_a_consenting_reporter_is_relayed_and_delivered(client, services, tokens):
    number = ussd_report(client, services, RECRUITER_STEPS, "ATUid_api_msg", consent=True)
    response = call(client, "POST", f"/api/v1/reports/{number}/messages",
                    body={"text": "Thank you. We are looking into it; reply here if anything changes."})
    assert response.status_code == 202, response.get_data(as_text=True)
    last = response.get_json()["timeline"][-1]
    assert last["kind"] == "message_sent" and last["actor"] == "agency:ngo-safe-migration"
    assert last["data"]["text"].startswith("Thank you.")
    work(services)
    with services.Session() as session:
        relay = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "relay")).one()
        assert relay.status == "delivered" and services.vault.decrypt(relay.recipient) == REPORTER
        assert relay.body.startswith("Thank you.") and relay.report_id is not None


@pytest.mark.parametrize("consent,stop,status", [(True, False, 202), (False, False, 409), (True, True, 409)])
def test_message_only_with_consent_and_without_stop(client, services, tokens, consent, stop, status):
    number = ussd_report(client, services, RECRUITER_STEPS, f"ATUid_api_{consent}_{stop}", consent=consent)
    if stop:
        sms(client, "STOP", "SMstop1")
    response = call(client, "POST", f"/api/v1/reports/{number}/messages", body={"text": "Are you safe?"})
    if status == 409:
        assert_error(response, 409, "text")
    else:
        assert response.status_code == 202
    with services.Session() as session:
        relays = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "relay")).all()
    assert len(relays) == (1 if status == 202 else 0)


def test_message_to_an_anonymous_report_is_a_conflict(client, services, tokens):
    number = direct_report(services, sender=None, consent=True)
    assert_error(call(client, "POST", f"/api/v1/reports/{number}/messages", body={"text": "hello"}), 409, "text")


@pytest.mark.parametrize("text,status", [
    ("", 400), ("   \n\t ", 400), ("x" * 459, 202), ("x" * 460, 400), ("ក" * 250, 400), ("ក" * 190, 202),
    ("a\x00b\x07c", 202),
])
def test_message_text_limits(client, services, tokens, text, status):
    number = direct_report(services, sender=REPORTER, consent=True)
    response = call(client, "POST", f"/api/v1/reports/{number}/messages", body={"text": text})
    if status == 202:
        assert response.status_code == 202, response.get_data(as_text=True)
        with services.Session() as session:
            body = session.scalars(select(OutboundMessage.body).where(OutboundMessage.purpose == "relay")).one()
        assert "\x00" not in body and "\x07" not in body
    else:
        assert_error(response, status, "text")


# ---- the reporter's number never shows --------------------------------------------------------
def test_the_reporters_number_appears_in_no_answer(client, services, tokens):
    # An unsorted report whose words carry the reporter's own number; then details, a note and a message.
    sms(client, "a broker took my cousin's passport, call me on 012 345 678", "SMleak1")
    work(services)
    with services.Session() as session:
        number = session.scalars(select(Report.number)).one()
    with services.Session.begin() as session:
        report = session.scalars(select(Report)).one()
        report.consent = True
        report_store.add_detail(session, report, "my number again +855 12 345 678")
    bodies = [
        call(client, "POST", f"/api/v1/reports/{number}/events", body={"note": "reporter said 012345678 is theirs"}),
        call(client, "POST", f"/api/v1/reports/{number}/events", body={"status": "in_progress", "note": "rang +85512345678"}),
        call(client, "POST", f"/api/v1/reports/{number}/messages", body={"text": "We will call 012 345 678 tomorrow"}),
        call(client, "GET", f"/api/v1/reports/{number}"),
        call(client, "GET", "/api/v1/reports"),
        call(client, "GET", "/api/v1/reports?type=unsorted&per_page=1"),
        call(client, "GET", "/api/v1/openapi.json", token=None),
    ]
    for response in bodies:
        assert response.status_code in (200, 201, 202), response.get_data(as_text=True)
        text = response.get_data(as_text=True)
        for form in REPORTER_FORMS:
            assert form not in text, (form, text)
    doc = bodies[3].get_json()
    assert "[reporter's number]" in doc["answers"]["text"]
    assert doc["answers"]["details"] == ["my number again [reporter's number]"]


# ---- hostile requests: 4xx in JSON, never 500 -------------------------------------------------
EVENTS, MESSAGES = "/api/v1/reports/{n}/events", "/api/v1/reports/{n}/messages"
HOSTILE = [
    # (label, method, path ({n} is a report of the NGO's), kwargs for call, status, field)
    ("malformed json", "POST", EVENTS, {"raw": "{\"note\": "}, 400, None),
    ("json array", "POST", EVENTS, {"body": [{"note": "x"}]}, 400, None),
    ("json string", "POST", EVENTS, {"body": "note"}, 400, None),
    ("json null", "POST", EVENTS, {"raw": "null"}, 400, None),
    ("json number", "POST", MESSAGES, {"raw": "12"}, 400, None),
    ("empty body", "POST", EVENTS, {"raw": ""}, 400, None),
    ("deeply nested", "POST", EVENTS, {"raw": "[" * 60000}, 400, None),
    ("deeply nested object", "POST", EVENTS, {"raw": '{"note":' * 6000}, 400, None),
    ("not utf-8", "POST", EVENTS, {"raw": b'{"note": "\xff\xfe"}'}, 400, None),
    ("lone surrogate", "POST", EVENTS, {"raw": '{"note": "\\ud800"}'}, 400, "note"),
    ("NaN", "POST", EVENTS, {"raw": '{"note": NaN}'}, 400, "note"),
    ("status number", "POST", EVENTS, {"body": {"status": 1}}, 400, "status"),
    ("status null", "POST", EVENTS, {"body": {"status": None}}, 400, "status"),
    ("note list", "POST", EVENTS, {"body": {"note": ["a"]}}, 400, "note"),
    ("note object", "POST", EVENTS, {"body": {"note": {"$ne": ""}}}, 400, "note"),
    ("unknown field", "POST", EVENTS, {"body": {"note": "x", "actor": "line"}}, 400, "actor"),
    ("unknown field only", "POST", MESSAGES, {"body": {"phone": "+85512345678"}}, 400, "phone"),
    ("text missing", "POST", MESSAGES, {"body": {}}, 400, "text"),
    ("text bool", "POST", MESSAGES, {"body": {"text": True}}, 400, "text"),
    ("sql in status", "POST", EVENTS, {"body": {"status": "new'; DROP TABLE reports;--"}}, 400, "status"),
    ("text/plain", "POST", EVENTS, {"raw": '{"note": "x"}', "content_type": "text/plain"}, 415, None),
    ("form", "POST", EVENTS, {"raw": "note=x", "content_type": "application/x-www-form-urlencoded"}, 415, None),
    ("no content type", "POST", EVENTS, {"raw": '{"note": "x"}', "content_type": None}, 415, None),
    ("json-ish type", "POST", EVENTS, {"raw": '{"note": "x"}', "content_type": "application/jsonx"}, 415, None),
    ("too large", "POST", EVENTS, {"body": {"note": "x" * 70000}}, 413, None),
    ("too large message", "POST", MESSAGES, {"raw": "{" + " " * 100000 + "}"}, 413, None),
    ("sql in filter", "GET", "/api/v1/reports?status=new%27%20OR%201%3D1%20--", {}, 400, "status"),
    ("sql in type", "GET", "/api/v1/reports?type=recruiter%22%29%3B%20DROP%20TABLE%20reports%3B", {}, 400, "type"),
    ("sql in since", "GET", "/api/v1/reports?since=2020-01-01%27%20OR%20%271%27%3D%271", {}, 400, "since"),
    ("unicode status", "GET", "/api/v1/reports?status=%E1%9E%90%E1%9F%92%E1%9E%98%F0%9F%92%A5", {}, 400, "status"),
    ("unicode garbage param", "GET", "/api/v1/reports?%F0%9F%92%A9=%00%FF", {}, 400, None),
    ("unknown param", "GET", "/api/v1/reports?order=asc", {}, 400, "order"),
    ("repeated param", "GET", "/api/v1/reports?status=new&status=closed", {}, 400, "status"),
    ("empty status", "GET", "/api/v1/reports?status=", {}, 400, "status"),
    ("page zero", "GET", "/api/v1/reports?page=0", {}, 400, "page"),
    ("page negative", "GET", "/api/v1/reports?page=-1", {}, 400, "page"),
    ("page float", "GET", "/api/v1/reports?page=1.5", {}, 400, "page"),
    ("page words", "GET", "/api/v1/reports?page=two", {}, 400, "page"),
    ("page khmer digits", "GET", "/api/v1/reports?page=%E1%9F%A2", {}, 400, "page"),
    ("page huge", "GET", "/api/v1/reports?page=99999999999999999999999999999999", {}, 400, "page"),
    ("page 4301 digits", "GET", "/api/v1/reports?page=" + "9" * 4301, {}, 400, "page"),
    ("page over max", "GET", "/api/v1/reports?page=1000000001", {}, 400, "page"),
    ("page plus", "GET", "/api/v1/reports?page=%2B1", {}, 400, "page"),
    ("page superscript digit", "GET", "/api/v1/reports?page=%C2%B2", {}, 400, "page"),
    ("page arabic-indic digit", "GET", "/api/v1/reports?page=%D9%A2", {}, 400, "page"),
    ("per_page superscript digit", "GET", "/api/v1/reports?per_page=%C2%B9", {}, 400, "per_page"),
    ("since superscript digit", "GET", "/api/v1/reports?since=%C2%B2026-01-01", {}, 400, "since"),
    ("since year 10000", "GET", "/api/v1/reports?since=10000-01-01", {}, 400, "since"),
    ("per_page zero", "GET", "/api/v1/reports?per_page=0", {}, 400, "per_page"),
    ("per_page over", "GET", "/api/v1/reports?per_page=101", {}, 400, "per_page"),
    ("per_page huge", "GET", "/api/v1/reports?per_page=10000000000000", {}, 400, "per_page"),
    ("since words", "GET", "/api/v1/reports?since=yesterday", {}, 400, "since"),
    ("since impossible date", "GET", "/api/v1/reports?since=2026-02-30", {}, 400, "since"),
    ("since month 13", "GET", "/api/v1/reports?since=2026-13-01", {}, 400, "since"),
    ("since hour 25", "GET", "/api/v1/reports?since=2026-01-01T25:00", {}, 400, "since"),
    ("since offset 24h", "GET", "/api/v1/reports?since=2026-01-01T00:00%2B24:00", {}, 400, "since"),
    ("since year 0", "GET", "/api/v1/reports?since=0000-01-01", {}, 400, "since"),
    ("since unix time", "GET", "/api/v1/reports?since=1767225600", {}, 400, "since"),
    ("since trailing newline", "GET", "/api/v1/reports?since=2026-01-01%0A", {}, 400, "since"),
    ("since arabic digits", "GET", "/api/v1/reports?since=%D9%A2%D9%A0%D9%A2%D9%A6-01-01", {}, 400, "since"),
    ("after garbage", "GET", "/api/v1/reports?after=abc", {}, 400, "after"),
    ("after unknown", "GET", "/api/v1/reports?after=1234567", {}, 404, "after"),
    ("after zeros", "GET", "/api/v1/reports?after=0000000", {}, 404, "after"),
    ("note of a C1 space", "POST", EVENTS, {"body": {"note": "\u0085"}}, 400, "note"),
    ("note of a byte-order mark", "POST", EVENTS, {"body": {"note": "\ufeff \u3000"}}, 400, "note"),
    ("note of controls", "POST", EVENTS, {"body": {"note": "\x00\x1c\x9f"}}, 400, "note"),
    ("text of a C1 control", "POST", MESSAGES, {"body": {"text": "\u0086"}}, 400, "text"),
    ("number garbage", "GET", "/api/v1/reports/%F0%9F%92%A9%00", {}, 404, None),
    ("number sql", "GET", "/api/v1/reports/1%27%20OR%20%271%27%3D%271", {}, 404, None),
    ("number huge", "GET", "/api/v1/reports/" + "9" * 5000, {}, 404, None),
    ("events on unknown", "POST", "/api/v1/reports/0000000/events", {"body": {"note": "x"}}, 404, None),
    ("trailing slash", "GET", "/api/v1/reports/", {}, 404, None),
    ("unknown path", "GET", "/api/v1/nothing", {}, 404, None),
    ("api root", "GET", "/api", {}, 404, None),
    ("old version", "GET", "/api/v0/reports", {}, 404, None),
    ("delete report", "DELETE", "/api/v1/reports/{n}", {}, 405, None),
    ("put report", "PUT", "/api/v1/reports/{n}", {"body": {"status": "closed"}}, 405, None),
    ("post list", "POST", "/api/v1/reports", {"body": {"note": "x"}}, 405, None),
    ("get events", "GET", EVENTS, {}, 405, None),
    ("patch messages", "PATCH", MESSAGES, {"body": {"text": "x"}}, 405, None),
    ("post openapi", "POST", "/api/v1/openapi.json", {"body": {}}, 405, None),
]


@pytest.mark.parametrize("label,method,path,kwargs,status,field", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_requests_are_answered_in_json(client, services, tokens, label, method, path, kwargs, status, field):
    number = direct_report(services, sender=REPORTER, consent=True)
    response = call(client, method, path.format(n=number), **kwargs)
    assert_error(response, status, field)
    if status == 405:
        assert response.headers["Allow"]
    with services.Session() as session:  # nothing written by a refused request
        kinds = session.scalars(select(ReportEvent.kind)).all()
    assert sorted(kinds) == ["created", "routed"]


def test_unknown_kinds_of_failure_are_a_json_503(client, services, tokens, monkeypatch):
    number = direct_report(services)

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("database is away"))

    monkeypatch.setattr(services, "Session", broken)
    for method, path, body in ROUTES:
        response = call(client, method, path.format(n=number), body=body)
        assert_error(response, 503)
        assert "database" not in response.get_data(as_text=True)


def test_other_paths_keep_their_own_errors(client):
    """Only /api answers JSON: the webhooks' 405 stays plain text."""
    response = client.get("/webhooks/twilio/sms")
    assert response.status_code == 405 and response.mimetype == "text/plain"
