"""Dashboard figures, the CSV export and the SVG charts, over rows written straight to the database."""
from __future__ import annotations

import csv
import io
import itertools
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone

import pytest

from hotline import stats, svgchart
from hotline.areas import Gazetteer
from hotline.models import Alert, OutboundMessage, Report, ReportContact
from sqlalchemy import select

UTC = timezone.utc
TYPES = ("recruiter", "missing", "urgent", "unsorted")
"""The shipped types, in flows.yaml's order (the dashboard lists the line's types first)."""
NOW = datetime(2025, 3, 12, 15, 0, tzinfo=UTC)  # a Wednesday of ISO week 2025-W11
HOUR = 3600
SVG = "{http://www.w3.org/2000/svg}"
_numbers = itertools.count(1000000)


def at(day: int, month: int = 3, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=UTC)


def report(session, type_="recruiter", status="new", area="14010101", created=None, ack=None, closed=None,
           answers=None, language="km", channel="ussd", **extra) -> Report:
    row = Report(number=str(next(_numbers)), type=type_, status=status, area_code=area, answers=answers or {},
                 language=language, channel=channel, provider="console", created_at=created or NOW,
                 acknowledged_at=ack, closed_at=closed, routing="routed", **extra)
    session.add(row)
    session.flush()
    return row


def alert(session, report_id, provider, status, purpose="alert") -> None:
    n = next(_numbers)
    session.add(OutboundMessage(key=f"test:{n}", purpose=purpose, provider=provider, recipient=b"x",
                                recipient_hash=f"h{n}", report_id=report_id, body="alert", status=status))


def route(session, report_id, contact_id, kind="agency") -> None:
    session.add(ReportContact(report_id=report_id, contact_id=contact_id, kind=kind, level=0))


@pytest.fixture
def gazetteer(services) -> Gazetteer:
    return services.directory.gazetteer


@pytest.fixture
def period(services):
    """Reports around a 4-week period (2025-W08 .. W11), their alerts and routing."""
    with services.Session() as s:
        r = {
            # W11: acknowledged after 1 h, closed after 10 h
            "r1": report(s, "recruiter", "closed", "14010101", at(10, hour=8), at(10, hour=9), at(10, hour=18)),
            # W10, exactly on its Monday: acknowledged after 3 h, a province-only area
            "r2": report(s, "missing", "acknowledged", "14", at(3), at(3, hour=3)),
            # W08, exactly at the period's start: no area; acknowledged after 2 h, closed after 4 h
            "r3": report(s, "urgent", "closed", None, at(17, 2), at(17, 2, hour=2), at(17, 2, hour=4)),
            # W11: Phnom Penh, still new
            "r4": report(s, "unsorted", "new", "12", at(12, hour=14)),
            # W08: a province the gazetteer does not know
            "r5": report(s, "recruiter", "in_progress", "99010101", at(20, 2)),
            # one second before the period: open, but in no figure of the period
            "r6": report(s, "recruiter", "new", "14", at(16, 2, hour=23, minute=59, second=59), at(17, 2, hour=5)),
        }
        ids = {k: v.id for k, v in r.items()}
        for provider, status in [("twilio", "delivered"), ("twilio", "delivered"), ("twilio", "failed")]:
            alert(s, ids["r1"], provider, status)
        alert(s, ids["r1"], "twilio", "delivered", purpose="reply")  # not an alert
        alert(s, ids["r3"], "africastalking", "sent")
        alert(s, ids["r3"], "africastalking", "delivered")
        alert(s, ids["r2"], "console", "pending")
        alert(s, ids["r6"], "twilio", "failed")  # a report before the period
        alert(s, None, "twilio", "failed")  # no report
        route(s, ids["r1"], "ngo-safe-migration")
        route(s, ids["r3"], "ngo-safe-migration")
        route(s, ids["r6"], "ngo-safe-migration")
        route(s, ids["r1"], "duty-police-unit")
        route(s, ids["r2"], "pv-angkrong-village", kind="leader")
        s.commit()
    return ids


def by_type(**counts):
    return dict(dict.fromkeys(TYPES, 0), **counts)


# ---- dashboard -----------------------------------------------------------------------

def test_dashboard_every_figure(services, gazetteer, period):
    with services.Session() as s:
        d = stats.dashboard(s, None, gazetteer, weeks=4, now=NOW, types=TYPES)

    assert d["period"] == {"weeks": 4, "start": "2025-02-17T00:00:00+00:00", "end": "2025-03-17T00:00:00+00:00",
                           "now": NOW.isoformat()}
    assert d["types"] == ["recruiter", "missing", "urgent", "unsorted"]
    assert d["total"] == 5
    assert d["weekly"] == [
        {"week": "2025-W08", "start": "2025-02-17", "total": 2, "by_type": by_type(recruiter=1, urgent=1)},
        {"week": "2025-W09", "start": "2025-02-24", "total": 0, "by_type": by_type()},
        {"week": "2025-W10", "start": "2025-03-03", "total": 1, "by_type": by_type(missing=1)},
        {"week": "2025-W11", "start": "2025-03-10", "total": 2, "by_type": by_type(recruiter=1, unsorted=1)},
    ]
    assert d["provinces"] == [
        {"code": "12", "name_en": "Phnom Penh", "name_km": "ភ្នំពេញ", "total": 1, "by_type": by_type(unsorted=1)},
        {"code": "14", "name_en": "Prey Veng", "name_km": "ព្រៃវែង", "total": 2, "by_type": by_type(recruiter=1, missing=1)},
        {"code": "99", "name_en": None, "name_km": None, "total": 1, "by_type": by_type(recruiter=1)},
        {"code": None, "name_en": "Unknown place", "name_km": "មិនដឹងកន្លែង", "total": 1, "by_type": by_type(urgent=1)},
    ]
    assert d["status"] == {"open": 3, "closed": 2, "by_status": {"new": 1, "acknowledged": 1, "in_progress": 1,
                                                                 "referred": 0, "closed": 2}}
    assert d["open_now"] == 4  # r2, r4, r5 and the older r6
    assert d["timing"] == {"acknowledge": {"median_seconds": 2 * HOUR, "count": 3},  # 1 h, 3 h, 2 h
                           "close": {"median_seconds": 7 * HOUR, "count": 2}}  # (10 h + 4 h) / 2
    alerts = d["alerts"]
    assert list(alerts["providers"]) == ["africastalking", "console", "twilio"]
    assert alerts["providers"]["twilio"] == {
        "counts": {"pending": 0, "queued": 0, "sent": 0, "delivered": 2, "failed": 1}, "total": 3,
        "success_ratio": pytest.approx(2 / 3)}
    assert alerts["providers"]["africastalking"] == {
        "counts": {"pending": 0, "queued": 0, "sent": 1, "delivered": 1, "failed": 0}, "total": 2, "success_ratio": 1.0}
    assert alerts["providers"]["console"] == {
        "counts": {"pending": 1, "queued": 0, "sent": 0, "delivered": 0, "failed": 0}, "total": 1, "success_ratio": None}
    assert alerts["overall"] == {
        "counts": {"pending": 1, "queued": 0, "sent": 1, "delivered": 3, "failed": 1}, "total": 6, "success_ratio": 0.75}


def test_dashboard_agency_sees_only_its_reports(services, gazetteer, period):
    with services.Session() as s:
        d = stats.dashboard(s, "ngo-safe-migration", gazetteer, weeks=4, now=NOW, types=TYPES)
        police = stats.dashboard(s, "duty-police-unit", gazetteer, weeks=4, now=NOW, types=TYPES)
        leader = stats.dashboard(s, "pv-angkrong-village", gazetteer, weeks=4, now=NOW, types=TYPES)
        nobody = stats.dashboard(s, "no-such-agency", gazetteer, weeks=4, now=NOW, types=TYPES)

    assert d["total"] == 2
    assert [w["total"] for w in d["weekly"]] == [1, 0, 0, 1]
    assert d["weekly"][0]["by_type"] == by_type(urgent=1)
    assert [(p["code"], p["total"]) for p in d["provinces"]] == [("14", 1), (None, 1)]
    assert d["status"] == {"open": 0, "closed": 2, "by_status": {"new": 0, "acknowledged": 0, "in_progress": 0,
                                                                 "referred": 0, "closed": 2}}
    assert d["open_now"] == 1  # r6, before the period
    assert d["timing"]["acknowledge"] == {"median_seconds": 1.5 * HOUR, "count": 2}
    assert d["timing"]["close"] == {"median_seconds": 7 * HOUR, "count": 2}
    assert list(d["alerts"]["providers"]) == ["africastalking", "twilio"]
    assert d["alerts"]["overall"]["total"] == 5
    assert d["alerts"]["overall"]["success_ratio"] == 0.75

    assert police["total"] == 1 and police["alerts"]["overall"]["total"] == 3
    assert leader["total"] == 1 and leader["provinces"][0]["by_type"] == by_type(missing=1)
    assert nobody["total"] == 0 and nobody["open_now"] == 0 and nobody["alerts"]["providers"] == {}


def test_dashboard_of_an_empty_database(services, gazetteer):
    with services.Session() as s:
        d = stats.dashboard(s, None, gazetteer, now=NOW, types=TYPES)
    assert d["total"] == 0 and d["open_now"] == 0
    assert len(d["weekly"]) == 12
    assert d["weekly"][0] == {"week": "2024-W52", "start": "2024-12-23", "total": 0, "by_type": by_type()}
    assert d["weekly"][-1]["week"] == "2025-W11"
    assert d["provinces"] == []
    assert d["status"]["open"] == d["status"]["closed"] == 0
    assert d["timing"] == {"acknowledge": {"median_seconds": None, "count": 0},
                           "close": {"median_seconds": None, "count": 0}}
    assert d["alerts"]["providers"] == {}
    assert d["alerts"]["overall"] == {"counts": dict.fromkeys(stats.DELIVERY_STATUSES, 0), "total": 0,
                                      "success_ratio": None}


def test_dashboard_weeks_across_a_year_and_naive_now(services, gazetteer):
    with services.Session() as s:
        report(s, "recruiter", created=datetime(2024, 12, 30, 1, tzinfo=UTC))  # ISO 2025-W01
        report(s, "surprise", created=datetime(2024, 12, 29, 23, tzinfo=UTC))  # 2024-W52, a new type
        s.commit()
        d = stats.dashboard(s, None, gazetteer, weeks=2, now=datetime(2025, 1, 5, 23, 59))  # naive: UTC
    assert [(w["week"], w["start"], w["total"]) for w in d["weekly"]] == [("2024-W52", "2024-12-23", 1),
                                                                          ("2025-W01", "2024-12-30", 1)]
    assert d["types"][-1] == "surprise"
    assert d["weekly"][0]["by_type"]["surprise"] == 1
    with pytest.raises(ValueError):
        stats.dashboard(s, None, gazetteer, weeks=0, now=NOW, types=TYPES)


def test_weeks_and_days_are_the_lines_local_ones(services, gazetteer):
    from zoneinfo import ZoneInfo

    phnom_penh = ZoneInfo("Asia/Phnom_Penh")
    with services.Session() as s:
        report(s, "recruiter", created=datetime(2025, 3, 9, 20, tzinfo=UTC))  # Monday 03:00 in Phnom Penh
        s.commit()
        utc = stats.dashboard(s, None, gazetteer, weeks=2, now=NOW, types=TYPES)
        local = stats.dashboard(s, None, gazetteer, weeks=2, now=NOW, types=TYPES, tz=phnom_penh)
    assert [w["total"] for w in utc["weekly"]] == [1, 0]       # a Sunday evening in UTC: week 10
    assert [w["total"] for w in local["weekly"]] == [0, 1]     # a Monday morning where people read it: week 11
    assert local["period"]["start"] == "2025-03-03T00:00:00+07:00"
    assert local["period"]["now"] == "2025-03-12T22:00:00+07:00"


def delivery_alert(session, report_id, means, status, contact="ngo-safe-migration", attempts=1, error=None):
    session.add(Alert(report_id=report_id, contact_id=contact, means=means, level=0, kind="new", status=status,
                      attempts=attempts, error=error, delivery_id=f"d{next(_numbers)}"))
    session.flush()


def test_delivery_counts_every_means_and_never_says_all_delivered_while_webhooks_fail(services, gazetteer, period):
    with services.Session() as s:
        delivery_alert(s, period["r1"], "webhook", "failed", error="NGO_WEBHOOK_SECRET is not set: nothing was sent")
        delivery_alert(s, period["r3"], "webhook", "pending", error="webhook answered 500")
        delivery_alert(s, period["r3"], "email", "delivered", contact="migrant-tracing-service")
        failed_sms = s.scalar(select(OutboundMessage.id).where(OutboundMessage.report_id == period["r1"],
                                                               OutboundMessage.status == "failed"))
        s.commit()
        d = stats.dashboard(s, None, gazetteer, weeks=4, now=NOW, types=TYPES, dead={"sms": {failed_sms}})
    rows = {(r["means"], r["provider"]): r for r in d["delivery"]["rows"]}
    assert list(rows) == [("email", "migrant-tracing-service"), ("sms", "africastalking"), ("sms", "console"),
                          ("sms", "twilio"), ("webhook", "ngo-safe-migration")]
    assert rows[("sms", "twilio")] == {"means": "sms", "provider": "twilio", "delivered": 2, "waiting": 0,
                                        "retrying": 0, "failed": 0, "dead": 1, "total": 3,
                                        "success_ratio": pytest.approx(2 / 3)}
    webhook = rows[("webhook", "ngo-safe-migration")]
    assert (webhook["failed"], webhook["retrying"], webhook["success_ratio"]) == (1, 1, 0.0)
    overall = d["delivery"]["overall"]
    assert (overall["delivered"], overall["failed"], overall["dead"], overall["retrying"]) == (4, 1, 1, 1)
    assert overall["success_ratio"] == pytest.approx(4 / 7) and overall["success_ratio"] < 1


# ---- CSV export ------------------------------------------------------------------------

def rows(lines) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(lines))))


HEADER = ["number", "type", "type_code", "status", "status_code", "created_at", "acknowledged_at", "closed_at",
          "province", "province_code", "district", "district_code", "commune", "commune_code",
          "village", "village_code", "language", "language_code", "channel",
          "job", "job_code", "destination", "destination_code", "when", "when_code", "consent", "consent_code",
          "last_contact", "last_contact_code", "arranged_by", "arranged_by_code"]
ANSWERS_AT = HEADER.index("job")


@pytest.fixture
def exported(services):
    """Reports with free words, phone numbers and formula-looking values."""
    with services.Session() as s:
        full = report(s, "recruiter", "closed", "14010101", at(3, hour=8), at(3, hour=9), at(4, hour=10),
                      answers={"area": "14010101", "job": "job_factory", "destination": "dest_th", "when": "when_week",
                               "recruiter_phone": "+85512345678", "consent": True,
                               "recruiter_details": "=HYPERLINK(\"http://evil\") call him on 012 345 678"},
                      reporter_phone=b"encrypted-reporter", reporter_hash="f" * 64)
        odd = report(s, "missing", "new", "14", at(5, hour=12),
                     answers={"destination": "=cmd|' /C calc'!A0", "last_contact": "last_year",
                              "arranged_by": "my uncle Sok 097 111 2222", "consent": False},
                     language="=1+2", channel="@SUM(A1)")
        loose = report(s, "unsorted", "new", None, at(7, hour=6),
                       answers={"text": "-recruiter at the pagoda 015 999 888", "details": ["+more words"]})
        route(s, full.id, "ngo-safe-migration")
        s.commit()
        return {"full": full.number, "odd": odd.number, "loose": loose.number}


def test_csv_rows_without_personal_data(services, gazetteer, exported):
    with services.Session() as s:
        lines = list(stats.csv_export(s, None, gazetteer, {}))
    assert all(line.endswith("\r\n") for line in lines)
    table = rows(lines)
    assert table[0] == HEADER
    assert len(table) == 4
    full, odd, loose = (dict(zip(HEADER, row)) for row in table[1:])  # oldest first

    assert full == {
        "number": exported["full"], "type": "recruiter", "type_code": "recruiter", "status": "closed",
        "status_code": "closed",
        "created_at": "2025-03-03T08:00:00+00:00", "acknowledged_at": "2025-03-03T09:00:00+00:00",
        "closed_at": "2025-03-04T10:00:00+00:00",
        "province": "Prey Veng", "province_code": "14", "district": "Ba Phnum", "district_code": "1401",
        "commune": "Boeng Preah", "commune_code": "140101", "village": "Angkrong", "village_code": "14010101",
        "language": "km", "language_code": "km", "channel": "ussd",
        "job": "job_factory", "job_code": "job_factory", "destination": "dest_th", "destination_code": "dest_th",
        "when": "when_week", "when_code": "when_week", "consent": "yes", "consent_code": "yes",
        "last_contact": "", "last_contact_code": "", "arranged_by": "", "arranged_by_code": ""}
    # a province-only area; a value that is not an option key is left out, whatever it is
    assert (odd["province_code"], odd["province"], odd["district_code"], odd["village_code"]) == ("14", "Prey Veng", "", "")
    assert (odd["destination"], odd["last_contact_code"], odd["arranged_by"], odd["consent_code"]) == ("", "last_year", "", "no")
    assert odd["acknowledged_at"] == odd["closed_at"] == ""
    # formula-looking cells are quoted
    assert (odd["language_code"], odd["channel"]) == ("'=1+2", "'@SUM(A1)")
    assert [loose[k] for k in HEADER[8:16]] == [""] * 8
    assert [loose[k] for k in HEADER[ANSWERS_AT:]] == [""] * 12

    text = "".join(lines)
    for secret in ("85512345678", "012 345 678", "HYPERLINK", "evil", "pagoda", "015 999", "more words", "Sok",
                   "097", "calc", "encrypted-reporter", "f" * 64, "recruiter_phone", "recruiter_details"):
        assert secret not in text


def test_csv_injection_guard():
    for cell in ("=1+2", "+1", "-1", "@x", "\t=1", "\rx"):
        assert stats._safe(cell) == "'" + cell
    for cell in ("1", "a=b", "", None, " =1"):
        assert stats._safe(cell) == ("" if cell is None else cell)
    table = rows([stats._line(["=SUM(A1:A9)", "ok"])])
    assert table == [["'=SUM(A1:A9)", "ok"]]


def test_csv_filters_and_scoping(services, gazetteer, exported):
    def numbers(agency=None, **filters):
        with services.Session() as s:
            return [row[0] for row in rows(stats.csv_export(s, agency, gazetteer, filters))[1:]]

    assert numbers() == [exported["full"], exported["odd"], exported["loose"]]
    assert numbers(type="recruiter") == [exported["full"]]
    assert numbers(type=["missing", "unsorted"]) == [exported["odd"], exported["loose"]]
    assert numbers(status="new") == [exported["odd"], exported["loose"]]
    assert numbers(since="2025-03-05") == [exported["odd"], exported["loose"]]
    assert numbers(until=date(2025, 3, 5)) == [exported["full"], exported["odd"]]  # until is inclusive
    assert numbers(since=date(2025, 3, 4), until="2025-03-06", type="", status=None) == [exported["odd"]]
    assert numbers(since=datetime(2025, 3, 7, 23, tzinfo=UTC)) == [exported["loose"]]
    assert numbers("ngo-safe-migration") == [exported["full"]]
    assert numbers("ngo-safe-migration", status="new") == []
    assert numbers("no-such-agency") == []
    with pytest.raises(ValueError, match="unknown filter"):
        numbers(kind="recruiter")
    with pytest.raises(ValueError, match="since must be a date"):
        numbers(since="last week")


def test_csv_of_an_empty_database_is_its_header(services, gazetteer):
    with services.Session() as s:
        assert rows(stats.csv_export(s, None, gazetteer, {})) == [HEADER]


def test_csv_answers_follow_the_flows(services, gazetteer, exported):
    flows = services.engine.config.flows
    with services.Session() as s:
        table = rows(stats.csv_export(s, None, gazetteer, {"type": "recruiter"}, flows=flows))
    assert table[0] == HEADER  # the shipped flows ask exactly these choice and consent questions
    assert table[1][ANSWERS_AT + 1::2] == ["job_factory", "dest_th", "when_week", "yes", "", ""]


class KhmerWords(stats.CodeWords):
    """Words as a reader of another language gets them (here: marked, to be told apart from codes)."""

    lang = "km"

    def heading(self, column):
        return f"H:{column}"

    def type(self, code):
        return f"T:{code}"

    def status(self, code):
        return f"S:{code}"

    def answer(self, question, value):
        return f"A:{question}:{value}"


def test_csv_in_the_readers_words_and_the_lines_zone(services, gazetteer, exported):
    from zoneinfo import ZoneInfo

    phnom_penh = ZoneInfo("Asia/Phnom_Penh")
    flows = services.engine.config.flows
    with services.Session() as s:
        table = rows(stats.csv_export(s, None, gazetteer, {"type": "recruiter"}, flows=flows, tz=phnom_penh,
                                      words=KhmerWords()))
        late = rows(stats.csv_export(s, None, gazetteer, {"since": "2025-03-07", "until": "2025-03-07"}, tz=phnom_penh))
    assert table[0] == [f"H:{column}" for column in HEADER]
    full = dict(zip(HEADER, table[1]))
    assert (full["type"], full["type_code"], full["status"], full["status_code"]) == ("T:recruiter", "recruiter",
                                                                                      "S:closed", "closed")
    assert (full["created_at"], full["closed_at"]) == ("2025-03-03T15:00:00+07:00", "2025-03-04T17:00:00+07:00")
    assert (full["village"], full["province"]) == ("អង្ក្រង", "ព្រៃវែង")
    assert (full["job"], full["job_code"], full["consent"]) == ("A:job:job_factory", "job_factory", "A:consent:True")
    assert [row[0] for row in late[1:]] == [exported["loose"]]  # 06:00 UTC is 13:00 on the 7th in Phnom Penh


# ---- SVG charts ------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> & \' "'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert root[0].tag == SVG + "title"
    for element in root.iter():
        assert element.tag.startswith(SVG)
        assert element.tag not in (SVG + "script", SVG + "foreignObject", SVG + "a", SVG + "image", SVG + "use")
        assert not any(name.lower().startswith("on") or "href" in name for name in element.attrib)
    assert "<script" not in svg and "url(" not in svg and "javascript:" not in svg
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(SVG + "text")]


@pytest.mark.parametrize("stacked", [True, False])
def test_bar_chart_is_safe_well_formed_xml(stacked):
    svg = svgchart.bar_chart(HOSTILE, ["W10", "<b>W11</b>", "W12\x00"],
                             {"recruiter": [3, 0, 5], HOSTILE: [1, None, -2], "urgent": [float("nan"), 2]},
                             width=500, height=260, stacked=stacked)
    root = parse(svg)
    assert root.get("aria-label") == HOSTILE
    assert root.find(SVG + "title").text == HOSTILE
    assert root.get("width") == "500" and root.get("height") == "260"
    labels = texts(root)
    assert HOSTILE in labels and "<b>W11</b>" in labels and "W12" in labels  # legend and axis labels
    bars = [r.find(SVG + "title").text for r in root.iter(SVG + "rect") if r.find(SVG + "title") is not None]
    assert sorted(bars) == sorted(["W10 · recruiter: 3", "W12 · recruiter: 5", f"W10 · {HOSTILE}: 1",
                                   "<b>W11</b> · urgent: 2"])
    assert "&lt;script&gt;" in svg


def test_bar_chart_axis_and_heights():
    root = parse(svgchart.bar_chart("Reports", ["a", "b"], {"n": [10, 5]}, width=300, height=200))
    assert {"0", "10"} <= set(texts(root))
    heights = [float(r.get("height")) for r in root.iter(SVG + "rect")]
    assert heights[0] == pytest.approx(2 * heights[1], abs=0.2)  # one series: no legend swatch


def test_hbar_chart_is_safe_well_formed_xml():
    labels = ["Prey Veng", "ភ្នំពេញ", HOSTILE, "Unknown place"]
    root = parse(svgchart.hbar_chart("Reports by province", labels, [4, 2, 1, 0]))
    assert root.get("aria-label") == "Reports by province"
    assert "ភ្នំពេញ" in texts(root) and "4" in texts(root)
    assert any(t.startswith("<script>") for t in texts(root))  # shortened, but still only text
    assert len(list(root.iter(SVG + "rect"))) == 3  # no bar for zero
    stacked = parse(svgchart.hbar_chart("By type", ["14", "12"], {"recruiter": [1, 2], "missing": [3, 0]}))
    assert {"recruiter", "missing", "4", "2"} <= set(texts(stacked))


def test_charts_without_data():
    for svg in (svgchart.bar_chart("Nothing", [], {}), svgchart.bar_chart("Nothing", ["a"], {"n": [0]}),
                svgchart.hbar_chart("Nothing", [], [])):
        root = parse(svg)
        assert root.find(SVG + "title").text == "Nothing"


def test_dashboard_renders_as_charts(services, gazetteer, period):
    with services.Session() as s:
        d = stats.dashboard(s, None, gazetteer, weeks=4, now=NOW, types=TYPES)
    weekly = svgchart.bar_chart("Reports per week", [w["week"] for w in d["weekly"]],
                                {t: [w["by_type"][t] for w in d["weekly"]] for t in d["types"]})
    provinces = svgchart.hbar_chart("Reports per province", [p["name_en"] or p["code"] for p in d["provinces"]],
                                    {t: [p["by_type"][t] for p in d["provinces"]] for t in d["types"]})
    for svg in (weekly, provinces):
        parse(svg)
    assert "Prey Veng" in provinces and "99" in provinces and "2025-W09" in weekly
