"""The partner API's OpenAPI 3.0 document, built from the same constants the API checks with.

Served at GET /api/v1/openapi.json. Every route, parameter, body, response and error is
here, and every rule the API enforces on input is in the schema too (and the other way
round), so a schema-driven tester finds no gap between what is documented and what is done.
"""
from __future__ import annotations

import copy
from functools import lru_cache

from hotline.casework import MAX_NOTE
from hotline.models import STATUSES

VERSION = "1.0.0"

MAX_PAGE = 1_000_000_000
"""The largest page number asked for (past the last page an empty page comes back)."""

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25

MAX_TEXT = 459
"""Longest message to a reporter, in characters: 3 SMS parts of GSM-7 (Khmer script allows fewer)."""

SINCE_PATTERN = (r"^((?!0000)[0-9]{4})-((?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
                 r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-9]))"
                 r"(?:[Tt ]([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(?:[.,]([0-9]{1,9}))?)?"
                 r"([Zz]|[+ -](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?)?$")
"""An ISO 8601 date or date and time (a `+` that arrived as a space, as unencoded query strings do, counts as `+`).

Months have their own number of days; 29 February of a common year, which the pattern cannot
tell, is read as 1 March."""

NUMBER_PATTERN = r"^[0-9]{7}$"
"""A report number: 7 digits, the last a check digit."""

NOT_BLANK = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
"""Some character that is neither white space (by Python's rules or JavaScript's) nor a control character."""

TIMELINE_KINDS = ("created", "routed", "escalated", "acknowledged", "status_changed", "assigned", "note",
                  "message_sent", "detail_added", "answered")
"""Timeline entries a partner sees; any other kind is left out."""


def _error_response(description: str, headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if headers:
        response["headers"] = headers
    return response


_UNAUTHORIZED = _error_response(
    "No token, a malformed Authorization header, or a token that belongs to no agency.",
    {"WWW-Authenticate": {"description": "Always starts `Bearer`.", "schema": {"type": "string"}}})
_NOT_FOUND = _error_response(
    "No such report for this token: unknown, or not routed to this agency (the two are indistinguishable).")
_UNAVAILABLE = _error_response("The database or the queue is unavailable for a moment; try again.")
_BAD_BODY = _error_response(
    "The body is not a JSON object, a field has the wrong type or value, or a field is unknown; `field` names it.")
_TOO_LARGE = _error_response("The body is larger than 64 KiB.")
_NOT_JSON = _error_response("The body is not `application/json`.")

_NUMBER_PARAM = {
    "name": "number", "in": "path", "required": True,
    "description": "The report number, as the reporter was given it (7 digits, the last a check digit).",
    "schema": {"type": "string", "pattern": NUMBER_PATTERN},
}

_AREA = {
    "type": "object", "nullable": True,
    "description": "Where the report is about, with the names of the whole path (province first); null if unknown.",
    "required": ["code", "level", "path"],
    "properties": {
        "code": {"type": "string"},
        "level": {"type": "string", "enum": ["province", "district", "commune", "village"]},
        "path": {"type": "array", "items": {
            "type": "object", "required": ["code", "level", "name_en", "name_km"],
            "properties": {"code": {"type": "string"},
                           "level": {"type": "string", "enum": ["province", "district", "commune", "village"]},
                           "name_en": {"type": "string"}, "name_km": {"type": "string"}}}},
    },
}

_SUMMARY_PROPERTIES = {
    "number": {"type": "string", "pattern": NUMBER_PATTERN},
    "type": {"type": "string"},  # with the line's report types as its enum: _build
    "status": {"type": "string", "enum": list(STATUSES)},
    "area": {"$ref": "#/components/schemas/Area"},
    "answers": {"type": "object", "additionalProperties": True,
                "description": "The reporter's answers by question id (the reporter's own number, if they typed it, "
                               "is replaced by `[reporter's number]`)."},
    "language": {"type": "string"},
    "channel": {"type": "string", "description": "`ussd`, `sms` or `voice` (a call)."},
    "contact_allowed": {"type": "boolean", "description": "The reporter agreed to be contacted through the line."},
    "created_at": {"type": "string", "format": "date-time", "nullable": True},
    "updated_at": {"type": "string", "format": "date-time", "nullable": True},
}
_SUMMARY_REQUIRED = list(_SUMMARY_PROPERTIES)

_TIMELINE_ENTRY = {
    "type": "object", "required": ["kind", "at", "actor", "data"],
    "properties": {
        "kind": {"type": "string", "enum": list(TIMELINE_KINDS)},
        "at": {"type": "string", "format": "date-time"},
        "actor": {"type": "string", "description": "`line`, `reporter`, `contact:<id>`, `agency:<id>` or a console user."},
        "data": {"type": "object", "additionalProperties": True,
                 "description": "What happened: e.g. `from`/`to`/`note` for `status_changed`, `note` for `note`, "
                                "`text` for `message_sent`; empty for `detail_added` (the reporter's words are in "
                                "`answers.details`). Notes are this agency's own: another agency's or the line "
                                "staff's `note` entries are left out, and so is the `note` of their status changes."},
    },
}


LINK_BY = ("phone", "name", "description", "duplicate")
"""The grounds a link is on: the same phone number, a similar agency name or description (suggested), or
the same event (merged by a caseworker)."""

CLUSTER_KINDS = ("phone", "name")
"""The kinds of identifier that make clusters."""

_LINK = {
    "type": "object", "required": ["number", "by", "confirmed"], "additionalProperties": False,
    "properties": {
        "number": {"type": "string", "pattern": NUMBER_PATTERN},
        "by": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "enum": list(LINK_BY)},
               "description": "`phone`: both name one phone number (confirmed at once). `name`, `description`: "
                              "similar agency names or descriptions, suggested until a caseworker confirms them. "
                              "`duplicate`: a caseworker merged the two as one event."},
        "confirmed": {"type": "boolean", "description": "True when any of its grounds is confirmed."},
    },
}

_CLUSTER = {
    "type": "object", "required": ["id", "kind", "value", "reports", "first", "last"], "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "description": "Stable for this agency and identifier."},
        "kind": {"type": "string", "enum": list(CLUSTER_KINDS)},
        "value": {"type": "string", "description": "The identifier: a phone number in E.164 (`+85512777888`), or "
                                                   "the agency name."},
        "reports": {"type": "array", "items": {"type": "string", "pattern": NUMBER_PATTERN},
                    "description": "This agency's reports naming it within `clusters.days`, oldest first; a report "
                                   "merged as a duplicate is counted and listed as the report it was merged into."},
        "first": {"type": "string", "format": "date-time"},
        "last": {"type": "string", "format": "date-time"},
    },
}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _build(types: tuple[str, ...]) -> dict:
    """The document for a line whose report types are `types` (flows.yaml's)."""
    summary = dict(_SUMMARY_PROPERTIES, type={"type": "string", "enum": list(types)})
    bearer = [{"bearerAuth": []}]
    report_ref = {"$ref": "#/components/schemas/Report"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Hotline partner API",
            "version": VERSION,
            "description": (
                "Reports routed to a partner agency, and following them up. Each agency's token "
                "(`Authorization: Bearer <token>`) sees only the reports routed to that agency; anything else is "
                "`404`. No answer ever carries a reporter's phone number. Every error is JSON "
                "`{\"error\": \"...\", \"field\": <name or null>}`."),
        },
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document.",
                                          "content": {"application/json": {"schema": {"type": "object"}}}}},
                },
            },
            "/api/v1/reports": {
                "get": {
                    "operationId": "listReports",
                    "summary": "The agency's reports, newest first, a page at a time.",
                    "description": (
                        "Ordered by creation time then id, newest first. Follow `next` to page on: it continues "
                        "after the last report of this page (`after`), so reports that arrive meanwhile never "
                        "shift a report onto two pages or past you. Empty parameters are errors, not defaults."),
                    "security": bearer,
                    "parameters": [
                        _query("status", "Only reports in this status.", {"type": "string", "enum": list(STATUSES)}),
                        _query("type", "Only reports of this type.", {"type": "string", "enum": list(types)}),
                        _query("since", "Only reports made at or after this moment: an ISO 8601 date (`2026-01-31`, "
                                        "midnight UTC) or date and time (`2026-01-31T06:00:00+07:00`; without an "
                                        "offset it is UTC).",
                               {"type": "string", "pattern": SINCE_PATTERN}),
                        _query("page", "Page number, from 1 (past the last page the list is empty).",
                               {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
                        _query("per_page", "Reports per page.",
                               {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE}),
                        _query("after", "Continue after this report (a cursor: use the `next` link rather than "
                                        "setting it). With it, `page` only numbers the page.",
                               {"type": "string", "pattern": NUMBER_PATTERN}),
                    ],
                    "responses": {
                        "200": {"description": "A page of reports.",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReportList"}}}},
                        "400": _error_response("A query parameter is unknown, repeated, empty or not valid; `field` names it."),
                        "401": _UNAUTHORIZED,
                        "404": _error_response("`after` names no report of this agency's."),
                        "503": _UNAVAILABLE,
                    },
                },
            },
            "/api/v1/reports/{number}": {
                "parameters": [_NUMBER_PARAM],
                "get": {
                    "operationId": "getReport",
                    "summary": "One report with its timeline.",
                    "security": bearer,
                    "responses": {
                        "200": {"description": "The report.", "content": {"application/json": {"schema": report_ref}}},
                        "401": _UNAUTHORIZED,
                        "404": _NOT_FOUND,
                        "503": _UNAVAILABLE,
                    },
                },
            },
            "/api/v1/clusters": {
                "get": {
                    "operationId": "listClusters",
                    "summary": "Recruiters named by several of the agency's reports.",
                    "description": (
                        "The identifiers (a recruiter's phone number, an agency's name) named by at least "
                        "`clusters.reports` of this agency's reports within the last `clusters.days` days (the "
                        "directory's `clusters:`), biggest first. Only reports routed to this agency count. The "
                        "same is pushed as `cluster.detected` to the agency's webhook, once for each new size."),
                    "security": bearer,
                    "responses": {
                        "200": {"description": "The agency's clusters.",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ClusterList"}}}},
                        "400": _error_response("A query parameter was given: this path takes none; `field` names it."),
                        "401": _UNAUTHORIZED,
                        "503": _UNAVAILABLE,
                    },
                },
            },
            "/api/v1/reports/{number}/events": {
                "parameters": [_NUMBER_PARAM],
                "post": {
                    "operationId": "addReportEvent",
                    "summary": "Record progress: a new status, a note, or both.",
                    "description": (
                        "Allowed status changes: new → acknowledged, in_progress, referred or closed; "
                        "acknowledged → in_progress, referred or closed; in_progress → referred or closed; "
                        "referred → in_progress or closed; closed → in_progress (reopened). Any other change, "
                        "or the status the report already has, is `409`. A status change is pushed to every "
                        "agency that has the report."),
                    "security": bearer,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/EventRequest"}}}},
                    "responses": {
                        "201": {"description": "Recorded; the report as it is now.",
                                "content": {"application/json": {"schema": report_ref}}},
                        "400": _BAD_BODY,
                        "401": _UNAUTHORIZED,
                        "404": _NOT_FOUND,
                        "409": _error_response("The report cannot move to that status from the one it has."),
                        "413": _TOO_LARGE,
                        "415": _NOT_JSON,
                        "503": _UNAVAILABLE,
                    },
                },
            },
            "/api/v1/reports/{number}/messages": {
                "parameters": [_NUMBER_PARAM],
                "post": {
                    "operationId": "messageReporter",
                    "summary": "Send an SMS to the reporter through the line.",
                    "description": (
                        "Only if the reporter allowed contact, the line still keeps their number, and they have "
                        "not sent STOP; else `409`. The number is never shown: the line sends the SMS. At most "
                        "3 SMS parts (459 GSM-7 characters, fewer in Khmer script); white space is collapsed. "
                        "Queued at once; it appears on the timeline as `message_sent`."),
                    "security": bearer,
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/MessageRequest"}}}},
                    "responses": {
                        "202": {"description": "Queued for sending; the report as it is now.",
                                "content": {"application/json": {"schema": report_ref}}},
                        "400": _BAD_BODY,
                        "401": _UNAUTHORIZED,
                        "404": _NOT_FOUND,
                        "409": _error_response("The reporter may not be contacted (no consent, STOP, or no number kept)."),
                        "413": _TOO_LARGE,
                        "415": _NOT_JSON,
                        "503": _UNAVAILABLE,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "The agency's token (the directory names the variable that holds it)."},
            },
            "schemas": {
                "Error": {
                    "type": "object", "required": ["error", "field"], "additionalProperties": False,
                    "properties": {"error": {"type": "string", "description": "What is wrong, in words."},
                                   "field": {"type": "string", "nullable": True,
                                             "description": "The parameter or body field at fault, or null."}},
                },
                "Area": _AREA,
                "TimelineEntry": _TIMELINE_ENTRY,
                "ReportSummary": {"type": "object", "required": _SUMMARY_REQUIRED, "properties": summary},
                "Report": {
                    "type": "object", "required": [*_SUMMARY_REQUIRED, "timeline", "links"],
                    "properties": {**summary,
                                   "timeline": {"type": "array", "description": "Oldest first.",
                                                "items": {"$ref": "#/components/schemas/TimelineEntry"}},
                                   "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"},
                                             "description": "Reports linked to this one that this agency may see "
                                                            "(confirmed first); `[]` when there are none."}},
                },
                "Link": _LINK,
                "Cluster": _CLUSTER,
                "ClusterList": {
                    "type": "object", "required": ["clusters"], "additionalProperties": False,
                    "properties": {"clusters": {"type": "array", "items": {"$ref": "#/components/schemas/Cluster"}}},
                },
                "ReportList": {
                    "type": "object", "required": ["reports", "page", "per_page", "total", "next"],
                    "properties": {
                        "reports": {"type": "array", "items": {"$ref": "#/components/schemas/ReportSummary"}},
                        "page": {"type": "integer", "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                        "total": {"type": "integer", "minimum": 0,
                                  "description": "Reports matching the filters, on every page."},
                        "next": {"type": "string", "nullable": True,
                                 "description": "The URL of the next page, or null on the last."},
                    },
                },
                "EventRequest": {
                    "type": "object", "additionalProperties": False, "minProperties": 1,
                    "description": "A status, a note, or both (at least one).",
                    "properties": {
                        "status": {"type": "string", "enum": list(STATUSES)},
                        "note": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE, "pattern": NOT_BLANK},
                    },
                },
                "MessageRequest": {
                    "type": "object", "additionalProperties": False, "required": ["text"],
                    "properties": {
                        "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": NOT_BLANK},
                    },
                },
            },
        },
    }


@lru_cache(maxsize=8)
def _document(types: tuple[str, ...]) -> dict:
    """The document for these report types, built once."""
    return _build(types)


def document(types: tuple[str, ...]) -> dict:
    """The OpenAPI document for a line with these report types (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document(tuple(types)))
