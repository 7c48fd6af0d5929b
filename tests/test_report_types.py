"""Report types come from config/flows.yaml alone: a type added there (with its words and a
contact that takes it) is asked, stored, routed on the queue its urgency names and listed by the
partner API, with no Python changed; a type that no contact takes fails the check."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from hotline import check, create_app, queues
from hotline import services as services_module
from hotline.models import Base, Report
from hotline.settings import ROOT, Settings
from tests.kit import NGO, run_worker, ussd

NEW_TYPE = """
  workplace:
    # Someone is kept at work against their will.
    urgent: true
    escalation: 30m
    questions:
      - {id: area, kind: area, prompt: q_area_workplace}
      - {id: consent, kind: consent, prompt: q_consent}
    done: done_report
"""

WORDS = {
    "en": {"menu_workplace": "Kept at work", "alert_type_workplace": "kept at work",
           "q_area_workplace": "Where is the workplace?"},
    "km": {"menu_workplace": "ជាប់ការងារ", "alert_type_workplace": "ជាប់ការងារ", "q_area_workplace": "កន្លែងការងារនៅណា?"},
}

LEADER = """  - id: kep-workplace-desk
    name: Kep desk (fictional)
    kind: leader
    phone: "+85512000777"
    language: en
    areas: ["23"]
    reports: [workplace]
"""


def _config(tmp_path, contact: bool) -> tuple:
    """A copy of the shipped configuration with report type 7 added (and a leader for it, or not)."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    flows = config / "flows.yaml"
    text = flows.read_text().replace("main_menu: [recruiter, missing, urgent, check, tips, language]",
                                     "main_menu: [recruiter, missing, urgent, check, tips, language, workplace]")
    flows.write_text(text.replace("\n  unsorted:\n", NEW_TYPE + "\n  unsorted:\n"))
    for lang, words in WORDS.items():
        path = config / "messages" / f"{lang}.yaml"
        path.write_text(path.read_text() + "".join(f"{k}: {v}\n" for k, v in words.items()))
    # Option 7 adds a "98 More" to the first screen: in Khmer (80 characters a USSD screen) some
    # words must shrink for options 1-6 to stay on its first page, or the check says so.
    km = config / "messages" / "km.yaml"
    km.write_text(km.read_text().replace("line_name: ខ្សែភូមិ", "line_name: ខ្សែ")
                  .replace("menu_recruiter: ការងារសង្ស័យ", "menu_recruiter: ការងារ")
                  .replace("err_choice: ជ្រើសខុស។", "err_choice: ខុស។"))
    directory = config / "directory.yaml"
    text = directory.read_text()
    # Every contact names the types it takes, so the new type reaches only whom the directory says.
    if contact:
        text = text.replace("  # ---- Agencies ----\n", LEADER + "  # ---- Agencies ----\n")
    directory.write_text(text)
    return config, directory


def test_a_type_no_contact_takes_fails_the_check(tmp_path, monkeypatch):
    config, directory = _config(tmp_path, contact=False)
    # The sample's leaders take every type by default: make them name theirs, as a real directory might.
    text = directory.read_text()
    text = text.replace("    kind: leader\n", "    kind: leader\n    reports: [recruiter, missing, urgent, unsorted]\n")
    directory.write_text(text.replace("    reports: [recruiter, missing, urgent, unsorted]\n    reports:", "    reports:"))
    monkeypatch.setattr(services_module, "CONFIG_DIR", config)
    result = check.run(Settings.from_env(environ={"HOTLINE_DIRECTORY": str(directory)}))
    assert any("no contact takes workplace reports" in p.message for p in result.errors), result.errors


@pytest.fixture
def line_with_type_7(tmp_path, monkeypatch, settings):
    """The app on the configuration with type 7 and a Kep leader who takes it."""
    config, directory = _config(tmp_path, contact=True)
    monkeypatch.setattr(services_module, "CONFIG_DIR", config)
    settings.directory_path = str(directory)
    assert check.run(settings).errors == []
    application = create_app({"settings": settings, "TESTING": True})
    s = application.extensions["hotline"]
    s.redis.flushdb()
    with s.db.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    from workers import context

    context.use(s)
    yield application, s
    context.use(None)
    s.close()


def test_a_type_added_in_flows_yaml_is_asked_stored_routed_urgently_and_listed(line_with_type_7, monkeypatch):
    app, s = line_with_type_7
    client = app.test_client()
    first = ussd(client, "ATUid_t7", "")
    assert "7 " in first or "98" in first                # on the menu (options 1-6 stay on page 1)
    for full in ("7", "7*23010101"):
        ussd(client, "ATUid_t7", full)
    end = ussd(client, "ATUid_t7", "7*23010101*2")
    assert end.startswith("END ") and s.engine.config.text("en", "promise_leader") in end or \
        s.engine.config.text("km", "promise_leader") in end
    with s.Session() as db:
        report = db.scalars(select(Report)).one()
    assert report.type == "workplace"
    assert queues.queue(queues.URGENT, s.redis).get_job_ids() == [f"route-{report.id}"]  # its urgency is data
    run_worker(s)
    from hotline.models import Alert

    with s.Session() as db:
        assert db.scalars(select(Alert.contact_id).where(Alert.report_id == report.id)).all() == ["kep-workplace-desk"]
    assert s.directory.escalation["workplace"] == 30 * 60
    monkeypatch.setenv("NGO_API_TOKEN", NGO)
    listed = client.get("/api/v1/reports?type=workplace", headers={"Authorization": f"Bearer {NGO}"})
    assert listed.status_code == 200                     # a known type to the API (the NGO sees none of them)
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "workplace" in doc["components"]["schemas"]["ReportSummary"]["properties"]["type"]["enum"]
