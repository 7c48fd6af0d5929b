"""The partner API (docs/contract.md section 5): JSON over HTTPS with an agency's bearer token.

A token belongs to the agency whose `api_token_env` variable holds it, and sees only the
reports routed to that agency (`scoping.agency_reports`); every other report, existing or
not, is the same `404`. No answer carries a reporter's number (`payloads.report_payload`
scrubs it, and the timeline is scrubbed the same way).

Every error, here and on any /api path (unknown route, wrong method, too large), is JSON
`{"error": ..., "field": ...}`; an unexpected failure is a JSON `503`, never a `500`.
Reads are two queries (reading one report adds its audit entry and one query for its links); writes are
one transaction, and their jobs are enqueued after commit.
"""
from __future__ import annotations

import calendar
import hmac
import json
import logging
import os
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, current_app, g, request, url_for
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import object_session, selectinload
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from hotline import audit, casework, reportnumber, scoping
from hotline.linking import clusters, index
from hotline.outbound import outbox
from hotline import openapi as spec
from hotline.directory import Contact
from hotline.models import STATUSES, Report, utcnow
from hotline.payloads import cluster_payload, report_payload, scrub

log = logging.getLogger(__name__)

PREFIX = "/api/"
"""Every path under this answers errors as JSON."""

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_BEARER = re.compile(r"Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*", re.IGNORECASE)
"""RFC 6750 `Authorization: Bearer <b64token>`."""

_SINCE = re.compile(spec.SINCE_PATTERN[1:-1])
_NUMBER = re.compile(spec.NUMBER_PATTERN[1:-1])
_NOT_BLANK = re.compile(spec.NOT_BLANK)
_WHOLE = re.compile(r"[0-9]{1,12}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters other than tab and line breaks: dropped from notes and messages."""

LIST_PARAMS = ("status", "type", "since", "page", "per_page", "after")
EVENT_FIELDS = ("status", "note")
MESSAGE_FIELDS = ("text",)
NOT_FOUND = "no such report"


class ApiError(Exception):
    """An answer other than success: HTTP status, what is wrong, and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers or {}


def error_response(status: int, message: str, field: str | None = None, headers=None) -> Response:
    """The JSON error document every /api path answers with."""
    response = current_app.json.response({"error": message, "field": field})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _services():
    from hotline import current_services

    return current_services()


# ---- authentication -----------------------------------------------------------------------
def agency_for_token(contacts, token: str, environ=None) -> Contact | None:
    """The agency whose token this is, or None.

    Every agency with a token is compared (in constant time), whatever matched before; a
    variable that is unset or empty never matches. A token that two agencies share is
    refused: it cannot say whose reports it may see.
    """
    environ = os.environ if environ is None else environ
    given = token.encode("utf-8", "surrogatepass")
    matches = []
    for contact in contacts:
        if contact.kind != "agency" or not contact.api_token_env:
            continue
        expected = (environ.get(contact.api_token_env) or "").strip()
        if expected and hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), given):
            matches.append(contact)
    if len(matches) > 1:
        log.error("one API token is set for several agencies (%s): refused", ", ".join(c.id for c in matches))
        return None
    return matches[0] if matches else None


def _unauthorized(message: str, invalid: bool) -> ApiError:
    challenge = 'Bearer realm="hotline partner API"' + (', error="invalid_token"' if invalid else "")
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


@bp.before_request
def _authenticate() -> None:
    """Every route but the OpenAPI document needs an agency's token."""
    if request.endpoint == "api.openapi_document":
        return
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise _unauthorized("an Authorization: Bearer <token> header is required", invalid=False)
    match = _BEARER.fullmatch(header.strip())
    if match is None:
        raise _unauthorized("the Authorization header must be: Bearer <token>", invalid=True)
    agency = agency_for_token(_services().directory.contacts, match.group(1))
    if agency is None:
        raise _unauthorized("the token is not valid", invalid=True)
    g.api_agency = agency


def _agency() -> Contact:
    return g.api_agency


def _actor() -> str:
    return f"agency:{_agency().id}"


# ---- reading input ------------------------------------------------------------------------
def _one_arg(name: str) -> str | None:
    values = request.args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise ApiError(400, f"give {name} at most once", name)
    if values[0] == "":
        raise ApiError(400, f"{name} is empty: leave it out, or give a value", name)
    return values[0]


def _whole(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not _WHOLE.fullmatch(value) or not low <= int(value) <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}", name)
    return int(value)


def parse_since(value: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date and time (UTC without an offset), as aware UTC.

    Raises ValueError when it does not match `openapi.SINCE_PATTERN` (31 April, 25:00); the
    pattern's only impossible day, 29 February of a common year, is read as 1 March.
    """
    match = _SINCE.fullmatch(value)
    if match is None:
        raise ValueError(value)
    y, month_day, hh, mi, ss, frac, zone = match.groups()
    mo, d = month_day.split("-")
    zone_info = timezone.utc
    if zone and zone not in "Zz":
        sign = -1 if zone[0] == "-" else 1  # a space is a `+` that came unencoded
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(value)
        zone_info = timezone(sign * timedelta(hours=hours, minutes=minutes))
    year, month, day = int(y), int(mo), int(d)
    leap_day_of_common_year = (month, day) == (2, 29) and not calendar.isleap(year)
    moment = datetime(year, month, 28 if leap_day_of_common_year else day, int(hh or 0), int(mi or 0),
                      int(ss or 0), int((frac or "0")[:6].ljust(6, "0")), tzinfo=zone_info)
    if leap_day_of_common_year:  # the day after 28 February, as calendars count on
        moment += timedelta(days=1)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # the first hours of year 1 east of Greenwich, or the last of 9999 west of it
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=timezone.utc)


def _json_body(fields: tuple[str, ...]) -> dict[str, str]:
    """The request's JSON object, with only `fields`, each a string of valid Unicode."""
    if request.mimetype != "application/json":
        raise ApiError(415, "the body must be JSON, sent as Content-Type: application/json")
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not valid JSON (UTF-8)") from None
    if not isinstance(doc, dict):
        raise ApiError(400, "the body must be a JSON object")
    for name, value in doc.items():
        if name not in fields:
            raise ApiError(400, f"unknown field (known: {', '.join(fields)})", _printable(name))
        if not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string", name)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, f"{name} is not valid Unicode", name) from None
    return {name: _CONTROL.sub("", value) for name, value in doc.items()}


def _printable(name: str) -> str:
    """A field name safe to echo back: valid Unicode, no control characters, not too long."""
    cleaned = "".join(ch for ch in name[:64] if unicodedata.category(ch) not in ("Cc", "Cs"))
    return cleaned or "?"


def _report_number(number: str) -> str:
    """The cleaned number, or 404 (exactly as for a report that exists elsewhere)."""
    cleaned = reportnumber.clean(number)
    if not reportnumber.is_valid(cleaned):
        raise ApiError(404, NOT_FOUND)
    return cleaned


# ---- documents ----------------------------------------------------------------------------
def _utc(moment: datetime | None) -> str | None:
    """RFC 3339 UTC (databases that keep no zone give back naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def summary(s, report: Report) -> dict:
    """A report as listed: the partner payload, with times in UTC."""
    doc = report_payload(s, report)
    doc["created_at"], doc["updated_at"] = _utc(report.created_at), _utc(report.updated_at)
    return doc


def detail(s, report: Report, agency_id: str) -> dict:
    """A report with its timeline and links as this agency may read them (known kinds only; other teams'
    notes left out; only linked reports routed to this agency; nothing that identifies the reporter)."""
    doc = summary(s, report)
    doc["links"] = [{"number": link.number, "by": index.ordered_by(link.by), "confirmed": link.confirmed}
                    for link in index.links_of(object_session(report), report, scoping.agency_reports(agency_id))]
    own = s.vault.decrypt(report.reporter_phone) if report.reporter_phone is not None else None
    country = s.directory.line.country
    doc["timeline"] = []
    for event in report.events:
        data = scoping.shown_event_data(event.kind, event.data, agency_id)
        if event.kind not in spec.TIMELINE_KINDS or data is None:
            continue
        data.pop("agency", None)  # a note shown here is always this agency's own
        doc["timeline"].append({"kind": event.kind, "at": _utc(event.created_at),
                                "actor": scrub(event.actor or "", own, country),
                                "data": {} if event.kind == "detail_added" else scrub(data, own, country)})
    return doc


def _load(session, number: str, for_update: bool = False) -> Report:
    """This agency's report by number, with its timeline (two queries), or 404."""
    query = (select(Report).options(selectinload(Report.events))
             .where(Report.number == number, scoping.agency_reports(_agency().id)))
    if for_update:
        query = query.with_for_update()
    report = session.scalar(query)
    if report is None:
        raise ApiError(404, NOT_FOUND)
    return report


def _base_url() -> str:
    public = _services().settings.public_base_url
    if public:
        return public.rstrip("/") + request.path
    return url_for(request.endpoint, _external=True)


# ---- routes -------------------------------------------------------------------------------
@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI document of this API (no token needed)."""
    return current_app.json.response(spec.document(tuple(_services().directory.types)))


@bp.get("/reports")
def list_reports():
    """The agency's reports, newest first, a page at a time; `next` continues after this page's last."""
    unknown = sorted(set(request.args) - set(LIST_PARAMS))
    if unknown:
        raise ApiError(400, f"unknown query parameter (known: {', '.join(LIST_PARAMS)})", _printable(unknown[0]))
    status, type_, since_text = _one_arg("status"), _one_arg("type"), _one_arg("since")
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}", "status")
    types = _services().directory.types
    if type_ is not None and type_ not in types:
        raise ApiError(400, f"type must be one of {', '.join(types)}", "type")
    since = None
    if since_text is not None:
        try:
            since = parse_since(since_text)
        except ValueError:
            raise ApiError(400, "since must be an ISO 8601 date (2026-01-31) or date and time "
                                "(2026-01-31T06:00:00+07:00)", "since") from None
    page = _whole("page", _one_arg("page"), 1, 1, spec.MAX_PAGE)
    per_page = _whole("per_page", _one_arg("per_page"), spec.DEFAULT_PER_PAGE, 1, spec.MAX_PER_PAGE)
    after = _one_arg("after")
    if after is not None and not _NUMBER.fullmatch(after):
        raise ApiError(400, "after must be a report number from a next link", "after")

    agency_id = _agency().id
    conditions = [scoping.agency_reports(agency_id)]
    if status is not None:
        conditions.append(Report.status == status)
    if type_ is not None:
        conditions.append(Report.type == type_)
    if since is not None:
        conditions.append(Report.created_at >= since)
    newest_first = (Report.created_at.desc(), Report.id.desc())

    s = _services()
    with s.Session() as session:
        total = session.scalar(select(func.count()).select_from(Report).where(*conditions))
        query = select(Report).where(*conditions).order_by(*newest_first).limit(per_page + 1)
        if after is not None:
            # Keyset: strictly older than the cursor report (which must be this agency's).
            anchor = (select(Report.created_at, Report.id)
                      .where(Report.number == after, scoping.agency_reports(agency_id)).subquery())
            at, rid = select(anchor.c.created_at).scalar_subquery(), select(anchor.c.id).scalar_subquery()
            rows = session.scalars(query.where(or_(Report.created_at < at,
                                                   and_(Report.created_at == at, Report.id < rid)))).all()
            if not rows and session.scalar(select(Report.id).where(Report.number == after,
                                                                   scoping.agency_reports(agency_id))) is None:
                raise ApiError(404, NOT_FOUND, "after")
        elif (page - 1) * per_page >= total:
            rows = []  # past the end: no query with an enormous offset
        else:
            rows = session.scalars(query.offset((page - 1) * per_page)).all()
        reports = [summary(s, r) for r in rows[:per_page]]

    next_url = None
    if len(rows) > per_page:
        params = {k: v for k, v in (("status", status), ("type", type_), ("since", since_text)) if v is not None}
        params.update(per_page=per_page, page=page + 1, after=rows[per_page - 1].number)
        next_url = _base_url() + "?" + urlencode(params, quote_via=quote)
    return current_app.json.response(
        {"reports": reports, "page": page, "per_page": per_page, "total": total, "next": next_url})


@bp.get("/reports/<number>")
def get_report(number: str):
    """One report of the agency's, with its timeline. Reading it is recorded in the audit log
    (`report.view` by `agency:<id>`), as opening it in the console is."""
    number = _report_number(number)
    s = _services()
    with s.Session.begin() as session:
        report = _load(session, number)
        audit.record(session, _actor(), "report.view", report.number)
        return current_app.json.response(detail(s, report, _agency().id))


@bp.get("/clusters")
def list_clusters():
    """The identifiers (recruiters' numbers, agencies' names) named by at least `clusters.reports` of this
    agency's reports within the last `clusters.days` days, biggest first (hotline.linking.clusters)."""
    unknown = sorted(set(request.args))
    if unknown:
        raise ApiError(400, "this path takes no query parameters", _printable(unknown[0]))
    s = _services()
    with s.Session() as session:
        found = clusters.of_agency(session, s.vault, _agency().id, s.directory.clusters, utcnow())
    return current_app.json.response({"clusters": [cluster_payload(c) for c in found]})


@bp.post("/reports/<number>/events")
def add_event(number: str):
    """Record progress: a status (with an optional note) or a note alone."""
    body = _json_body(EVENT_FIELDS)
    if not body:
        raise ApiError(400, "give a status, a note or both")
    if "note" in body and len(body["note"]) > casework.MAX_NOTE:
        raise ApiError(400, f"a note is at most {casework.MAX_NOTE} characters", "note")
    if "note" in body and not _NOT_BLANK.search(body["note"]):
        raise ApiError(400, "a note needs some text", "note")
    number = _report_number(number)
    s = _services()

    def record(session, report) -> list:
        if "status" in body:
            return casework.change_status(session, report, body["status"], _actor(), body.get("note"))
        casework.add_note(session, report, body["note"], _actor())
        return []

    work, urgent = _write(s, number, record)
    _enqueue(s, work, urgent)
    return _reread(s, number, 201)


@bp.post("/reports/<number>/messages")
def message_reporter(number: str):
    """An SMS to the reporter through the line, if they allowed contact and have not sent STOP."""
    body = _json_body(MESSAGE_FIELDS)
    if "text" not in body:
        raise ApiError(400, "text is required", "text")
    if not _NOT_BLANK.search(body["text"]):
        raise ApiError(400, "a message needs some text", "text")
    if len(body["text"]) > spec.MAX_TEXT:
        raise ApiError(400, f"a message is at most {spec.MAX_TEXT} characters (3 SMS parts)", "text")
    number = _report_number(number)
    s = _services()
    work, urgent = _write(s, number, lambda session, report: [
        casework.message_reporter(session, s, report, body["text"], _actor())])
    _enqueue(s, work, urgent)
    return _reread(s, number, 202)


def _write(s, number: str, change) -> tuple[list, bool]:
    """Run `change(session, report)` on this agency's report (locked) in one transaction."""
    try:
        with s.Session.begin() as session:
            report = _load(session, number, for_update=True)
            work = change(session, report)
            urgent = s.directory.types.is_urgent(report.type)
    except casework.CaseworkError as exc:
        raise ApiError(exc.status, exc.message, exc.field) from None
    return list(work or []), urgent


def _enqueue(s, work: list, urgent: bool) -> None:
    """Hand the jobs to the workers (after commit); if Redis is down the sweep does it later."""
    for item in work:
        outbox.enqueue(s, item, urgent=urgent)


def _reread(s, number: str, status: int) -> Response:
    with s.Session() as session:
        response = current_app.json.response(detail(s, _load(session, number), _agency().id))
    response.status_code = status
    return response


# ---- errors -------------------------------------------------------------------------------
@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.message, exc.field, exc.headers)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    """HTTP errors raised inside a view (413, undecodable body) and anything unexpected."""
    if isinstance(exc, HTTPException):
        return _http_error_json(exc)
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.path)
    return error_response(503, "the service is unavailable for a moment; please try again")


def _http_error_json(exc: HTTPException) -> Response:
    code = exc.code or 500
    if code >= 500:
        return error_response(503, "the service is unavailable for a moment; please try again")
    message = {404: "no such path in this API", 405: "method not allowed on this path",
               413: f"the body is larger than {current_app.config.get('MAX_CONTENT_LENGTH') or 0} bytes"}.get(
        code, (HTTP_STATUS_CODES.get(code) or "bad request").lower())
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")}
    return error_response(code, message, None, headers)


def _is_api_path() -> bool:
    return request.path.startswith(PREFIX) or request.path == PREFIX.rstrip("/")


def init_app(app: Flask) -> None:
    """Register the API, and JSON errors for every /api path (other paths keep the app's handler)."""
    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # noqa: ANN202
        if _is_api_path():
            return _http_error_json(exc)
        fallback = current_app.error_handler_spec[None][None].get(Exception)
        return fallback(exc) if fallback is not None else exc

    @app.after_request
    def _api_errors_are_json(response: Response) -> Response:
        # A safety net: an error answered by some other handler on an /api path is made JSON.
        if response.status_code >= 400 and _is_api_path() and response.mimetype != "application/json":
            code = 503 if response.status_code >= 500 else response.status_code
            message = (HTTP_STATUS_CODES.get(code) or "error").lower()
            fixed = error_response(code, message)
            for name in ("WWW-Authenticate", "Allow", "Retry-After"):
                if name in response.headers:
                    fixed.headers[name] = response.headers[name]
            return fixed
        return response
