"""The migrations build exactly the schema the models describe, and run down and up again."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from hotline.settings import ROOT


def test_models_and_migrations_agree(tmp_path):
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "hotline" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{tmp_path / 'm.db'}")
    command.upgrade(cfg, "head")
    command.check(cfg)                      # raises if autogenerate would find a difference
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")


def test_upgrading_a_database_that_holds_reports(tmp_path):
    """Migrations that rebuild tables (SQLite batch mode) keep the rows and their links."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'data.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "hotline" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0002")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO reports (id, number, type, status, answers, language, channel, provider, created_at, "
                          "updated_at, routing) VALUES (1, '1234567', 'urgent', 'new', '{}', 'en', 'ussd', 'x', "
                          "'2026-01-01', '2026-01-01', 'routed')"))
        conn.execute(text("INSERT INTO outbound_messages (id, key, purpose, provider, recipient, recipient_hash, report_id, "
                          "body, urgent, status, attempts, created_at, updated_at) VALUES (1, 'k', 'alert', 'console', "
                          "x'00', 'h', 1, 'b', 0, 'sent', 1, '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO alerts (id, report_id, contact_id, means, level, kind, outbound_id, created_at) "
                          "VALUES (1, 1, 'c', 'sms', 0, 'new', 1, '2026-01-01')"))
    command.upgrade(cfg, "head")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT status, attempts FROM alerts")).one() == ("pending", 0)
        assert conn.execute(text("SELECT number FROM reports")).scalar() == "1234567"
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []


def test_0005_gives_notes_written_before_it_their_writers_agency(tmp_path):
    """Notes are read by the writer's agency and line staff only: those written before 0005 learn
    whose they are from their actor (an agency's token, or a console user and that user's agency)."""
    import json

    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'notes.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "hotline" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "0004")
    engine = create_engine(url)
    events = [  # (actor, kind, data before, agency after: None is line staff's, "-" means no agency key)
        ("user:ngo-cw", "note", {"note": "met the family"}, "ngo-safe-migration"),
        ("agency:migrant-tracing-service", "note", {"note": "by the API"}, "migrant-tracing-service"),
        ("user:staff", "note", {"note": "line staff"}, None),
        ("user:ngo-cw", "status_changed", {"from": "new", "to": "in_progress", "note": "opened"}, "ngo-safe-migration"),
        ("contact:leader-1", "status_changed", {"from": "new", "to": "acknowledged"}, "-"),
        ("user:ngo-cw", "assigned", {"to": "ngo-cw"}, "-"),
    ]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO reports (id, number, type, status, answers, language, channel, provider, created_at, "
                          "updated_at, routing) VALUES (1, '1234567', 'missing', 'new', '{}', 'en', 'ussd', 'x', "
                          "'2026-01-01', '2026-01-01', 'routed')"))
        for name, agency in (("ngo-cw", "ngo-safe-migration"), ("staff", None)):
            conn.execute(text("INSERT INTO users (username, password_hash, role, agency_id, language, active, "
                              "must_change_password, created_at) VALUES (:n, 'x', 'caseworker', :a, 'en', 1, 0, "
                              "'2026-01-01')"), {"n": name, "a": agency})
        for i, (actor, kind, data, _) in enumerate(events):
            conn.execute(text("INSERT INTO report_events (id, report_id, kind, actor, data, created_at) "
                              "VALUES (:i, 1, :k, :a, :d, '2026-01-01')"), {"i": i, "k": kind, "a": actor,
                                                                           "d": json.dumps(data)})
    command.upgrade(cfg, "head")
    with engine.begin() as conn:
        stored = {i: json.loads(d) for i, d in conn.execute(text("SELECT id, data FROM report_events"))}
    for i, (_, _, data, agency) in enumerate(events):
        if agency == "-":
            assert stored[i] == data
        else:
            assert stored[i] == {**data, "agency": agency}
